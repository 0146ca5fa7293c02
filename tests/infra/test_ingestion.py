"""The event path: image uploads -> encrypted queue -> function in batches; failures to a DLQ; alarms."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CUSTOM
from tests.infra.helpers import logical_id_of, only, resources

DEV = {"env": "dev", "alarm_email": "ops@example.com", "upload_prefix": "incoming/"}


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template()


@pytest.fixture(scope="module")
def dev(synth_template: Any) -> dict[str, Any]:
    return synth_template(**DEV)


def _queue(template: dict[str, Any], path: str) -> dict[str, Any]:
    return template["Resources"][logical_id_of(template, path)]["Properties"]


def test_queue_encrypted_visibility_and_redrive(template: dict[str, Any]) -> None:
    queue = _queue(template, "IngestionQueue")
    assert queue["SqsManagedSseEnabled"] is True
    # Six times the 60 s function timeout, plus the batching window.
    assert queue["VisibilityTimeout"] == 361
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [logical_id_of(template, "IngestionDeadLetterQueue"), "Arn"]},
        "maxReceiveCount": 3,
    }


def test_visibility_timeout_follows_function_timeout(synth_template: Any) -> None:
    queue = _queue(synth_template(**CUSTOM), "IngestionQueue")
    assert queue["VisibilityTimeout"] == 6 * 120 + 20
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 7


def test_dead_letter_queue_keeps_messages_fourteen_days(template: dict[str, Any]) -> None:
    dlq = _queue(template, "IngestionDeadLetterQueue")
    assert dlq == {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}


@pytest.mark.parametrize("path", ["IngestionQueue", "IngestionDeadLetterQueue"])
def test_queues_deny_plain_http(template: dict[str, Any], path: str) -> None:
    queue_id = logical_id_of(template, path)
    [policy] = [
        p["Properties"] for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]  # fmt: skip
    deny = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        }
    ]


def test_only_the_images_bucket_may_send_to_the_queue(template: dict[str, Any]) -> None:
    queue_id = logical_id_of(template, "IngestionQueue")
    [policy] = [
        p["Properties"] for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]  # fmt: skip
    [allow] = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [logical_id_of(template, "StorageImages"), "Arn"]}}
    }
    assert set(allow["Action"]) == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}


def _notification_filters(template: dict[str, Any]) -> list[dict[str, str]]:
    [notifications] = resources(template, "Custom::S3BucketNotifications").values()
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    queue_arn = {"Fn::GetAtt": [logical_id_of(template, "IngestionQueue"), "Arn"]}
    assert all(c["QueueArn"] == queue_arn and c["Events"] == ["s3:ObjectCreated:*"] for c in configs)
    return [{r["Name"]: r["Value"] for r in c["Filter"]["Key"]["FilterRules"]} for c in configs]


def test_notifications_for_each_image_suffix_in_both_cases(template: dict[str, Any]) -> None:
    assert _notification_filters(template) == [
        {"suffix": s} for s in (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
    ]


def test_notifications_honour_the_upload_prefix(dev: dict[str, Any]) -> None:
    filters = _notification_filters(dev)
    assert len(filters) == 6
    assert all(f["prefix"] == "incoming/" for f in filters)


def test_event_source_mapping(template: dict[str, Any]) -> None:
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"] == {
        "BatchSize": 10,
        "EventSourceArn": {"Fn::GetAtt": [logical_id_of(template, "IngestionQueue"), "Arn"]},
        "FunctionName": {"Ref": logical_id_of(template, "RecognitionFunction")},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumBatchingWindowInSeconds": 1,
        "ScalingConfig": {"MaximumConcurrency": 5},
    }


def test_event_source_mapping_follows_context(synth_template: Any) -> None:
    template = synth_template(**CUSTOM)
    props = only(template, "AWS::Lambda::EventSourceMapping")[1]["Properties"]
    assert (props["BatchSize"], props["MaximumBatchingWindowInSeconds"], props["ScalingConfig"]) == (
        100, 20, {"MaximumConcurrency": 12}
    )  # fmt: skip


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k.removeprefix("Alarms")[:-8]: v["Properties"]
        for k, v in resources(template, "AWS::CloudWatch::Alarm").items()
    }


def test_alarms(template: dict[str, Any]) -> None:
    alarms = _alarms(template)
    assert set(alarms) == {"DeadLetters", "FunctionErrors", "FunctionThrottles", "OldestUpload"}
    dlq = alarms["DeadLetters"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Threshold"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", 1
    )  # fmt: skip
    assert dlq["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {"Fn::GetAtt": [logical_id_of(template, "IngestionDeadLetterQueue"), "QueueName"]},
        }
    ]
    function = {"Name": "FunctionName", "Value": {"Ref": logical_id_of(template, "RecognitionFunction")}}
    assert (alarms["FunctionErrors"]["MetricName"], alarms["FunctionErrors"]["Dimensions"]) == (
        "Errors",
        [function],
    )
    assert (alarms["FunctionThrottles"]["MetricName"], alarms["FunctionThrottles"]["Dimensions"]) == (
        "Throttles", [function]
    )  # fmt: skip
    oldest = alarms["OldestUpload"]
    assert (oldest["MetricName"], oldest["Threshold"], oldest["ComparisonOperator"]) == (
        "ApproximateAgeOfOldestMessage", 600, "GreaterThanThreshold"
    )  # fmt: skip
    assert all("AlarmActions" not in a for a in alarms.values())
    assert not resources(template, "AWS::SNS::Topic")


def test_alarm_email_creates_an_ssl_only_topic_with_a_subscription(dev: dict[str, Any]) -> None:
    topic_id = logical_id_of(dev, "AlarmsTopic")
    [subscription] = resources(dev, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic_id}
    assert subscription["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [logical_id_of(dev, "AlarmsUndelivered"), "Arn"]}
    }
    assert all(a["AlarmActions"] == [{"Ref": topic_id}] for a in _alarms(dev).values())
    [policy] = resources(dev, "AWS::SNS::TopicPolicy").values()
    [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
