"""The client, its test stack and the Rekognition stub agree with the real stack and the service.

The client's output names and the test stack (outputs, function environment, table schema) are
checked against the synthesized template, so a renamed output or a changed key schema fails here
rather than in front of a user; the stub's canned answers are checked against botocore's model of
RecognizeCelebrities, so the function is tested on answers the service can give.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from recognizer.contract import VIDEO_OUTPUTS, WATCHLIST_OUTPUTS, StackOutput
from tests.client.celeb_testkit import (
    KEYNOTE_FACES,
    function_environment,
    results_table_properties,
    stack_template,
)
from tests.integration.rekognition_stub import CELEBRITIES, ERRORS_BY_KEY, NO_FACES

# The stored-video outputs exist only with `-c video=true` (tests/client/test_video.py checks those).
# The watchlist's outputs exist only with -c watchlist=true (tests/client/test_watchlist.py's stack).
CLIENT_OUTPUTS = {str(output) for output in StackOutput} - VIDEO_OUTPUTS - WATCHLIST_OUTPUTS
# The client reads neither the cloud backfill's output here nor the dashboard's (operators open that).
LOCAL_OUTPUTS = CLIENT_OUTPUTS - {
    StackOutput.BACKFILL_STATE_MACHINE,
    StackOutput.DASHBOARD_NAME,
    StackOutput.DASHBOARD_URL,
}


@pytest.fixture(scope="module")
def synthesized(synth_template: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return synth_template()


def _only(template: dict[str, Any], resource_type: str, **properties: Any) -> dict[str, Any]:
    [found] = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == resource_type
        and all(resource["Properties"].get(name) == value for name, value in properties.items())
    ]
    return found


def test_client_output_names_are_the_synthesized_stacks(synthesized):
    # One synthesis (shared with the infra tests in a full run); the infra tests cover the variants.
    assert set(synthesized["Outputs"]) == CLIENT_OUTPUTS
    # The test stack stands for one without the cloud backfill (test_cloud_backfill deploys that).
    assert set(stack_template()["Outputs"]) == LOCAL_OUTPUTS
    assert set(stack_template(with_table=False)["Outputs"]) == LOCAL_OUTPUTS - {StackOutput.RESULTS_TABLE}


def test_test_stack_gives_the_function_the_synthesized_environment(synthesized):
    function = _only(synthesized, "AWS::Lambda::Function", Handler="handler.lambda_handler")
    variables = function["Environment"]["Variables"]
    # The table's name is a Ref at synthesis; the test stack fills in its own table's name.
    resolved = {name: "the-table" if isinstance(value, dict) else value for name, value in variables.items()}

    assert function_environment("the-table") == resolved


def test_test_stack_table_has_the_synthesized_schema(synthesized):
    table = _only(synthesized, "AWS::DynamoDB::Table")
    ours = results_table_properties()

    assert ours["KeySchema"] == table["KeySchema"]
    assert _sorted(ours["AttributeDefinitions"]) == _sorted(table["AttributeDefinitions"])
    assert [
        (index["IndexName"], index["KeySchema"], index["Projection"])
        for index in ours["GlobalSecondaryIndexes"]
    ] == [
        (index["IndexName"], index["KeySchema"], index["Projection"])
        for index in table["GlobalSecondaryIndexes"]
    ]


def _sorted(definitions: list[dict[str, str]]) -> list[str]:
    return sorted(json.dumps(definition, sort_keys=True) for definition in definitions)


def test_info_shows_the_test_stacks_outputs(cli, stack):
    result = cli("info", "--json")

    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)["outputs"]
    assert set(outputs) == LOCAL_OUTPUTS
    assert outputs[StackOutput.IMAGES_BUCKET] == stack.bucket
    assert outputs[StackOutput.RESULTS_TABLE] == stack.table
    assert outputs[StackOutput.FUNCTION_ARN] == stack.function_arn


@pytest.fixture(scope="module")
def recognize_celebrities() -> Any:
    return (
        botocore.session.get_session()
        .get_service_model("rekognition")
        .operation_model("RecognizeCelebrities")
    )


@pytest.mark.parametrize(
    "answer", [CELEBRITIES, NO_FACES, KEYNOTE_FACES], ids=["default", "no-faces", "keynote"]
)
def test_stub_answers_have_the_services_shape(recognize_celebrities, answer):
    report = ParamValidator().validate(answer, recognize_celebrities.output_shape)

    assert not report.has_errors(), report.generate_report()


def test_stub_errors_are_the_services_errors(recognize_celebrities):
    errors = {shape.name for shape in recognize_celebrities.error_shapes}

    assert {code for code, _ in ERRORS_BY_KEY.values()} | {"ThrottlingException"} <= errors
