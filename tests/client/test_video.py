"""`celeb recognize clip.mp4` and `celeb results --image clip.mp4` against the real video functions.

The stack is moto's (with the video outputs); Rekognition's video API is the HTTP stub's
(tests/integration/rekognition_video_stub.py). Before each read of the results table by the CLI
(botocore's `before-call` event on the CLI's own session), the test plays the cloud: the upload
event (only for keys under the stack's upload_prefix, as the rule) and the start queue's messages
reach the real start function, the stub's job ends and publishes to moto SNS, which delivers to the
completion queue, which the real results function drains. No code of ours is patched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from rich.console import Console

from celeb import render
from celeb.errors import ConfigProblem, ExitCode
from celeb.stack import StackOutputs
from celeb.video import wait_minutes
from recognizer import clients
from recognizer.contract import (
    SETTINGS_BY_KEY,
    VIDEO_OUTPUTS,
    VIDEO_WAIT_MARGIN_MINUTES,
    StackOutput,
    is_video_key,
)
from recognizer.video.completion import handle_results
from recognizer.video.start import handle_start
from tests.client.celeb_testkit import aws_client, results_table_properties
from tests.conftest import VARIANTS
from tests.handler.recognizer_testkit import eventbridge_event, sqs_event
from tests.handler.video_testkit import mp4_bytes, video_environment
from tests.integration.rekognition_stub import RekognitionStub
from tests.integration.rekognition_video_stub import FAILED_MESSAGE, VideoJobs, detections

STACK = "CelebrityRecognition"


@pytest.fixture
def cloud(rekognition_stub: RekognitionStub, cli_sessions: list[Any]) -> Iterator[dict[str, Any]]:
    """A stack with the video outputs, and a `play` that runs the cloud's side once.

    `cloud["mode"]`: "all" (default) plays everything before each read of the table by the CLI;
    "start" only runs the start function (the job then runs on); "none" nothing (a start that never
    runs, as one in the start dead-letter queue). `cloud["upload_prefix"]`: the rule's prefix.
    """
    cloudformation, sqs, sns = aws_client("cloudformation"), aws_client("sqs"), aws_client("sns")
    template = {
        "Resources": {
            "Images": {"Type": "AWS::S3::Bucket"},
            "Timelines": {"Type": "AWS::S3::Bucket"},
            "Results": {"Type": "AWS::DynamoDB::Table", "Properties": results_table_properties()},
            "StartQueue": {"Type": "AWS::SQS::Queue"},
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue"},
            "CompletionDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {
            str(name): {"Value": value}
            for name, value in {
                StackOutput.IMAGES_BUCKET: {"Ref": "Images"},
                StackOutput.FUNCTION_NAME: "Recognizer",
                StackOutput.RESULTS_TABLE: {"Ref": "Results"},
                StackOutput.VIDEO_TIMELINES_BUCKET: {"Ref": "Timelines"},
                StackOutput.VIDEO_START_QUEUE_URL: {"Ref": "StartQueue"},
                StackOutput.VIDEO_DEAD_LETTER_QUEUE_URL: {"Ref": "DeadLetterQueue"},
                StackOutput.VIDEO_JOB_TIMEOUT_MINUTES: "60",
                StackOutput.VIDEO_COMPLETION_DEAD_LETTER_QUEUE_URL: {"Ref": "CompletionDeadLetterQueue"},
            }.items()
        },
    }
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    names = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
    }
    aws_client("s3").put_bucket_versioning(
        Bucket=names["Images"], VersioningConfiguration={"Status": "Enabled"}
    )
    start_queue = sqs.get_queue_url(QueueName=names["StartQueue"].rsplit("/", 1)[-1])["QueueUrl"]
    completions = sqs.create_queue(QueueName=f"completions-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=completions, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name="video-completions")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    jobs = VideoJobs(rekognition_stub, sns)
    environ = video_environment(
        RESULTS_TABLE_NAME=names["Results"],
        VIDEO_TOPIC_ARN=topic,
        VIDEO_START_QUEUE_URL=start_queue,
        VIDEO_TIMELINES_BUCKET=names["Timelines"],
    )
    clients.reset_clients()  # the functions' clients, built from this test's AWS_* environment
    started: set[str] = set()
    state: dict[str, Any] = {"mode": "all", "upload_prefix": "", "reads": 0}

    def play(mode: str = "all") -> None:
        """The cloud between two polls: upload events and start requests, finished jobs, notices."""
        if mode == "none":
            return
        s3 = aws_client("s3")
        for version in s3.list_object_versions(Bucket=names["Images"]).get("Versions", []):
            if version["VersionId"] in started or not version["Key"].startswith(state["upload_prefix"]):
                continue  # the rule matches keys under the stack's upload_prefix only
            if is_video_key(version["Key"]):
                started.add(version["VersionId"])
                event = eventbridge_event(
                    version["Key"], bucket=names["Images"], version_id=version["VersionId"]
                )
                handle_start(sqs_event(("upload", json.dumps(event))), None, environ=environ)
        requests = sqs.receive_message(QueueUrl=start_queue, MaxNumberOfMessages=10).get("Messages", [])
        if requests:
            handle_start(sqs_event(*((m["MessageId"], m["Body"]) for m in requests)), None, environ=environ)
            for message in requests:
                sqs.delete_message(QueueUrl=start_queue, ReceiptHandle=message["ReceiptHandle"])
        if mode == "start":
            return
        for job_id, job in jobs.jobs.items():
            if job["status"] == "IN_PROGRESS":
                jobs.finish(job_id)
        notices = sqs.receive_message(QueueUrl=completions, MaxNumberOfMessages=10).get("Messages", [])
        if notices:
            handle_results(sqs_event(*((m["MessageId"], m["Body"]) for m in notices)), None, environ=environ)

    def before_read(**kwargs: Any) -> None:
        state["reads"] += 1
        if state["reads"] > 20:  # the cloud settles every job within a read or two
            raise AssertionError("the video never settled")
        play(state["mode"])

    cli_sessions.append(lambda session: session.events.register("before-call.dynamodb.GetItem", before_read))
    state |= {"jobs": jobs, "names": names, "play": play, "start_queue": start_queue}
    yield state
    for operation in ("Start", "Get"):
        rekognition_stub.operations.pop(f"RekognitionService.{operation}CelebrityRecognition", None)
    clients.reset_clients()


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "keynote.mp4", body: bytes | None = None) -> Path:
        path = tmp_path / name
        path.write_bytes(body if body is not None else mp4_bytes())
        return path

    return make


def test_recognize_a_video_waits_and_prints_its_timeline(cli, cloud, clip) -> None:
    cloud["jobs"].results = detections(4) + detections(2, name="Alan Turing", celebrity_id="9z8Y")
    result = cli("recognize", "--prefix", "talks/", str(clip("Keynote.MP4")))
    assert result.exit_code == 0, result.output + result.stderr
    [request] = cloud["jobs"].starts
    assert request["Video"]["S3Object"]["Name"] == "talks/Keynote.MP4"
    assert cloud["reads"]  # it read the table until the job settled
    out = result.stdout
    assert "Ada Lovelace" in out and "Alan Turing" in out and "0:00.0-0:00.6" in out
    assert f"timelines/{next(iter(cloud['jobs'].jobs))}.json" in out

    # Later, from the table.
    later = cli("results", "--image", "talks/Keynote.MP4")
    assert later.exit_code == 0, later.output
    assert "SUCCEEDED" in later.stdout and "Ada Lovelace" in later.stdout and "Appearances" in later.stdout
    # And by celebrity, through the same index as images.
    by_name = cli("results", "--celebrity", "Alan Turing", "--json")
    assert [item["key"] for item in json.loads(by_name.stdout)["items"]] == ["talks/Keynote.MP4"]
    assert "video: 0:00.0-0:00.2, 2 appearances" in cli("results", "--celebrity", "Alan Turing").stdout


def test_no_wait_returns_the_job_reference(cli, cloud, clip) -> None:
    cloud["mode"] = "none"  # nothing has run yet when the client looks
    result = cli("recognize", "--no-wait", "--json", str(clip()))
    assert result.exit_code == 0, result.output
    [video] = json.loads(result.stdout)["videos"]
    assert video["key"] == "keynote.mp4" and video["version_id"] and "waiting" in video["state"]
    assert video["job_id"] is None and cloud["jobs"].starts == []
    # The client asked the start queue itself (not only the upload event).
    [request] = aws_client("sqs").receive_message(QueueUrl=cloud["start_queue"])["Messages"]
    assert json.loads(request["Body"]) == {
        "bucket": cloud["names"]["Images"],
        "object_name": "keynote.mp4",
        "version_id": video["version_id"],
    }
    cloud["play"]()  # the job runs without anyone watching
    later = cli("results", "--image", "keynote.mp4", "--json")
    [item] = json.loads(later.stdout)["items"]
    assert (item["status"], item["media"], item["version_id"]) == ("SUCCEEDED", "video", video["version_id"])


def test_no_wait_names_the_job_once_it_started(cli, cloud, clip) -> None:
    cloud["mode"] = "start"  # the start function runs before the client reads; the job runs on
    result = cli("recognize", "--no-wait", str(clip()))
    assert result.exit_code == 0, result.output
    [job_id] = cloud["jobs"].jobs
    assert (
        "keynote.mp4 version " in result.stdout and f"job {job_id}: Rekognition job {job_id}" in result.stdout
    )
    as_json = cli("recognize", "--no-wait", "--json", f"s3://{cloud['names']['Images']}/keynote.mp4")
    [video] = json.loads(as_json.stdout)["videos"]
    assert (video["job_id"], video["status"]) == (job_id, "IN_PROGRESS")


def test_a_stack_with_an_upload_prefix_still_starts_the_job(cli, cloud, clip) -> None:
    """The rule only sees keys under upload_prefix; the client's own start request does not depend on it."""
    cloud["upload_prefix"] = "incoming/"
    cloud["jobs"].results = detections(2)
    result = cli("recognize", str(clip("Keynote.mp4")))  # the default --prefix "": outside the rule
    assert result.exit_code == 0, result.output + result.stderr
    [request] = cloud["jobs"].starts
    assert request["Video"]["S3Object"]["Name"] == "Keynote.mp4"
    assert "Ada Lovelace" in result.stdout


