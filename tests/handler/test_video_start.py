"""The video start function: one job per video version, limits first, LimitExceeded deferred, never lost."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import (
    PARTITION_KEY,
    SORT_KEY,
    FailureCause,
    ImageRef,
    ResultStatus,
    image_pk,
    pending_job_key,
    summary_sk,
    video_job_token,
)
from recognizer.errors import UnexpectedServiceError
from recognizer.video.start import DEFERRALS_ATTRIBUTE, handle_start
from tests.handler.recognizer_testkit import (
    BUCKET,
    AwsAnswers,
    create_results_table,
    eventbridge_event,
    sqs_event,
)
from tests.handler.video_testkit import ROLE_ARN, TOPIC_ARN, mp4_bytes, video_services

_TOKEN = botocore.session.get_session().get_service_model("rekognition").shape_for("ClientRequestToken")


@pytest.fixture
def setup(versioned: Any, rekognition: Stubber) -> dict[str, Any]:
    dynamodb = clients.dynamodb()
    create_results_table(dynamodb)
    sqs = clients.sqs()
    queue_url = sqs.create_queue(QueueName="video-start")["QueueUrl"]
    services = video_services(versioned, rekognition.client, dynamodb, sqs, VIDEO_START_QUEUE_URL=queue_url)
    return {"s3": versioned, "dynamodb": dynamodb, "sqs": sqs, "queue_url": queue_url, "services": services}


def _upload(s3: Any, key: str, body: bytes | None = None) -> ImageRef:
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body if body is not None else mp4_bytes())[
        "VersionId"
    ]
    return ImageRef(BUCKET, key, version)


def _message(ref: ImageRef, message_id: str = "m1") -> dict[str, Any]:
    return sqs_event((message_id, json.dumps(eventbridge_event(ref.key, version_id=ref.version_id))))


def _expect_start(stubber: Stubber, ref: ImageRef, job_id: str = "job-1") -> None:
    stubber.add_response(
        "start_celebrity_recognition",
        {"JobId": job_id},
        {
            "Video": {"S3Object": {"Bucket": ref.bucket, "Name": ref.key, "Version": ref.version_id}},
            "ClientRequestToken": video_job_token(ref.bucket, ref.key, ref.version_id),
            "NotificationChannel": {"SNSTopicArn": TOPIC_ARN, "RoleArn": ROLE_ARN},
        },
    )


def _item(dynamodb: Any, key: dict[str, str]) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName="celebrity-results", Key={k: {"S": v} for k, v in key.items()}).get(
        "Item"
    )
    return {name: next(iter(value.values())) for name, value in item.items()} if item else None


def _summary(dynamodb: Any, ref: ImageRef) -> dict[str, Any] | None:
    return _item(
        dynamodb, {PARTITION_KEY: image_pk(ref.bucket, ref.key), SORT_KEY: summary_sk(ref.version_id)}
    )


def test_token_is_per_version_and_fits_the_api() -> None:
    token = video_job_token(BUCKET, "clip.mp4", "v1")
    assert token == video_job_token(BUCKET, "clip.mp4", "v1")
    assert token != video_job_token(BUCKET, "clip.mp4", "v2") != video_job_token(BUCKET, "other.mp4", "v1")
    for candidate in (token, video_job_token(BUCKET, "ü/" * 500 + "x.mp4", None)):
        assert _TOKEN.metadata["min"] <= len(candidate) <= _TOKEN.metadata["max"]
        assert re.fullmatch(_TOKEN.metadata["pattern"].strip("^$"), candidate)


def test_starts_one_job_on_the_exact_version_and_records_it(
    setup: dict[str, Any], rekognition: Stubber
) -> None:
    ref = _upload(setup["s3"], "clips/Keynote.MP4")
    _expect_start(rekognition, ref)
    assert handle_start(_message(ref), None, services=setup["services"]) == {"batchItemFailures": []}
    summary = _summary(setup["dynamodb"], ref)
    assert summary is not None
    assert (summary["status"], summary["job_id"], summary["media"]) == (
        ResultStatus.IN_PROGRESS,
        "job-1",
        "video",
    )
    pending = _item(setup["dynamodb"], pending_job_key("job-1"))
    assert pending is not None and pending["version_id"] == ref.version_id and pending["key"] == ref.key


def test_duplicate_start_events_make_one_job(setup: dict[str, Any], rekognition: Stubber) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    _expect_start(rekognition, ref)  # one response: a second call would fail the Stubber
    first = handle_start(_message(ref, "m1"), None, services=setup["services"])
    again = handle_start(_message(ref, "m2"), None, services=setup["services"])
    assert first == again == {"batchItemFailures": []}
    rekognition.assert_no_pending_responses()


def test_racing_duplicates_send_the_same_token(
    setup: dict[str, Any], rekognition: Stubber, dynamodb_answers: AwsAnswers
) -> None:
    """Two deliveries that both pass the table check before either records: same token, same job."""
    ref = _upload(setup["s3"], "clip.mp4")
    # The Stubber checks each call's parameters: both carry the version's one token.
    _expect_start(rekognition, ref, "job-7")
    _expect_start(rekognition, ref, "job-7")  # Rekognition answers a repeated token with the same job
    dynamodb_answers.response("GetItem", lambda: {}, times=2)  # the table check sees nothing, twice
    event = _message(ref)
    handle_start(event, None, services=setup["services"])
    handle_start(event, None, services=setup["services"])
    rekognition.assert_no_pending_responses()
    assert _summary(setup["dynamodb"], ref)["job_id"] == "job-7"


@pytest.mark.parametrize("code", ["LimitExceededException", "ThrottlingException"])
def test_limit_exceeded_goes_back_to_the_queue_delayed(
    setup: dict[str, Any], rekognition: Stubber, code: str
) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    rekognition.add_client_error("start_celebrity_recognition", service_error_code=code, http_status_code=400)
    result = handle_start(_message(ref), None, services=setup["services"])
    # The original is done (not a step towards the DLQ); a delayed copy carries the start.
    assert result == {"batchItemFailures": []}
    assert _summary(setup["dynamodb"], ref) is None  # no failure recorded
    sqs, url = setup["sqs"], setup["queue_url"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_deferred_start_counts_its_deferrals(setup: dict[str, Any], rekognition: Stubber) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    rekognition.add_client_error("start_celebrity_recognition", service_error_code="LimitExceededException")
    event = _message(ref)
    event["Records"][0]["messageAttributes"] = {
        DEFERRALS_ATTRIBUTE: {"stringValue": "2", "dataType": "Number"}
    }
    with AwsAnswers(setup["sqs"]) as answers:
        handle_start(event, None, services=setup["services"])
    [params] = [params for operation, params in answers.calls if operation == "SendMessage"]
    assert params["MessageAttributes"][DEFERRALS_ATTRIBUTE]["StringValue"] == "3"
    assert 210 <= params["DelaySeconds"] <= 240  # 4 minutes after the third deferral, minus jitter
    assert json.loads(params["MessageBody"]) == json.loads(event["Records"][0]["body"])


def test_at_the_stacks_cap_no_job_starts(setup: dict[str, Any], rekognition: Stubber) -> None:
    store = setup["services"].store
    for number in range(3):  # VIDEO_MAX_CONCURRENT_JOBS=3 in the test environment
        store.record_started(
            ImageRef(BUCKET, f"running-{number}.mp4", "v"), f"job-{number}", "2026-11-26T11:00:00Z"
        )
    ref = _upload(setup["s3"], "clip.mp4")
    assert handle_start(_message(ref), None, services=setup["services"]) == {"batchItemFailures": []}
    assert _summary(setup["dynamodb"], ref) is None  # deferred: nothing recorded, no call (Stubber empty)


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (mp4_bytes("hvc1"), "UnsupportedVideoCodecError"),
        (mp4_bytes(duration_s=7 * 3600), "VideoTooLongError"),
        (b"plain text\n" * 10, "UnsupportedVideoFormatError"),
    ],
)
def test_refused_videos_are_recorded_without_a_call(
    setup: dict[str, Any], body: bytes, error_type: str
) -> None:
    ref = _upload(setup["s3"], "clip.mov", body)
    assert handle_start(_message(ref), None, services=setup["services"]) == {"batchItemFailures": []}
    summary = _summary(setup["dynamodb"], ref)
    assert summary is not None
    assert (summary["status"], summary["error_type"], summary["failure_cause"]) == (
        ResultStatus.FAILED,
        error_type,
        FailureCause.IMAGE,
    )
    # A verdict on the bytes: a redelivered event starts nothing either (Stubber has no answer).
    assert handle_start(_message(ref), None, services=setup["services"]) == {"batchItemFailures": []}


def test_transient_failure_hands_the_message_back(setup: dict[str, Any], rekognition: Stubber) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    rekognition.add_client_error(
        "start_celebrity_recognition", service_error_code="InternalServerError", http_status_code=500
    )
    assert handle_start(_message(ref), None, services=setup["services"]) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"Records": "nope"}'])
def test_an_unreadable_message_is_left_for_the_dead_letter_queue(
    setup: dict[str, Any], rekognition: Stubber, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = {"Records": [{"messageId": "m1", "body": body, "eventSource": "aws:sqs"}]}
    with caplog.at_level(logging.ERROR):
        assert handle_start(event, None, services=setup["services"]) == {
            "batchItemFailures": [{"itemIdentifier": "m1"}]
        }
    assert any("left for the dead-letter queue" in r.getMessage() for r in caplog.records)
    rekognition.assert_no_pending_responses()


# --- a settled job is not re-opened; bad input gets named errors ------------------------------------


@pytest.mark.parametrize("error_type", ["VideoJobFailedError", "VideoJobTimeoutError"])
def test_restarting_a_failed_job_keeps_its_recorded_failure(
    setup: dict[str, Any], rekognition: Stubber, error_type: str
) -> None:
    """A redelivered event (or a second `recognize s3://`) gets the same job back from the token:
    the recorded FAILED stands, rather than IN_PROGRESS again until the next timeout."""
    ref = _upload(setup["s3"], "clip.mp4")
    store = setup["services"].store
    store.record_failure(
        ref, error_type, "it failed", FailureCause.ENVIRONMENT, "2026-11-26T11:00:00Z", "job-1"
    )
    _expect_start(rekognition, ref, "job-1")  # the same token: Rekognition answers with the same job
    assert handle_start(_message(ref), None, services=setup["services"]) == {"batchItemFailures": []}
    rekognition.assert_no_pending_responses()
    summary = _summary(setup["dynamodb"], ref)
    assert (summary["status"], summary["error_type"], summary["job_id"]) == (
        ResultStatus.FAILED,
        error_type,
        "job-1",
    )
    assert _item(setup["dynamodb"], pending_job_key("job-1")) is None  # the sweep has nothing to wait for
    _expect_start(rekognition, ref, "job-1")
    direct = handle_start({"bucket": BUCKET, "object_name": ref.key, "version_id": ref.version_id}, None,
                          services=setup["services"])  # fmt: skip
    assert direct == {"outcome": "duplicate", "job_id": "job-1"}


def test_a_failure_before_any_job_starts_a_new_one(setup: dict[str, Any], rekognition: Stubber) -> None:
    """Only the same job id is kept: a failure recorded without a job (access denied, ...) is retried."""
    ref = _upload(setup["s3"], "clip.mp4")
    setup["services"].store.record_failure(
        ref, "RekognitionAccessDeniedError", "denied", FailureCause.ENVIRONMENT, "2026-11-26T11:00:00Z"
    )
    _expect_start(rekognition, ref, "job-2")
    handle_start(_message(ref), None, services=setup["services"])
    summary = _summary(setup["dynamodb"], ref)
    assert (summary["status"], summary["job_id"]) == (ResultStatus.IN_PROGRESS, "job-2")


@pytest.mark.parametrize(
    "attribute",
    [
        {"stringValue": "two", "dataType": "Number"},
        {"stringValue": "-1", "dataType": "Number"},
        {"stringValue": "²", "dataType": "Number"},
        {"stringValue": "", "dataType": "Number"},
        {"binaryValue": "AA==", "dataType": "Binary"},
        "3",
        7,
    ],
)
def test_a_malformed_deferral_count_counts_as_zero(
    setup: dict[str, Any], rekognition: Stubber, attribute: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ref = _upload(setup["s3"], "clip.mp4")
    rekognition.add_client_error("start_celebrity_recognition", service_error_code="LimitExceededException")
    event = _message(ref)
    event["Records"][0]["messageAttributes"] = {DEFERRALS_ATTRIBUTE: attribute}
    with AwsAnswers(setup["sqs"]) as answers:
        assert handle_start(event, None, services=setup["services"]) == {"batchItemFailures": []}
    [params] = [params for operation, params in answers.calls if operation == "SendMessage"]
    expected = "4" if attribute == "3" else "1"  # a bare string value is still read
    assert params["MessageAttributes"][DEFERRALS_ATTRIBUTE]["StringValue"] == expected
    if expected == "1":
        [warning] = [r for r in caplog.records if "unreadable deferral count" in r.getMessage()]
        assert "expected a whole number" in warning.error_message  # type: ignore[attr-defined]


def test_a_start_answer_without_a_job_id_is_a_named_error(setup: dict[str, Any]) -> None:
    """JobId is optional in botocore's model of the answer: without it, a named, retryable error (the
    message comes back, then the dead-letter queue), never a KeyError."""
    ref = _upload(setup["s3"], "clip.mp4")
    services = setup["services"]
    stubber = Stubber(services.rekognition)
    stubber.add_response("start_celebrity_recognition", {})
    with stubber:
        result = handle_start(_message(ref), None, services=services)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert _summary(setup["dynamodb"], ref) is None
    stubber.add_response("start_celebrity_recognition", {})
    with stubber, pytest.raises(UnexpectedServiceError, match="answered without a JobId"):
        handle_start({"bucket": BUCKET, "object_name": ref.key, "version_id": ref.version_id}, None,
                     services=services)  # fmt: skip
