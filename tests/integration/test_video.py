"""Stored video end to end on a moto server: start -> (stubbed) Rekognition job -> SNS -> SQS -> results.

Rekognition's video API is the HTTP stub's (tests/integration/rekognition_video_stub.py), reached
through AWS_ENDPOINT_URL_REKOGNITION; S3, DynamoDB, SQS and SNS (and SNS's delivery to SQS) are
moto's. The functions' code runs in this process with their environment as the stack writes it.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from recognizer import clients
from recognizer.contract import PARTITION_KEY, SORT_KEY, ImageRef, ResultStatus, image_pk, summary_sk
from recognizer.video.completion import handle_results
from recognizer.video.services import video_services
from recognizer.video.settings import load_video_settings
from recognizer.video.start import handle_start
from tests.handler.recognizer_testkit import create_results_table, eventbridge_event, sqs_event
from tests.handler.video_testkit import ROLE_ARN, mp4_bytes, video_environment
from tests.integration.moto_stack import function_python
from tests.integration.rekognition_stub import RekognitionStub
from tests.integration.rekognition_video_stub import FAILED_MESSAGE, VideoJobs, detections

pytestmark = pytest.mark.integration
_names = itertools.count()
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def video(
    moto_url: str, rekognition: RekognitionStub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_REKOGNITION": rekognition.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    clients.reset_clients()
    number = next(_names)
    session = boto3.session.Session()
    s3, sqs, sns = (session.client(service) for service in ("s3", "sqs", "sns"))
    bucket, timelines, table = f"videos-{number}", f"timelines-{number}", f"results-{number}"
    for name in (bucket, timelines):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    create_results_table(session.client("dynamodb"), table)
    start_queue = sqs.create_queue(QueueName=f"video-start-{number}")["QueueUrl"]
    completion_queue = sqs.create_queue(QueueName=f"video-completions-{number}")["QueueUrl"]
    completion_arn = sqs.get_queue_attributes(QueueUrl=completion_queue, AttributeNames=["QueueArn"])
    topic = sns.create_topic(Name=f"video-completions-{number}")["TopicArn"]
    # As the stack subscribes it: raw delivery, so the queue's body is Rekognition's notice itself.
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=completion_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    jobs = VideoJobs(rekognition, sns)
    environ = video_environment(
        RESULTS_TABLE_NAME=table,
        VIDEO_TOPIC_ARN=topic,
        VIDEO_ROLE_ARN=ROLE_ARN,
        VIDEO_START_QUEUE_URL=start_queue,
        VIDEO_TIMELINES_BUCKET=timelines,
        REKOGNITION_MAX_ATTEMPTS="1",
    )
    yield {
        "s3": s3,
        "sqs": sqs,
        "dynamodb": session.client("dynamodb"),
        "bucket": bucket,
        "table": table,
        "timelines": timelines,
        "start_queue": start_queue,
        "completion_queue": completion_queue,
        "jobs": jobs,
        "environ": environ,
    }
    for operation in (jobs.start, jobs.get):
        rekognition.operations.pop(
            f"RekognitionService.{operation.__name__.title()}CelebrityRecognition", None
        )
    clients.reset_clients()


def _upload(video: dict[str, Any], key: str, body: bytes | None = None) -> ImageRef:
    response = video["s3"].put_object(Bucket=video["bucket"], Key=key, Body=body or mp4_bytes())
    return ImageRef(video["bucket"], key, response["VersionId"])


def _start(video: dict[str, Any], ref: ImageRef, message_id: str = "m1") -> dict[str, Any]:
    event = eventbridge_event(ref.key, bucket=ref.bucket, version_id=ref.version_id)
    return handle_start(sqs_event((message_id, json.dumps(event))), None, environ=video["environ"])


def _deliver_completions(video: dict[str, Any], *, clock: Any = None) -> list[dict[str, Any]]:
    """Plays the completion queue's event source: receive, run the function, delete what it did."""
    sqs, url = video["sqs"], video["completion_queue"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    if not messages:
        return []
    event = sqs_event(*((m["MessageId"], m["Body"]) for m in messages))
    services = video_services(load_video_settings(video["environ"]))._replace(clock=clock)
    failed = {
        f["itemIdentifier"] for f in handle_results(event, None, services=services)["batchItemFailures"]
    }
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def _summary(video: dict[str, Any], ref: ImageRef) -> dict[str, Any]:
    key = {PARTITION_KEY: {"S": image_pk(ref.bucket, ref.key)}, SORT_KEY: {"S": summary_sk(ref.version_id)}}
    item = video["dynamodb"].get_item(TableName=video["table"], Key=key)["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_upload_to_timeline_through_sns_and_sqs(video: dict[str, Any]) -> None:
    jobs: VideoJobs = video["jobs"]
    jobs.page_size = 2  # 5 detections: three pages
    ref = _upload(video, "talks/Keynote.MOV")
    # The same upload event delivered twice: one job.
    assert _start(video, ref, "m1") == _start(video, ref, "m2") == {"batchItemFailures": []}
    [request] = jobs.starts
    assert request["Video"]["S3Object"] == {"Bucket": ref.bucket, "Name": ref.key, "Version": ref.version_id}
    [job_id] = jobs.jobs
    assert _summary(video, ref)["status"] == ResultStatus.IN_PROGRESS

    jobs.finish(job_id)  # Rekognition -> moto SNS -> moto SQS
    [notice] = _deliver_completions(video)
    assert (notice["JobId"], notice["Status"]) == (job_id, "SUCCEEDED")
    assert [get.get("NextToken") for get in jobs.gets] == [None, "2", "4"]
    summary = _summary(video, ref)
    assert summary["status"] == ResultStatus.SUCCEEDED and summary["detections"] == "5"
    [ada] = summary["celebrities"]
    assert ada["M"]["appearances"] == {"N": "5"} and ada["M"]["intervals"]["L"] == [
        {"L": [{"N": "0"}, {"N": "800"}]}
    ]
    timeline = json.loads(
        video["s3"].get_object(Bucket=video["timelines"], Key=f"timelines/{job_id}.json")["Body"].read()
    )
    assert len(timeline["detections"]) == 5


def test_failed_job_is_recorded_with_its_status_message(video: dict[str, Any]) -> None:
    ref = _upload(video, "broken.mp4")
    _start(video, ref)
    [job_id] = video["jobs"].jobs
    video["jobs"].finish(job_id)
    _deliver_completions(video)
    summary = _summary(video, ref)
    assert (summary["status"], summary["error_type"]) == (ResultStatus.FAILED, "VideoJobFailedError")
    assert FAILED_MESSAGE in summary["error_message"]


def test_a_lost_completion_is_found_by_the_sweep(video: dict[str, Any]) -> None:
    jobs: VideoJobs = video["jobs"]
    jobs.results = detections(3, name="Alan Turing", celebrity_id="9z8Y")
    ref = _upload(video, "lost.mp4")
    _start(video, ref)
    [job_id] = jobs.jobs
    jobs.lost.add(job_id)
    jobs.finish(job_id)  # SUCCEEDED, but no notice ever comes
    assert _deliver_completions(video) == []
    # The schedule rule's event, two hours later (the test environment's timeout is 60 minutes).
    video["sqs"].send_message(QueueUrl=video["completion_queue"], MessageBody=json.dumps(SCHEDULED))
    later = datetime.now(UTC) + timedelta(hours=2)
    _deliver_completions(video, clock=lambda: later)
    summary = _summary(video, ref)
    assert summary["status"] == ResultStatus.SUCCEEDED
    assert summary["celebrities"][0]["M"]["name"] == {"S": "Alan Turing"}


def test_limit_exceeded_puts_the_start_back_on_the_queue(video: dict[str, Any]) -> None:
    jobs: VideoJobs = video["jobs"]
    jobs.limit_exceeded = 1
    ref = _upload(video, "busy.mp4")
    assert _start(video, ref) == {"batchItemFailures": []}
    assert jobs.jobs == {}  # refused, not failed: nothing recorded
    attributes = video["sqs"].get_queue_attributes(
        QueueUrl=video["start_queue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    # Later, the delayed copy starts the job (delivered here by hand instead of waiting minutes).
    assert _start(video, ref) == {"batchItemFailures": []}
    assert len(jobs.jobs) == 1


def test_the_bundled_asset_serves_the_video_entry_points(bundled_function_dir: Path) -> None:
    """The video functions share the image function's asset: their handlers import there, with nothing else
    of this repository on the path (python -I), on the runtime's Python; -B: no bytecode in the asset."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import video_handler; "
        "print(video_handler.start, video_handler.results)"
    )
    done = subprocess.run(
        [function_python(), "-I", "-B", "-c", code, str(bundled_function_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "function start" in done.stdout and "function results" in done.stdout
