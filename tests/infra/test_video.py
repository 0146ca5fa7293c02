"""Stored video in the template: rule, queues, topic and its key, Rekognition's role, functions, alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aws_cdk as cdk
import pytest
from moto.events.models import EventPattern

from recognizer.contract import (
    SETTINGS_BY_KEY,
    VIDEO_OUTPUTS,
    VIDEO_SWEEP_MINUTES,
    StackOutput,
    video_wait_minutes,
)
from stacks.app import create_app
from stacks.config import ConfigError
from stacks.video import SWEEP_MINUTES
from tests.conftest import VARIANTS
from tests.infra.helpers import as_list, logical_id_of, only, resources, statements
from tests.infra.test_security import wildcard_problems

VIDEO = VARIANTS["video"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template(**VIDEO)


@pytest.fixture(scope="module")
def prefixed(synth_template: Any) -> dict[str, Any]:
    return synth_template(video="true", upload_prefix="incoming/")


def _id(template: dict[str, Any], path: str) -> str:
    return logical_id_of(template, path)


def _arn(template: dict[str, Any], path: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [_id(template, path), "Arn"]}


def _props(template: dict[str, Any], path: str) -> dict[str, Any]:
    return template["Resources"][_id(template, path)]["Properties"]


def _actions(found: list[dict[str, Any]]) -> set[str]:
    return {action for statement in found for action in as_list(statement["Action"])}


# --- configuration ---------------------------------------------------------------------------------


def test_off_by_default(synth_template: Any) -> None:
    default = synth_template()
    assert not resources(default, "AWS::SNS::Topic") and not resources(default, "AWS::KMS::Key")
    assert not VIDEO_OUTPUTS & set(default["Outputs"])


def test_video_without_the_results_table_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'video'.*results_table"):
        create_app({"video": "true", "results_table": "false"})


def test_outputs_name_the_timelines_bucket_and_queues(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(outputs) >= VIDEO_OUTPUTS
    assert outputs["VideoTimelinesBucketName"]["Value"] == {"Ref": _id(template, "VideoTimelines")}
    assert outputs["VideoStartQueueUrl"]["Value"] == {"Ref": _id(template, "VideoStartQueue")}
    # What `celeb recognize` waits for and what the README's redrive of notices names.
    timeout = SETTINGS_BY_KEY["video_job_timeout_minutes"].default
    assert outputs[StackOutput.VIDEO_JOB_TIMEOUT_MINUTES]["Value"] == str(timeout)
    assert outputs[StackOutput.VIDEO_COMPLETION_DEAD_LETTER_QUEUE_URL]["Value"] == {
        "Ref": _id(template, "VideoCompletionDeadLetterQueue")
    }


# --- the event path --------------------------------------------------------------------------------

BUCKET = "images-bucket"


def _matcher(template: dict[str, Any], description_start: str) -> EventPattern:
    [rule] = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"].get("Description", "").startswith(description_start)
    ]
    bucket_ref = json.dumps({"Ref": _id(template, "StorageImages")})
    return EventPattern.load(json.dumps(rule["EventPattern"]).replace(bucket_ref, json.dumps(BUCKET)))


def _event(key: str) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": BUCKET},
            "object": {"key": quote_plus(key, safe="/"), "version-id": "v1"},
        },
    }


KEYS = ["clip.mp4", "Clip.MP4", "b roll.Mov", "photo.jpg", "clip.mp4.txt", "incoming/x.mOv", "notes.mp3"]


def test_video_rule_selects_video_suffixes_in_any_case(template: dict[str, Any]) -> None:
    video = _matcher(template, "Video uploads")
    assert [key for key in KEYS if video.matches_event(_event(key))] == [  # type: ignore[arg-type]
        "clip.mp4",
        "Clip.MP4",
        "b roll.Mov",
        "incoming/x.mOv",
    ]
    # The image rule still sees images only: a video never reaches RecognizeCelebrities.
    images = _matcher(template, "Image uploads")
    assert [key for key in KEYS if images.matches_event(_event(key))] == ["photo.jpg"]  # type: ignore[arg-type]


def test_video_rule_honours_the_upload_prefix(prefixed: dict[str, Any]) -> None:
    video = _matcher(prefixed, "Video uploads")
    assert [key for key in KEYS if video.matches_event(_event(key))] == ["incoming/x.mOv"]  # type: ignore[arg-type]


def test_rule_targets_the_start_queue_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    [target] = _props(template, "VideoUploads")["Targets"]
    assert target["Arn"] == _arn(template, "VideoStartQueue")
    assert target["DeadLetterConfig"] == {"Arn": _arn(template, "VideoStartDeadLetterQueue")}


@pytest.mark.parametrize(
    ("queue", "dead_letters"),
    [
        ("VideoStartQueue", "VideoStartDeadLetterQueue"),
        ("VideoCompletionQueue", "VideoCompletionDeadLetterQueue"),
    ],
)
def test_queues_are_encrypted_tls_only_with_dead_letter_queues(
    template: dict[str, Any], queue: str, dead_letters: str
) -> None:
    props = _props(template, queue)
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn(template, dead_letters),
        "maxReceiveCount": 3,
    }
    assert _props(template, dead_letters)["MessageRetentionPeriod"] == 14 * 24 * 3600
    for path in (queue, dead_letters):
        [policy] = [
            p["Properties"]
            for p in resources(template, "AWS::SQS::QueuePolicy").values()
            if p["Properties"]["Queues"] == [{"Ref": _id(template, path)}]
        ]
        denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_start_function_concurrency_is_the_job_cap(template: dict[str, Any]) -> None:
    start = _id(template, "VideoStartFunction")
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": start}
    ]
    assert mapping["EventSourceArn"] == _arn(template, "VideoStartQueue")
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


# --- the notification channel ----------------------------------------------------------------------


def test_topic_is_encrypted_with_a_rotated_key_and_tls_only(template: dict[str, Any]) -> None:
    topic = _props(template, "VideoCompletions")
    assert topic["KmsMasterKeyId"] == _arn(template, "VideoTopicKey")
    key = _props(template, "VideoTopicKey")
    assert key["EnableKeyRotation"] is True
    # KMS's default key policy: the account administers the key and IAM policies grant its use (only
    # the notification role's does). Its Resource "*" means this key, as in every key policy.
    root = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]
    }
    assert key["KeyPolicy"]["Statement"] == [
        {"Action": "kms:*", "Effect": "Allow", "Resource": "*", "Principal": {"AWS": root}}
    ]
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": _id(template, "VideoCompletions")}]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_topic_feeds_the_completion_queue_raw_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    _, subscription = only(template, "AWS::SNS::Subscription", Protocol="sqs")
    props = subscription["Properties"]
    assert (props["Protocol"], props["Endpoint"], props["RawMessageDelivery"]) == (
        "sqs",
        _arn(template, "VideoCompletionQueue"),
        True,
    )
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": _arn(template, "VideoCompletionDeadLetterQueue")}
    # Only this topic may send to the completion queue (SNS's statement carries the topic's ARN).
    [policy] = [
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": _id(template, "VideoCompletionQueue")}]
    ]
    [sns] = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]
    assert sns["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": _id(template, "VideoCompletions")}}}


def test_only_rekognition_of_this_account_assumes_the_notification_role(template: dict[str, Any]) -> None:
    role = _props(template, "VideoNotificationRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "rekognition.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":rekognition:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":*",
                ],
            ]
        }
    }
    assert "ManagedPolicyArns" not in role


def test_notification_role_may_only_publish_to_the_topic(template: dict[str, Any]) -> None:
    found = statements(template, _id(template, "VideoNotificationRole"))
    by_action = {
        action: statement["Resource"] for statement in found for action in as_list(statement["Action"])
    }
    assert by_action == {
        "sns:Publish": {"Ref": _id(template, "VideoCompletions")},
        "kms:Decrypt": _arn(template, "VideoTopicKey"),
        "kms:GenerateDataKey*": _arn(template, "VideoTopicKey"),
    }


def test_start_function_may_pass_only_the_notification_role_only_to_rekognition(
    template: dict[str, Any],
) -> None:
    found = statements(template, _id(template, "VideoStartRole"))
    [passing] = [s for s in found if "iam:PassRole" in as_list(s["Action"])]
    assert as_list(passing["Action"]) == ["iam:PassRole"]
    assert passing["Resource"] == _arn(template, "VideoNotificationRole")
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "rekognition.amazonaws.com"}}
    assert {a for a in _actions(found) if a.startswith("iam:")} == {"iam:PassRole"}


def test_each_function_has_only_its_own_rekognition_and_storage_actions(template: dict[str, Any]) -> None:
    start = _actions(statements(template, _id(template, "VideoStartRole")))
    results = _actions(statements(template, _id(template, "VideoResultsRole")))
    assert {a for a in start if a.startswith("rekognition:")} == {"rekognition:StartCelebrityRecognition"}
    assert {a for a in results if a.startswith("rekognition:")} == {"rekognition:GetCelebrityRecognition"}
    assert "s3:PutObject" not in start and "s3:GetObject" not in results
    [put] = [
        s for s in statements(template, _id(template, "VideoResultsRole")) if s["Action"] == "s3:PutObject"
    ]
    assert put["Resource"] == {"Fn::Join": ["", [_arn(template, "VideoTimelines"), "/timelines/*"]]}
    assert "iam:PassRole" not in results


def test_the_video_jobs_actions_are_the_only_ones_on_every_resource(template: dict[str, Any]) -> None:
    # test_security checks every variant, this one too; here, that it does see these statements.
    star = {
        action
        for role in ("VideoStartRole", "VideoResultsRole")
        for statement in statements(template, _id(template, role))
        if statement["Resource"] == "*"
        for action in as_list(statement["Action"])
    }
    assert star - {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} == {
        "rekognition:StartCelebrityRecognition",
        "rekognition:GetCelebrityRecognition",
    }
    assert wildcard_problems(template) == []


def test_sweep_runs_on_a_schedule_into_the_completion_queue(template: dict[str, Any]) -> None:
    sweep = _props(template, "VideoSweep")
    assert sweep["ScheduleExpression"] == "rate(10 minutes)"
    [target] = sweep["Targets"]
    assert target["Arn"] == _arn(template, "VideoCompletionQueue")
    assert target["DeadLetterConfig"] == {"Arn": _arn(template, "VideoCompletionDeadLetterQueue")}


def test_functions_get_their_environment(template: dict[str, Any]) -> None:
    start = _props(template, "VideoStartFunction")
    assert start["Handler"] == "video_handler.start"
    env = start["Environment"]["Variables"]
    assert env["VIDEO_TOPIC_ARN"] == {"Ref": _id(template, "VideoCompletions")}
    assert env["VIDEO_ROLE_ARN"] == _arn(template, "VideoNotificationRole")
    assert env["VIDEO_MAX_CONCURRENT_JOBS"] == "7"
    assert env["RESULTS_TABLE_NAME"] == {"Ref": _id(template, "ResultsTable")}
    results = _props(template, "VideoResultsFunction")
    assert results["Handler"] == "video_handler.results"
    assert results["Environment"]["Variables"]["VIDEO_JOB_TIMEOUT_MINUTES"] == "120"
    assert results["Environment"]["Variables"]["VIDEO_TIMELINES_BUCKET"] == {
        "Ref": _id(template, "VideoTimelines")
    }


@pytest.mark.parametrize(
    "path", ["VideoStartDeadLetters", "VideoCompletionDeadLetters", "VideoStartErrors", "VideoResultsErrors"]
)
def test_alarms_notify_the_alarm_topic(template: dict[str, Any], path: str) -> None:
    alarm = _props(template, path)
    [topic_id] = [k for k, r in resources(template, "AWS::SNS::Topic").items() if k.startswith("AlarmsTopic")]
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, 1)


def test_a_start_waiting_too_long_in_its_queue_raises_an_alarm(template: dict[str, Any]) -> None:
    """Deferred starts (LimitExceeded) and a start function that stopped consuming both show as age."""
    alarm = _props(template, "VideoOldestStart")
    [topic_id] = [k for k, r in resources(template, "AWS::SNS::Topic").items() if k.startswith("AlarmsTopic")]
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]  # the same topic as the other video alarms
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
    )
    queue_name = {"Fn::GetAtt": [_id(template, "VideoStartQueue"), "QueueName"]}
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    # Above one deferral's longest delay (15 minutes), so a start merely deferred once does not fire it.
    assert alarm["Threshold"] == 30 * 60 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_sweep_runs_more_often_than_the_shortest_timeout() -> None:
    """A job that outlives video_job_timeout_minutes is recorded within one sweep of it, whatever the
    setting: the sweep's period is below the smallest timeout the setting allows."""
    smallest = SETTINGS_BY_KEY["video_job_timeout_minutes"].low
    assert smallest is not None and SWEEP_MINUTES == VIDEO_SWEEP_MINUTES < smallest
    # The client's wait outlasts the timeout by at least two sweeps.
    assert video_wait_minutes(int(smallest)) >= smallest + 2 * SWEEP_MINUTES


