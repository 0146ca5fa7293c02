"""SQS batches of S3 notifications and redriven direct payloads: exactly the retryable messages come back."""

from __future__ import annotations

import json
from typing import Any

import handler
import pytest
from botocore.stub import Stubber
from recognizer import clients, pipeline
from recognizer.batch import MESSAGE_MARGIN_MS
from recognizer_testkit import (
    BUCKET,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    expect_recognition_error,
    log_lines,
    s3_event,
    sqs_event,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5), unrecognized=1)
TEST_EVENT = json.dumps(
    {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-26T11:29:25.000Z",
        "Bucket": BUCKET,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
)


def body(*keys: str) -> str:
    return json.dumps(s3_event(*keys))


def test_only_retryable_failures_come_back(
    images: dict[str, bytes], table: Any, rekognition: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition_error(rekognition, "portrait.jpg", "ThrottlingException")
    expect_recognition(rekognition, "group.png", BEZOS)  # the duplicate delivery is analysed again
    event = sqs_event(
        ("m-good", body("group.png")),
        ("m-throttled", body("portrait.jpg")),
        ("m-unsupported", body("notes.txt")),
        ("m-test", TEST_EVENT),
        ("m-not-json", "this is not json"),
        ("m-not-s3", json.dumps({"detail-type": "Object Created"})),
        ("m-duplicate", body("group.png")),
        ("m-too-small", body("tiny.png")),
    )
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-throttled"}]}

    items = table.scan()["Items"]
    group = [item for item in items if item["key"] == "group.png"]
    assert len(group) == 2  # one summary + one celebrity, despite the duplicate
    failed = {item["key"]: item for item in items if item.get("status") == "FAILED"}
    assert set(failed) == {"notes.txt", "tiny.png"}
    assert failed["tiny.png"]["error_type"] == "ImageTooSmallError"
    assert not [item for item in items if item["key"] == "portrait.jpg"]

    lines = {line.get("message_id"): line for line in log_lines(capsys.readouterr().out)}
    assert {k: v["outcome"] for k, v in lines.items() if "outcome" in v} == {
        "m-good": "succeeded",
        "m-throttled": "retry",
        "m-unsupported": "failed",
        "m-not-json": "failed",
        "m-not-s3": "failed",
        "m-duplicate": "duplicate",
        "m-too-small": "failed",
    }
    assert lines["m-not-json"]["error_type"] == "InvalidEventError"
    assert lines["m-test"]["message"] == "S3 test event acknowledged"


def test_all_good_is_an_empty_failure_list(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    event = sqs_event(("m-1", body("group.png", "portrait.jpg")), ("m-2", TEST_EVENT))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}


def test_a_message_comes_back_when_any_of_its_records_must_be_retried(
    images: dict[str, bytes], rekognition: Stubber
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition_error(rekognition, "portrait.jpg", "InternalServerError", 500)
    event = sqs_event(("m-1", body("group.png", "portrait.jpg")))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_storage_outage_is_retried_not_lost(
    images: dict[str, bytes], table: Any, rekognition: Stubber
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    with Stubber(clients.dynamodb()) as dynamodb:
        dynamodb.add_client_error("batch_write_item", "ProvisionedThroughputExceededException", "slow down")
        dynamodb.add_client_error("put_item", "InternalServerError", "oops", http_status_code=500)
        event = sqs_event(("m-image", body("group.png")), ("m-text", body("notes.txt")))
        result = handler.lambda_handler(event, None)
    # The failure of notes.txt could not be recorded either: it comes back rather than vanish.
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-image"}, {"itemIdentifier": "m-text"}]}


def test_a_bug_in_one_message_does_not_sink_the_batch(
    images: dict[str, bytes], rekognition: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.analyze

    def flaky(ref: Any, services: Any) -> Any:
        if ref.key == "portrait.jpg":
            raise KeyError("unexpected")
        return real(ref, services)

    monkeypatch.setattr(pipeline, "analyze", flaky)
    expect_recognition(rekognition, "group.png", BEZOS)
    event = sqs_event(("m-bug", body("portrait.jpg")), ("m-good", body("group.png")))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-bug"}]}


def test_redriven_direct_payloads_are_analysed(
    images: dict[str, bytes], table: Any, rekognition: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # What Lambda puts in the dead-letter queue after an asynchronous invocation failed.
    expect_recognition(rekognition, "group.png", BEZOS)
    event = sqs_event(
        ("m-direct", json.dumps({"bucket": BUCKET, "object_name": "group.png"})),
        ("m-text", json.dumps({"bucket": BUCKET, "object_name": "notes.txt"})),
        ("m-no-key", json.dumps({"bucket": BUCKET})),
        ("m-s3", body("tiny.png")),
    )
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    statuses = {
        item["key"]: item["status"] for item in table.scan()["Items"] if "#CELEBRITY#" not in item["sk"]
    }
    assert statuses == {"group.png": "SUCCEEDED", "notes.txt": "FAILED", "tiny.png": "FAILED"}
    lines = {line["message_id"]: line for line in log_lines(capsys.readouterr().out)}
    assert lines["m-direct"]["outcome"] == "succeeded"
    assert (lines["m-no-key"]["outcome"], lines["m-no-key"]["bucket"]) == ("failed", BUCKET)
    assert '"object_name" must be a non-empty string' in lines["m-no-key"]["error_message"]


class FakeContext:
    """A Lambda context whose remaining time is read from a list, one value per question."""

    aws_request_id = "req-1"

    def __init__(self, *remaining_ms: int) -> None:
        self.remaining = list(remaining_ms)
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_messages_without_time_left_are_handed_back_unstarted(
    images: dict[str, bytes], rekognition: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition_error(rekognition, "portrait.jpg", "ThrottlingException")
    # Asked at the start (a long timeout: the full margin applies), before m-2 (exactly the
    # margin: started), then before m-3 (just below: deferred with m-4). Started, tiny.png would
    # be recorded and logged as failed, and acknowledged.
    context = FakeContext(2 * MESSAGE_MARGIN_MS, MESSAGE_MARGIN_MS, MESSAGE_MARGIN_MS - 1)
    event = sqs_event(
        ("m-1", body("group.png")),
        ("m-2", body("portrait.jpg")),
        ("m-3", body("tiny.png")),
        ("m-4", TEST_EVENT),
    )
    assert handler.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": m} for m in ("m-2", "m-3", "m-4")]
    }
    lines = log_lines(capsys.readouterr().out)
    assert [line.get("outcome") for line in lines] == ["succeeded", "retry", None]
    deferred = lines[-1]
    assert deferred["level"] == "WARNING" and deferred["message_ids"] == ["m-3", "m-4"]
    assert deferred["remaining_ms"] == MESSAGE_MARGIN_MS - 1 and deferred["margin_ms"] == MESSAGE_MARGIN_MS
    assert deferred["request_id"] == "req-1"


def test_a_short_timeout_reserves_at_most_half_of_it(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    # 10 s at the start: the margin is 5 s, not the full one, so m-2 starts with 6 s left and m-3
    # is deferred with 4.999 s left.
    context = FakeContext(10_000, 6_000, 4_999)
    event = sqs_event(("m-1", body("group.png")), ("m-2", body("portrait.jpg")), ("m-3", body("tiny.png")))
    assert handler.lambda_handler(event, context) == {"batchItemFailures": [{"itemIdentifier": "m-3"}]}
    assert MESSAGE_MARGIN_MS > 6_000


def test_the_first_message_always_starts(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    context = FakeContext(1_000, 400)
    event = sqs_event(("m-1", body("group.png")), ("m-2", body("portrait.jpg")))
    assert handler.lambda_handler(event, context) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert context.asked == 2  # at the start, then before m-2


def test_with_enough_time_every_message_runs(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    context = FakeContext(2 * MESSAGE_MARGIN_MS)
    event = sqs_event(("m-1", body("group.png")), ("m-2", body("portrait.jpg")), ("m-3", TEST_EVENT))
    assert handler.lambda_handler(event, context) == {"batchItemFailures": []}
    assert context.asked == 3  # at the start, then before each message but the first
