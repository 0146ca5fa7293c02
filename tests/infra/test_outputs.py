"""Outputs the `celeb` client and the README rely on; nothing environment-specific baked in."""

from __future__ import annotations

import json
import re
from typing import Any

from recognizer.contract import VIDEO_OUTPUTS, WATCHLIST_OUTPUTS, StackOutput
from tests.infra.helpers import logical_id_of

# The client finds every resource through these names: the stack must declare exactly the contract's.
# Only with -c watchlist=true (tests/infra/test_watchlist*.py), only with -c video=true
# (tests/infra/test_video.py).
WATCHLIST, VIDEO = WATCHLIST_OUTPUTS, VIDEO_OUTPUTS
COMMON = {str(output) for output in StackOutput} - {StackOutput.RESULTS_TABLE} - WATCHLIST - VIDEO


def test_outputs_with_table(synth_template: Any) -> None:
    template = synth_template()
    outputs = template["Outputs"]
    assert set(outputs) == {str(output) for output in StackOutput} - WATCHLIST - VIDEO
    assert outputs["ImagesBucketName"]["Value"] == {"Ref": logical_id_of(template, "StorageImages")}
    function_id = logical_id_of(template, "RecognitionFunction")
    assert outputs["FunctionName"]["Value"] == {"Ref": function_id}
    assert outputs["FunctionArn"]["Value"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert outputs["ResultsTableName"]["Value"] == {"Ref": logical_id_of(template, "ResultsTable")}


def test_outputs_without_table(synth_template: Any) -> None:
    assert set(synth_template(results_table="false")["Outputs"]) == COMMON


def test_no_hard_coded_account_region_or_arn(any_template: dict[str, Any]) -> None:
    text = json.dumps(any_template["Resources"])
    assert not re.search(r"\b\d{12}\b", text), "a 12-digit account id is baked into the template"
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text), "a region is baked in"
    assert "arn:aws:" not in text, "an ARN with a fixed partition is baked in"


def test_stack_name_is_configurable() -> None:
    from stacks.app import create_app

    app = create_app({"aws:cdk:bundling-stacks": [], "stack_name": "Celebs-Dev"})
    assert [s.stack_name for s in app.synth().stacks] == ["Celebs-Dev"]


def test_cdk_default_account_and_region_are_honoured(monkeypatch: Any) -> None:
    from stacks.app import create_app

    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    app = create_app({"aws:cdk:bundling-stacks": []})
    stack = app.node.find_child("CelebrityRecognition")
    assert (stack.account, stack.region) == ("111122223333", "eu-west-1")
    # The CLI sets these for every `cdk synth`/`deploy`: cdk-nag then prints findings with the literal
    # region and account, and every acknowledgement must still match (synthesis fails otherwise).
    assert app.synth().stacks[0].template["Resources"]