def test_a_start_that_never_runs_gives_up_at_the_deadline(cli, cloud, clip) -> None:
    """A start waiting in the start DLQ settles nothing: the wait ends with a clear error, exit 1."""
    cloud["mode"] = "none"
    result = cli("recognize", "--wait-minutes", "0.005", str(clip()))
    assert result.exit_code == ExitCode.FAILED
    assert f"error: {clip()}: gave up waiting after 0.005 minutes: no result for" in result.stderr
    assert "waiting for the job to start" in result.stderr
    assert "celeb results --image s3://" in result.stderr and "VideoDeadLetterQueueUrl" in result.stderr
    as_json = cli("recognize", "--wait-minutes", "0", "--json", str(clip()))
    assert as_json.exit_code == ExitCode.FAILED
    [video] = json.loads(as_json.stdout)["videos"]
    assert video["key"] == "keynote.mp4" and "gave up waiting" in video["error"]


def test_the_wait_defaults_to_the_stacks_timeout_plus_the_margin() -> None:
    def outputs(**values: str) -> StackOutputs:
        return StackOutputs(stack_name=STACK, region="us-east-1", status="CREATE_COMPLETE", values=values)

    assert wait_minutes(outputs(VideoJobTimeoutMinutes="60")) == 60 + VIDEO_WAIT_MARGIN_MINUTES
    default = SETTINGS_BY_KEY["video_job_timeout_minutes"].default
    assert wait_minutes(outputs()) == default + VIDEO_WAIT_MARGIN_MINUTES  # a stack from before the output
    with pytest.raises(ConfigProblem, match="VideoJobTimeoutMinutes='soon': expected a whole number"):
        wait_minutes(outputs(VideoJobTimeoutMinutes="soon"))


