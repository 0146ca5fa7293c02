"""The event path: S3 -> EventBridge rule -> encrypted queue -> function in batches; DLQs; archive; alarms."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from stacks.app import create_app
from stacks.config import ConfigError
from stacks.ingestion import MAX_EVENT_PATTERN_CHARS, check_pattern_size, upload_event_pattern
from tests.conftest import CUSTOM
from tests.infra.helpers import logical_id_of, only, resources

DEV = {"deployment": "dev", "alarm_email": "ops@example.com", "upload_prefix": "incoming/"}
IMAGE_SUFFIX_MATCHERS = [
    {"suffix": {"equals-ignore-case": ".jpg"}},
    {"suffix": {"equals-ignore-case": ".jpeg"}},
    {"suffix": {"equals-ignore-case": ".png"}},
]


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template()


@pytest.fixture(scope="module")
def dev(synth_template: Any) -> dict[str, Any]:
    return synth_template(**DEV)


def _queue(template: dict[str, Any], path: str) -> dict[str, Any]:
    return template["Resources"][logical_id_of(template, path)]["Properties"]


def _arn(template: dict[str, Any], path: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id_of(template, path), "Arn"]}


def _queue_policy(template: dict[str, Any], path: str) -> list[dict[str, Any]]:
    queue_id = logical_id_of(template, path)
    [policy] = [
        p["Properties"] for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]  # fmt: skip
    return policy["PolicyDocument"]["Statement"]


def _rule(template: dict[str, Any]) -> dict[str, Any]:
    return only(template, "AWS::Events::Rule")[1]["Properties"]


# --- queues ------------------------------------------------------------------------------------


def test_queue_encrypted_visibility_and_redrive(template: dict[str, Any]) -> None:
    queue = _queue(template, "IngestionQueue")
    assert queue["SqsManagedSseEnabled"] is True
    # Six times the 60 s function timeout, plus the batching window.
    assert queue["VisibilityTimeout"] == 361
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn(template, "IngestionDeadLetterQueue"),
        "maxReceiveCount": 3,
    }


def test_visibility_timeout_follows_function_timeout(synth_template: Any) -> None:
    queue = _queue(synth_template(**CUSTOM), "IngestionQueue")
    assert queue["VisibilityTimeout"] == 6 * 120 + 20
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 7


def test_dead_letter_queue_keeps_messages_fourteen_days(template: dict[str, Any]) -> None:
    dlq = _queue(template, "IngestionDeadLetterQueue")
    assert dlq == {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}


def test_delivery_dead_letter_queue_is_encrypted_and_keeps_messages_fourteen_days(
    template: dict[str, Any],
) -> None:
    dlq = _queue(template, "IngestionDeliveryDeadLetterQueue")
    assert dlq == {
        "MessageRetentionPeriod": 14 * 24 * 3600,
        "SqsManagedSseEnabled": True,
        # What a person receives from it without deleting moves on to the upload DLQ in the end.
        "RedrivePolicy": {
            "deadLetterTargetArn": _arn(template, "IngestionDeadLetterQueue"),
            "maxReceiveCount": 3,
        },
    }


@pytest.mark.parametrize(
    "path", ["IngestionQueue", "IngestionDeadLetterQueue", "IngestionDeliveryDeadLetterQueue"]
)
def test_queues_deny_plain_http(template: dict[str, Any], path: str) -> None:
    deny = [s for s in _queue_policy(template, path) if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": _arn(template, path),
        }
    ]


def test_only_the_upload_rule_may_send_to_the_queue(template: dict[str, Any]) -> None:
    [allow] = [s for s in _queue_policy(template, "IngestionQueue") if s["Effect"] == "Allow"]
    assert allow == {
        "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
        "Condition": {"ArnEquals": {"aws:SourceArn": _arn(template, "IngestionUploads")}},
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Resource": _arn(template, "IngestionQueue"),
    }
    # S3 no longer writes to any queue itself.
    assert "s3.amazonaws.com" not in json.dumps(resources(template, "AWS::SQS::QueuePolicy"))


def test_only_the_upload_rule_may_send_to_the_delivery_dead_letter_queue(template: dict[str, Any]) -> None:
    [allow] = [
        s for s in _queue_policy(template, "IngestionDeliveryDeadLetterQueue") if s["Effect"] == "Allow"
    ]
    assert {k: v for k, v in allow.items() if k != "Sid"} == {
        "Action": "sqs:SendMessage",
        "Condition": {"ArnEquals": {"aws:SourceArn": _arn(template, "IngestionUploads")}},
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Resource": _arn(template, "IngestionDeliveryDeadLetterQueue"),
    }


def test_upload_dead_letter_queue_admits_nothing_but_tls(template: dict[str, Any]) -> None:
    # The function reaches it through its role; no service or rule sends to it directly.
    assert [s["Effect"] for s in _queue_policy(template, "IngestionDeadLetterQueue")] == ["Deny"]


# --- S3 -> EventBridge -------------------------------------------------------------------------


def test_images_bucket_sends_its_events_to_eventbridge(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::S3::Bucket",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}},
    )
    # Only the images bucket: the access-log bucket's events interest nobody.
    images = _queue(template, "StorageImages")
    assert images["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert "NotificationConfiguration" not in _queue(template, "StorageAccessLogs")


@pytest.mark.parametrize("variant", [{}, {"results_table": "false"}], ids=["default", "no_table"])
def test_production_has_no_notification_custom_resource_and_no_managed_policy(
    synth_template: Any, variant: dict[str, str]
) -> None:
    template = synth_template(**variant)
    assembled = Template.from_json(template)
    assembled.resource_count_is("Custom::S3BucketNotifications", 0)
    assembled.resource_count_is("AWS::Lambda::Function", 1)
    assert ":iam::aws:policy/" not in json.dumps(template)
    assert not [r for r in template["Resources"].values() if "ManagedPolicyArns" in r.get("Properties", {})]


def test_dev_keeps_only_the_auto_delete_helper(dev: dict[str, Any]) -> None:
    assert not resources(dev, "Custom::S3BucketNotifications")
    functions = sorted(resources(dev, "AWS::Lambda::Function"))
    assert len(functions) == 2
    assert functions[0].startswith("CustomS3AutoDeleteObjectsCustomResourceProviderHandler"), functions
    assert functions[1] == logical_id_of(dev, "RecognitionFunction")


# --- the rule ----------------------------------------------------------------------------------


def test_rule_matches_image_uploads_of_this_bucket_in_any_case(template: dict[str, Any]) -> None:
    rule = _rule(template)
    assert "EventBusName" not in rule, "S3 publishes to the default bus"
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": logical_id_of(template, "StorageImages")}]},
            "object": {"key": IMAGE_SUFFIX_MATCHERS},
        },
    }


def _case_spellings(suffix: str) -> set[str]:
    spellings = {""}
    for char in suffix:
        spellings = {s + c for s in spellings for c in {char.lower(), char.upper()}}
    return spellings


def test_rule_with_an_upload_prefix_uses_one_wildcard_per_spelling(dev: dict[str, Any]) -> None:
    pattern = _rule(dev)["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"] == {"name": [{"Ref": logical_id_of(dev, "StorageImages")}]}
    wildcards = [matcher["wildcard"] for matcher in pattern["detail"]["object"]["key"]]
    expected = {f"incoming/*{s}" for suffix in (".jpg", ".jpeg", ".png") for s in _case_spellings(suffix)}
    assert len(wildcards) == len(expected) == 32
    assert set(wildcards) == expected


def test_rule_target_is_the_queue_with_its_own_dead_letter_queue_and_retries(
    template: dict[str, Any],
) -> None:
    [target] = _rule(template)["Targets"]
    assert target == {
        "Arn": _arn(template, "IngestionQueue"),
        "DeadLetterConfig": {"Arn": _arn(template, "IngestionDeliveryDeadLetterQueue")},
        "Id": "Target0",
        "RetryPolicy": {"MaximumEventAgeInSeconds": 24 * 3600, "MaximumRetryAttempts": 185},
    }


# Evaluating the synthesized patterns: moto's matcher is the one its EventBridge delivers with
# (its TestEventPattern API is a stub that answers nothing), so the same code decides here and in
# the integration tests. Keys are given as uploaded and matched as S3 publishes them, URL-encoded.
BUCKET = "images-bucket"


def _event(
    key: str, *, bucket: str = BUCKET, detail_type: str = "Object Created", source: str = "aws.s3"
) -> dict:
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": detail_type,
        "source": source, "account": "111122223333", "time": "2026-11-26T11:29:25Z", "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0", "bucket": {"name": bucket},
            "object": {"key": quote_plus(key, safe="/"), "size": 5, "version-id": "IYV3p45BT0ac8hjHg1houSd",
                       "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333", "reason": "PutObject",
        },
    }  # fmt: skip


def _matcher(template: dict[str, Any]) -> EventPattern:
    bucket_ref = json.dumps({"Ref": logical_id_of(template, "StorageImages")})
    return EventPattern.load(
        json.dumps(_rule(template)["EventPattern"]).replace(bucket_ref, json.dumps(BUCKET))
    )


def _matching(pattern: EventPattern, keys: list[str]) -> list[str]:
    return [key for key in keys if pattern.matches_event(_event(key))]  # type: ignore[arg-type]


ANY_FOLDER_IMAGES = [
    "photo.jpg",
    "photo.Jpg",
    "A.PNG",
    "b.JpEg",
    "red flower.jpeg",
    "café/Zoë 😀.png",
    "a+b%.jpg",
]
KEYS = [
    *ANY_FOLDER_IMAGES,
    "notes.txt", "photo.jpg.txt", "photo.jpgx", "jpg", "png.gif", "photo.jpg ",
    "incoming/x.jpg", "incoming/deeper/Y.PNG", "incoming/red flower+1%.JPEG", "incoming/notes.txt",
    "Incoming/x.jpg", "other/incoming/x.jpg", "incoming.jpg",
]  # fmt: skip


def test_pattern_without_prefix_selects_every_image_suffix_in_any_case(template: dict[str, Any]) -> None:
    assert _matching(_matcher(template), KEYS) == [
        *ANY_FOLDER_IMAGES,
        "incoming/x.jpg", "incoming/deeper/Y.PNG", "incoming/red flower+1%.JPEG",
        "Incoming/x.jpg", "other/incoming/x.jpg", "incoming.jpg",
    ]  # fmt: skip


def test_pattern_with_prefix_selects_images_under_the_prefix_only(dev: dict[str, Any]) -> None:
    assert _matching(_matcher(dev), KEYS) == [
        "incoming/x.jpg",
        "incoming/deeper/Y.PNG",
        "incoming/red flower+1%.JPEG",
    ]


@pytest.mark.parametrize("variant", ["template", "dev"])
def test_pattern_selects_only_object_created_events_of_this_bucket(
    variant: str, request: pytest.FixtureRequest
) -> None:
    pattern = _matcher(request.getfixturevalue(variant))
    key = "incoming/x.jpg"
    assert pattern.matches_event(_event(key))  # type: ignore[arg-type]
    for other in (
        _event(key, bucket="someone-elses-bucket"),
        _event(key, detail_type="Object Deleted"),
        _event(key, source="my.app"),
    ):
        assert not pattern.matches_event(other)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "spelled"), [("a*b/", "a%2Ab/"), ("date=2026(x)/", "date%3D2026%28x%29/")]
)
def test_the_prefix_is_spelled_as_s3_encodes_keys(prefix: str, spelled: str) -> None:
    # The stack's rule is this function's pattern (the dev variant's test above checks it with its
    # prefix); here, the spellings of prefixes with characters S3 encodes, without a synthesis each.
    pattern = upload_event_pattern(BUCKET, prefix)
    wildcards = [matcher["wildcard"] for matcher in pattern["detail"]["object"]["key"]]
    assert all(w.startswith(f"{spelled}*.") for w in wildcards)
    under, beside = f"{prefix}deep/x.PnG", f"{prefix.replace(prefix[1], 'X')}x.png"
    matcher = EventPattern.load(json.dumps(pattern))
    assert _matching(matcher, [under, beside, f"{prefix}x.png"]) == [under, f"{prefix}x.png"]


def test_a_prefix_whose_pattern_exceeds_eventbridges_quota_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=rf"'upload_prefix'.*{MAX_EVENT_PATTERN_CHARS}-character quota"):
        create_app({"aws:cdk:bundling-stacks": [], "upload_prefix": "a/" * 20})


def test_the_longest_accepted_prefix_fits_the_quota_with_the_longest_bucket_name() -> None:
    prefix = "p" * 34
    check_pattern_size(prefix)  # accepted
    assert len(json.dumps(upload_event_pattern("b" * 63, prefix))) <= MAX_EVENT_PATTERN_CHARS


# --- archive -----------------------------------------------------------------------------------


def test_archive_keeps_the_rules_events_on_the_default_bus_for_a_week(template: dict[str, Any]) -> None:
    _, archive = only(template, "AWS::Events::Archive")
    Template.from_json(template).has_resource_properties(
        "AWS::Events::Archive",
        {
            "RetentionDays": 7,
            "EventPattern": _rule(template)["EventPattern"],
            "SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":events:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":event-bus/default",
                    ],
                ]
            },
        },
    )
    assert archive["Properties"].get("KmsKeyIdentifier", "") == ""  # AWS owned key


def test_archive_retention_follows_the_setting(synth_template: Any) -> None:
    Template.from_json(synth_template(**CUSTOM)).has_resource_properties(  # event_archive_days 30
        "AWS::Events::Archive",
        {"RetentionDays": 30, "EventPattern": Match.object_like({"source": ["aws.s3"]})},
    )


def test_no_archive_when_turned_off(synth_template: Any) -> None:
    template = synth_template(event_archive_days="0")
    assert not resources(template, "AWS::Events::Archive")
    assert _rule(template)["Targets"][0]["Arn"] == _arn(template, "IngestionQueue")


# --- event source mapping ----------------------------------------------------------------------


def test_event_source_mapping(template: dict[str, Any]) -> None:
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"] == {
        "BatchSize": 10,
        "EventSourceArn": _arn(template, "IngestionQueue"),
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


# --- alarms ------------------------------------------------------------------------------------


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k.removeprefix("Alarms")[:-8]: v["Properties"]
        for k, v in resources(template, "AWS::CloudWatch::Alarm").items()
    }


def _depth_alarm(alarm: dict[str, Any], template: dict[str, Any], queue_path: str) -> None:
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1
    )  # fmt: skip
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id_of(template, queue_path), "QueueName"]}}
    ]


def test_alarms(template: dict[str, Any]) -> None:
    alarms = _alarms(template)
    assert set(alarms) == {
        "DeadLetters", "DeliveryDeadLetters", "FunctionErrors", "FunctionThrottles", "OldestUpload"
    }  # fmt: skip
    _depth_alarm(alarms["DeadLetters"], template, "IngestionDeadLetterQueue")
    _depth_alarm(alarms["DeliveryDeadLetters"], template, "IngestionDeliveryDeadLetterQueue")
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
    alarms = _alarms(dev)
    assert "DeliveryDeadLetters" in alarms
    assert all(a["AlarmActions"] == [{"Ref": topic_id}] for a in alarms.values())
    [policy] = resources(dev, "AWS::SNS::TopicPolicy").values()
    [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
