"""The recognition function and its role: every statement exactly, nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from recognizer.contract import ENV_RESULTS_TABLE, SETTINGS
from recognizer.settings import load_settings
from tests.conftest import CUSTOM
from tests.infra.helpers import as_list, logical_id_of, only, resources, statements

ROLE = "RecognitionRole"


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template()


@pytest.fixture(scope="module")
def no_table(synth_template: Any) -> dict[str, Any]:
    return synth_template(results_table="false")


def _function(template: dict[str, Any]) -> dict[str, Any]:
    return only(template, "AWS::Lambda::Function", Handler="handler.lambda_handler")[1]["Properties"]


def test_runtime_architecture_and_limits(template: dict[str, Any]) -> None:
    function = _function(template)
    assert function["Runtime"] == "python3.14"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == 256
    assert function["Timeout"] == 60
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Role"] == {"Fn::GetAtt": [logical_id_of(template, ROLE), "Arn"]}


def test_memory_and_timeout_follow_context(synth_template: Any) -> None:
    function = _function(synth_template(**CUSTOM))
    assert (function["MemorySize"], function["Timeout"]) == (1024, 120)
    assert "TracingConfig" not in function


def test_environment_with_table(template: dict[str, Any]) -> None:
    assert _function(template)["Environment"]["Variables"] == {
        "DEDUP": "True",
        "MIN_CONFIDENCE": "0",
        "REKOGNITION_RETRY_MODE": "standard",
        "REKOGNITION_MAX_ATTEMPTS": "5",
        "METRICS_NAMESPACE": "CelebrityRecognition",
        "RESULTS_TABLE_NAME": {"Ref": logical_id_of(template, "ResultsTable")},
    }


def test_environment_carries_every_setting_the_function_reads(template: dict[str, Any]) -> None:
    variables = set(_function(template)["Environment"]["Variables"])
    assert variables == {s.env for s in SETTINGS if s.env} | {ENV_RESULTS_TABLE}


def test_native_json_logs_at_the_configured_level(synth_template: Any) -> None:
    properties = {
        "Handler": "handler.lambda_handler",
        "LoggingConfig": Match.object_like(
            {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}
        ),
    }
    Template.from_json(synth_template()).has_resource_properties("AWS::Lambda::Function", properties)
    debug = Template.from_json(synth_template(**CUSTOM))  # log_level debug
    properties["LoggingConfig"] = Match.object_like({"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    debug.has_resource_properties("AWS::Lambda::Function", properties)


def test_environment_without_table(no_table: dict[str, Any]) -> None:
    assert "RESULTS_TABLE_NAME" not in _function(no_table)["Environment"]["Variables"]


def test_dedup_false_reaches_the_function(synth_template: Any) -> None:
    variables = _function(synth_template(**CUSTOM))["Environment"]["Variables"]  # dedup false
    assert load_settings({k: v for k, v in variables.items() if isinstance(v, str)}).dedup is False


def test_own_log_group_with_retention(template: dict[str, Any]) -> None:
    log_group_id = logical_id_of(template, "RecognitionLogs")
    assert template["Resources"][log_group_id]["Properties"] == {"RetentionInDays": 30}
    assert _function(template)["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}


def test_async_failures_go_to_the_dead_letter_queue(template: dict[str, Any]) -> None:
    dlq = logical_id_of(template, "IngestionDeadLetterQueue")
    assert _function(template)["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq, "Arn"]}}


def test_role_trusts_only_lambda_and_has_no_managed_policy(template: dict[str, Any]) -> None:
    role = template["Resources"][logical_id_of(template, ROLE)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role


def _expected_statements(template: dict[str, Any], *, with_table: bool) -> list[dict[str, Any]]:
    def arn(prefix: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [logical_id_of(template, prefix), "Arn"]}

    expected = [
        {"Sid": "WriteOwnLogs", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": arn("RecognitionLogs")},
        # RecognizeCelebrities has no resource-level permissions.
        {"Sid": "RecognizeCelebrities", "Action": "rekognition:RecognizeCelebrities", "Effect": "Allow",
         "Resource": "*"},
        {"Sid": "ReadImages", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Effect": "Allow",
         "Resource": {"Fn::Join": ["", [arn("StorageImages"), "/*"]]}},
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": arn("IngestionDeadLetterQueue")},
        # X-Ray has no resource-level permissions either.
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Effect": "Allow", "Resource": "*"},
        {"Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl", "sqs:ReceiveMessage"], "Effect": "Allow",
         "Resource": arn("IngestionQueue")},
    ]  # fmt: skip
    if with_table:
        # TransactWriteItems' Puts are authorized as PutItem: it has no action of its own.
        expected.insert(3, {"Sid": "WriteResults", "Action": ["dynamodb:BatchGetItem", "dynamodb:PutItem"],
                            "Effect": "Allow", "Resource": arn("ResultsTable")})  # fmt: skip
    return expected


def test_every_role_statement_exactly_with_table(template: dict[str, Any]) -> None:
    assert statements(template, logical_id_of(template, ROLE)) == _expected_statements(
        template, with_table=True
    )


def test_every_role_statement_exactly_without_table(no_table: dict[str, Any]) -> None:
    actual = statements(no_table, logical_id_of(no_table, ROLE))
    assert actual == _expected_statements(no_table, with_table=False)
    assert not any("dynamodb" in action for s in actual for action in as_list(s["Action"]))


def test_no_role_statement_has_a_wildcard_action(template: dict[str, Any]) -> None:
    for statement in statements(template, logical_id_of(template, ROLE)):
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement


def test_production_has_no_function_but_ours(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Lambda::Function").values()
    descriptions = [function["Properties"]["Description"] for function in functions]
    assert descriptions == ["Recognizes celebrities in an S3 image with Amazon Rekognition"]