def test_a_box_without_its_sides_is_shown_not_a_traceback() -> None:
    console = Console(record=True, width=200)
    celebrity = {
        "name": "Ada Lovelace", "id": "A1", "urls": [], "known_gender": None, "confidence": 93.0,
        "best_ms": 600, "bounding_box": {"left": 0.1}, "first_seen_ms": 0, "last_seen_ms": 600,
        "appearances": 4, "intervals": [[0, 600]], "interval_count": 1,
    }  # fmt: skip
    result: Any = {
        "bucket": "b", "key": "k.mp4", "version_id": "v", "job_id": "j", "celebrities": [celebrity],
        "detections": 4, "duration_ms": None, "timeline": None, "analyzed_at": "2026-11-26T21:19:22Z",
        "celebrity_count": 3,
    }  # fmt: skip
    render.print_video_result(console, result)
    text = console.export_text()
    assert "box without top, width, height" in text
    assert "3 celebrities" in text and "the 1 seen most often below; every one in the full timeline" in text


def test_a_failed_job_is_one_error_line(cli, cloud, clip) -> None:
    result = cli("recognize", str(clip("broken.mov")))
    assert result.exit_code == ExitCode.FAILED
    assert (
        f"error: {clip('broken.mov')}: VideoJobFailedError" in result.stderr
        and FAILED_MESSAGE in result.stderr
    )


