"""The optional watchlist: collection, second consumer of the upload events, least-privilege role."""

from __future__ import annotations

from typing import Any

import pytest

from recognizer.contract import PERSON_INDEX, WATCHLIST_TTL_ATTRIBUTE
from stacks.config import ConfigError, load_config
from tests.conftest import VARIANTS
from tests.infra.helpers import logical_id_of, only, resources, statements

WATCHLIST = VARIANTS["watchlist"]


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template(**WATCHLIST)


@pytest.fixture(scope="module")
def dev(synth_template: Any) -> dict[str, Any]:
    return synth_template(watchlist="true", deployment="dev", watchlist_threshold="95.5")


def _function(template: dict[str, Any]) -> dict[str, Any]:
    return only(template, "AWS::Lambda::Function", Handler="watchlist.handler.lambda_handler")[1][
        "Properties"
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_nothing_of_the_watchlist_by_default(synth_template: Any) -> None:
    template = synth_template()
    assert not resources(template, "AWS::Rekognition::Collection")
    assert not any("Watchlist" in logical_id for logical_id in template["Resources"])
    table = only(template, "AWS::DynamoDB::Table")[1]["Properties"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-celebrity"]


def test_the_watchlist_needs_the_results_table() -> None:
    with pytest.raises(ConfigError, match="watchlist stores its matches in the results table"):
        load_config({"watchlist": "true", "results_table": "false"})


def test_collection_is_retained_in_prod_and_deleted_in_dev(
    template: dict[str, Any], dev: dict[str, Any]
) -> None:
    collection_id, collection = only(template, "AWS::Rekognition::Collection")
    assert collection["Properties"] == {"CollectionId": "CelebrityRecognition-watchlist"}
    assert (collection["DeletionPolicy"], collection["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert only(dev, "AWS::Rekognition::Collection")[1]["DeletionPolicy"] == "Delete"
    assert template["Outputs"]["WatchlistCollectionId"]["Value"] == {"Ref": collection_id}
    function_id = logical_id_of(template, "WatchlistFunction")
    assert template["Outputs"]["WatchlistFunctionName"]["Value"] == {"Ref": function_id}


def test_the_upload_rule_has_a_second_target_with_its_own_queue_and_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    rule = only(template, "AWS::Events::Rule")[1]["Properties"]
    queue, dlq = (
        logical_id_of(template, "WatchlistQueue"),
        logical_id_of(template, "WatchlistDeadLetterQueue"),
    )
    [target] = [t for t in rule["Targets"] if t["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert len(rule["Targets"]) == 2
    props = template["Resources"][queue]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq, "Arn"]}
    assert props["VisibilityTimeout"] == 6 * 60
    # TLS only, on both queues.
    for queue_id in (queue, dlq):
        [policy] = [
            p
            for p in resources(template, "AWS::SQS::QueuePolicy").values()
            if {"Ref": queue_id} in p["Properties"]["Queues"]
        ]
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    ]
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_role_has_exactly_these_statements_scoped_to_this_stack(template: dict[str, Any]) -> None:
    role = logical_id_of(template, "WatchlistRole")
    assert _function(template)["Role"] == {"Fn::GetAtt": [role, "Arn"]}
    found = {s.get("Sid", ",".join(sorted(_actions(s)))): s for s in statements(template, role)}
    collection = logical_id_of(template, "WatchlistCollection")
    assert found["SearchCollection"]["Action"] == "rekognition:SearchUsersByImage"
    assert found["SearchCollection"]["Resource"] == {"Fn::GetAtt": [collection, "Arn"]}
    assert (found["DetectFaces"]["Action"], found["DetectFaces"]["Resource"]) == (
        "rekognition:DetectFaces",
        "*",
    )
    assert found["WriteMatches"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert found["WriteMatches"]["Resource"] == {
        "Fn::GetAtt": [logical_id_of(template, "ResultsTable"), "Arn"]
    }
    assert found["ReadImages"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert found["PublishAlerts"] == {
        "Action": "sns:Publish", "Effect": "Allow", "Sid": "PublishAlerts",
        "Resource": {"Ref": logical_id_of(template, "WatchlistAlerts")},
    }  # fmt: skip
    assert set(found) == {
        "WriteOwnLogs", "DetectFaces", "SearchCollection", "ReadImages", "WriteMatches", "PublishAlerts",
        "sqs:SendMessage",  # failed asynchronous invocations to the dead-letter queue
        "xray:PutTelemetryRecords,xray:PutTraceSegments",
        "sqs:ChangeMessageVisibility,sqs:DeleteMessage,sqs:GetQueueAttributes,sqs:GetQueueUrl,sqs:ReceiveMessage",
    }  # fmt: skip
    # No collection-changing action anywhere: enrollment and deletion are the operator's, from the client.
    actions = {
        a for s in found.values() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not {"rekognition:IndexFaces", "rekognition:DeleteFaces", "rekognition:CreateUser"} & actions


def test_the_celebrity_function_gains_nothing(template: dict[str, Any]) -> None:
    role = logical_id_of(template, "RecognitionRole")
    actions = {str(s["Action"]) for s in statements(template, role)}
    assert not any("SearchUsersByImage" in a or "DetectFaces" in a for a in actions)


def test_function_environment_and_package(template: dict[str, Any], dev: dict[str, Any]) -> None:
    function = _function(template)
    assert function["Environment"]["Variables"] == {
        "WATCHLIST_COLLECTION_ID": {"Ref": logical_id_of(template, "WatchlistCollection")},
        "RESULTS_TABLE_NAME": {"Ref": logical_id_of(template, "ResultsTable")},
        "WATCHLIST_THRESHOLD": "99",
        "WATCHLIST_MATCH_RETENTION_DAYS": "365",
        "WATCHLIST_ALERT_TOPIC_ARN": {"Ref": logical_id_of(template, "WatchlistAlerts")},
        "METRICS_NAMESPACE": "CelebrityRecognition",
    }
    assert (function["Runtime"], function["Architectures"]) == ("python3.14", ["arm64"])
    variables = _function(dev)["Environment"]["Variables"]
    assert variables["WATCHLIST_THRESHOLD"] == "95.5" and "WATCHLIST_ALERT_TOPIC_ARN" not in variables


def test_alert_topic_is_encrypted_tls_only_and_emails_the_address(
    template: dict[str, Any], dev: dict[str, Any]
) -> None:
    topic_id = logical_id_of(template, "WatchlistAlerts")
    topic = template["Resources"][topic_id]["Properties"]
    assert "alias/aws/sns" in str(topic["KmsMasterKeyId"])
    [policy] = [
        p
        for p in resources(template, "AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    assert any(s["Effect"] == "Deny" for s in policy["Properties"]["PolicyDocument"]["Statement"])
    only(template, "AWS::SNS::Subscription", Protocol="email", Endpoint="security@example.com")
    assert not [t for t in resources(dev, "AWS::SNS::Topic") if "WatchlistAlerts" in t]


def test_alarms_on_the_watchlist_go_to_the_alarm_topic(template: dict[str, Any]) -> None:
    alarms = {
        k: v["Properties"]
        for k, v in resources(template, "AWS::CloudWatch::Alarm").items()
        if "Watchlist" in k
    }
    assert len(alarms) == 4
    dlq = logical_id_of(template, "WatchlistDeadLetterQueue")
    [dead_letters] = [
        a for a in alarms.values() if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert dead_letters["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    alarm_topic = logical_id_of(template, "AlarmsTopic")
    assert all(a["AlarmActions"] == [{"Ref": alarm_topic}] for a in alarms.values())


def test_results_table_gets_the_person_index_and_ttl(template: dict[str, Any], synth_template: Any) -> None:
    table = only(template, "AWS::DynamoDB::Table")[1]["Properties"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-celebrity", PERSON_INDEX]
    # TTL stays on without the watchlist: records written while it was on still expire.
    for variant in (table, only(synth_template(), "AWS::DynamoDB::Table")[1]["Properties"]):
        assert variant["TimeToLiveSpecification"] == {
            "AttributeName": WATCHLIST_TTL_ATTRIBUTE,
            "Enabled": True,
        }


def test_acknowledgements_match_when_the_cli_gives_an_environment(monkeypatch: Any) -> None:
    from stacks.app import create_app

    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    app = create_app({"aws:cdk:bundling-stacks": [], **WATCHLIST})
    # cdk-nag fails synthesis on any finding that no acknowledgement matches.
    assert app.synth().stacks[0].template["Resources"]
