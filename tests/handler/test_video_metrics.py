"""The video functions' figures: EMF on their own log lines, checked with the image path's EMF checker.

The real start and results functions run against moto (S3, DynamoDB, SQS) and botocore's Stubber
for Rekognition; each counted outcome's line must be a valid EMF document publishing exactly its
metric (the contract's VideoMetricName, Count) per FunctionName in the `metrics_namespace`.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from recognizer import clients, metrics
from recognizer.contract import METRIC_FUNCTION_DIMENSION, FailureCause, ImageRef, VideoMetricName
from recognizer.video.completion import handle_results
from recognizer.video.start import handle_start
from tests.handler.recognizer_testkit import (
    BUCKET,
    WHEN,
    as_lambda_json,
    create_results_table,
    eventbridge_event,
    sqs_event,
)
from tests.handler.test_metrics import assert_emf, directives_by_metric, unit_of
from tests.handler.video_testkit import (
    TIMELINES,
    job_page,
    mp4_bytes,
    notice,
    recognition,
    video_services,
)

FUNCTION = "CelebrityRecognition-VideoStartFunction-AbC123"
NAMESPACE = "Team/Video"
WHEN_MS = int(WHEN.timestamp() * 1000)


@pytest.fixture
def setup(versioned: Any, rekognition: Stubber, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv(metrics.FUNCTION_NAME_ENV, FUNCTION)  # what Lambda sets
    versioned.create_bucket(Bucket=TIMELINES)
    dynamodb = clients.dynamodb()
    create_results_table(dynamodb)
    sqs = clients.sqs()
    queue_url = sqs.create_queue(QueueName="video-start")["QueueUrl"]
    services = video_services(
        versioned,
        rekognition.client,
        dynamodb,
        sqs,
        VIDEO_START_QUEUE_URL=queue_url,
        METRICS_NAMESPACE=NAMESPACE,
    )
    return {"s3": versioned, "services": services}


def _upload(s3: Any, key: str, body: bytes | None = None) -> ImageRef:
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body or mp4_bytes())["VersionId"]
    return ImageRef(BUCKET, key, version)


def _start_message(ref: ImageRef) -> dict[str, Any]:
    return sqs_event(("m1", json.dumps(eventbridge_event(ref.key, version_id=ref.version_id))))


def _metric_lines(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    lines = [as_lambda_json(record) for record in records if record.name == "recognizer"]
    return [line for line in lines if "_aws" in line]


def _only_metric(caplog: pytest.LogCaptureFixture, name: VideoMetricName) -> dict[str, Any]:
    [line] = _metric_lines(caplog.records)
    assert assert_emf(line) == {str(name): 1}
    assert directives_by_metric(line)[name] == [[METRIC_FUNCTION_DIMENSION]]  # the only dimension
    assert unit_of(line, name) == "Count"
    assert {d["Namespace"] for d in line["_aws"]["CloudWatchMetrics"]} == {NAMESPACE}
    assert line[METRIC_FUNCTION_DIMENSION] == FUNCTION and line["_aws"]["Timestamp"] == WHEN_MS
    return line


def test_the_names_are_the_ones_the_dashboard_graphs() -> None:
    assert {str(name) for name in VideoMetricName} == {
        "VideoJobsStarted",
        "VideoStartsDeferred",
        "VideoJobsSucceeded",
        "VideoJobsFailed",
    }


def test_a_started_job_is_counted(
    setup: dict[str, Any], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    rekognition.add_response("start_celebrity_recognition", {"JobId": "job-1"})
    handle_start(_start_message(ref), None, services=setup["services"])
    line = _only_metric(caplog, VideoMetricName.JOBS_STARTED)
    assert (line["outcome"], line["job_id"], line["key"]) == ("started", "job-1", "clip.mp4")


def test_a_deferred_start_is_counted(
    setup: dict[str, Any], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    rekognition.add_client_error("start_celebrity_recognition", service_error_code="LimitExceededException")
    handle_start(_start_message(ref), None, services=setup["services"])
    line = _only_metric(caplog, VideoMetricName.STARTS_DEFERRED)
    assert line["deferrals"] == 1


def test_a_refused_video_is_counted_as_failed(
    setup: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ref = _upload(setup["s3"], "clip.mp4", mp4_bytes("hvc1"))
    handle_start(_start_message(ref), None, services=setup["services"])
    line = _only_metric(caplog, VideoMetricName.JOBS_FAILED)
    assert line["error_type"] == "UnsupportedVideoCodecError"


@pytest.mark.parametrize(
    ("status", "name"),
    [("SUCCEEDED", VideoMetricName.JOBS_SUCCEEDED), ("FAILED", VideoMetricName.JOBS_FAILED)],
)
def test_a_recorded_job_is_counted(
    setup: dict[str, Any],
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    status: str,
    name: VideoMetricName,
) -> None:
    ref = ImageRef(BUCKET, "clip.mp4", "v1")
    setup["services"].store.record_started(ref, "job-1", "2026-11-26T11:00:00Z")
    page = job_page("job-1", [recognition(0, "Ada Lovelace", "A1", 91.0)], status=status, version_id="v1")
    rekognition.add_response("get_celebrity_recognition", page)
    handle_results(sqs_event(("n1", json.dumps(notice("job-1", status)))), None, services=setup["services"])
    _only_metric(caplog, name)


def test_a_timeout_is_counted_as_failed(
    setup: dict[str, Any], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    ref = ImageRef(BUCKET, "clip.mp4", "v1")
    started = (WHEN - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    setup["services"].store.record_started(ref, "job-1", started)
    rekognition.add_response("get_celebrity_recognition", job_page("job-1", [], status="IN_PROGRESS"))
    handle_results({"detail-type": "Scheduled Event"}, None, services=setup["services"])
    line = _only_metric(caplog, VideoMetricName.JOBS_FAILED)
    assert (line["outcome"], line["error_type"]) == ("timed_out", "VideoJobTimeoutError")


def test_metrics_survive_a_log_level_that_hides_the_line(
    setup: dict[str, Any], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("recognizer")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        ref = _upload(setup["s3"], "clip.mp4")
        rekognition.add_response("start_celebrity_recognition", {"JobId": "job-1"})
        handle_start(_start_message(ref), None, services=setup["services"])
    finally:
        logger.setLevel(level)
    [line] = _metric_lines(caplog.records)
    assert assert_emf(line) == {VideoMetricName.JOBS_STARTED: 1}
    assert line["level"] == "WARNING" and line["outcome"] == "started"


def test_a_duplicate_is_not_counted(
    setup: dict[str, Any], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    setup["services"].store.record_failure(
        ref, "UnsupportedVideoCodecError", "hevc", FailureCause.IMAGE, "2026-11-26T11:00:00Z"
    )
    handle_start(_start_message(ref), None, services=setup["services"])
    assert _metric_lines(caplog.records) == []