def test_cdk_nag_passes_with_a_concrete_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    app = create_app({"aws:cdk:bundling-stacks": [], "video": "true"})
    assert app.synth().stacks[0].template["Resources"]


def test_acknowledgements_of_the_video_path(template: dict[str, Any]) -> None:
    app = create_app({"aws:cdk:bundling-stacks": [], "video": "true"})
    found = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if (
                entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
                and "/Video/" in construct.node.path
            ):
                found.setdefault(construct.node.path.split("/Video/")[1], set()).update(entry.data)
    assert found == {
        "StartDeadLetterQueue": {"Serverless::Serverless-SQSRedrivePolicy"},
        "CompletionDeadLetterQueue": {"Serverless::Serverless-SQSRedrivePolicy"},
        "StartFunction/Starts": {"Serverless::Serverless-LambdaEventSourceMappingDestination"},
        "ResultsFunction/Completions": {"Serverless::Serverless-LambdaEventSourceMappingDestination"},
        "StartRole/DefaultPolicy": {
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions::AwsSolutions-IAM5[Resource::<StorageImagesCFC0E004.Arn>/*]",
        },
        "ResultsRole/DefaultPolicy": {
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions::AwsSolutions-IAM5[Resource::<VideoTimelines9AB9B293.Arn>/timelines/*]",
        },
        "NotificationRole/DefaultPolicy": {"AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"},
    }