def test_a_video_rekognition_would_refuse_fails_before_any_job(cli, cloud, clip) -> None:
    result = cli("recognize", str(clip("hevc.mp4", mp4_bytes("hvc1"))))
    assert result.exit_code == ExitCode.FAILED
    assert "UnsupportedVideoCodecError" in result.stderr and cloud["jobs"].starts == []


def test_an_s3_uri_asks_the_start_queue(cli, cloud) -> None:
    bucket = cloud["names"]["Images"]
    aws_client("s3").put_object(Bucket=bucket, Key="archive/old.mp4", Body=mp4_bytes())
    result = cli("recognize", f"s3://{bucket}/archive/old.mp4")
    assert result.exit_code == 0, result.output + result.stderr
    assert "Ada Lovelace" in result.stdout


def test_a_video_in_another_bucket_is_a_usage_error(cli, cloud) -> None:
    result = cli("recognize", "s3://someone-elses-bucket/clip.mp4")
    assert result.exit_code == ExitCode.USAGE
    assert f"s3://{cloud['names']['Images']}/ only" in result.stderr
    assert cloud["jobs"].starts == []


def test_not_a_video_file_is_a_usage_error_before_any_upload(cli, cloud, clip) -> None:
    result = cli("recognize", str(clip("notes.mp4", b"just text, not a video")))
    assert result.exit_code == ExitCode.USAGE
    assert "not an MP4 or MOV file" in result.stderr


def test_a_stack_without_video_says_how_to_deploy_it(cli, stack, clip) -> None:
    result = cli("recognize", str(clip()))
    assert result.exit_code == ExitCode.CONFIG
    assert "-c video=true" in result.stderr


def test_the_test_stacks_video_outputs_are_the_synthesized_stacks(synth_template) -> None:
    synthesized = synth_template(**VARIANTS["video"])
    assert set(synthesized["Outputs"]) >= VIDEO_OUTPUTS  # the client's wait reads the job timeout


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "IN_PROGRESS"])
def test_stub_video_answers_have_the_services_shape(rekognition_stub, status) -> None:
    model = botocore.session.get_session().get_service_model("rekognition")
    jobs = VideoJobs(rekognition_stub, sns=None, page_size=2)
    try:
        code, started = jobs.start(
            {
                "Video": {
                    "S3Object": {"Bucket": "b-1", "Name": "broken.mp4" if status == "FAILED" else "a.mp4"}
                },
                "NotificationChannel": {"SNSTopicArn": "t", "RoleArn": "r"},
            }
        )
        assert code == 200
        job = jobs.jobs[started["JobId"]]
        job["status"] = status
        answers = [
            started,
            jobs.get({"JobId": started["JobId"], "MaxResults": 1000})[1],
            jobs.get({"JobId": started["JobId"], "NextToken": "2"})[1],
        ]
    finally:
        for operation in ("Start", "Get"):
            rekognition_stub.operations.pop(f"RekognitionService.{operation}CelebrityRecognition", None)
    outputs = [model.operation_model("StartCelebrityRecognition").output_shape] + 2 * [
        model.operation_model("GetCelebrityRecognition").output_shape
    ]
    for answer, shape in zip(answers, outputs, strict=True):
        report = ParamValidator().validate(answer, shape)
        assert not report.has_errors(), report.generate_report()
    errors = {shape.name for shape in model.operation_model("StartCelebrityRecognition").error_shapes}
    assert {"LimitExceededException", "InvalidParameterException"} <= errors
