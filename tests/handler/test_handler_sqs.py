"""SQS batches of upload events and redriven direct payloads: exactly the retryable messages come back."""

from __future__ import annotations

import json
import logging
from typing import Any

import handler
import pytest
from botocore.stub import Stubber

from recognizer.batch import MESSAGE_MARGIN_MS
from recognizer.contract import ANALYSIS_METADATA_KEY, ANALYSIS_ON_REQUEST, is_summary_item
from recognizer.events import decode_eventbridge_key
from tests.handler.recognizer_testkit import (
    BUCKET,
    AwsAnswers,
    LambdaContext,
    by_message_id,
    celebrities_response,
    celebrity_face,
    eventbridge_event,
    expect_recognition,
    expect_recognition_error,
    image_records,
    png_bytes,
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


def summaries(table: Any) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in table.scan()["Items"] if is_summary_item(item)}


def test_only_retryable_failures_come_back(
    images: dict[str, bytes], table: Any, rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition_error(rekognition, "portrait.jpg", "ThrottlingException")
    expect_recognition(rekognition, "group.png", BEZOS)  # unversioned: the duplicate is analysed again
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
    assert handler.lambda_handler(event, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "m-throttled"}]
    }

    items = table.scan()["Items"]
    assert len([item for item in items if item["key"] == "group.png"]) == 2  # summary + celebrity, once
    failed = {key: item for key, item in summaries(table).items() if item["status"] == "FAILED"}
    assert set(failed) == {"notes.txt", "tiny.png"}
    assert (failed["tiny.png"]["error_type"], failed["tiny.png"]["failure_cause"]) == (
        "ImageTooSmallError",
        "image",
    )
    assert "portrait.jpg" not in summaries(table)

    records = by_message_id(caplog.records)
    assert {message_id: record.outcome for message_id, record in records.items()} == {  # type: ignore[attr-defined]
        "m-good": "succeeded",
        "m-throttled": "retry",
        "m-unsupported": "failed",
        "m-not-json": "failed",
        "m-not-s3": "failed",
        "m-duplicate": "duplicate",
        "m-too-small": "failed",
    }
    assert records["m-not-json"].error_type == "InvalidEventError"  # type: ignore[attr-defined]
    assert all(record.request_id == "req-1" for record in records.values())  # type: ignore[attr-defined]
    (acknowledged,) = [r for r in caplog.records if r.getMessage() == "S3 test event acknowledged"]
    assert acknowledged.message_id == "m-test"  # type: ignore[attr-defined]


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


def test_eventbridge_events_in_sqs_bodies_are_uploads(
    versioned: Any, table: Any, rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    wire_keys = {"m-space": "red flower.png", "m-plus": "a+b%2B.png", "m-unicode": "東京/😀 é.png"}
    versions = {}
    for width, (message_id, wire_key) in enumerate(wire_keys.items(), start=100):
        key = decode_eventbridge_key(wire_key)
        # Distinct bytes: a copy of one would be answered from the other's analysis.
        versions[message_id] = versioned.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(width, 100))[
            "VersionId"
        ]
        expect_recognition(rekognition, key, BEZOS, version_id=versions[message_id])
    versioned.put_object(
        Bucket=BUCKET,
        Key="mine.png",
        Body=png_bytes(100, 100),
        Metadata={ANALYSIS_METADATA_KEY: ANALYSIS_ON_REQUEST},
    )
    event = sqs_event(
        *((m, json.dumps(eventbridge_event(k, version_id=versions[m]))) for m, k in wire_keys.items()),
        ("m-on-request", json.dumps(eventbridge_event("mine.png"))),
        ("m-deleted", json.dumps(eventbridge_event("gone.png", detail_type="Object Deleted"))),
    )
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert set(summaries(table)) == {decode_eventbridge_key(k) for k in wire_keys.values()}
    outcomes = {m: r.outcome for m, r in by_message_id(caplog.records).items()}  # type: ignore[attr-defined]
    assert outcomes == {
        "m-space": "succeeded",
        "m-plus": "succeeded",
        "m-unicode": "succeeded",
        "m-on-request": "skipped",
        "m-deleted": "failed",
    }


def test_storage_outage_is_retried_not_lost(
    images: dict[str, bytes], table: Any, rekognition: Stubber, dynamodb_answers: AwsAnswers
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    # The image's result (with its index items) and the text's recorded failure.
    dynamodb_answers.error("TransactWriteItems", "InternalServerError", "oops", status=500)
    dynamodb_answers.error("PutItem", "InternalServerError", "oops", status=500)
    event = sqs_event(("m-image", body("group.png")), ("m-text", body("notes.txt")))
    result = handler.lambda_handler(event, None)
    # The failure of notes.txt could not be recorded either: it comes back rather than vanish.
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-image"}, {"itemIdentifier": "m-text"}]}
    assert table.scan()["Items"] == []


def test_a_bug_in_one_message_does_not_sink_the_batch(
    images: dict[str, bytes], rekognition: Stubber, s3_answers: AwsAnswers, caplog: pytest.LogCaptureFixture
) -> None:
    # An S3 answer without its Body: code that trusted it would raise a KeyError (a bug).
    s3_answers.response("GetObject", lambda: {"ContentLength": 10}, when=lambda p: p["Key"] == "portrait.jpg")
    expect_recognition(rekognition, "group.png", BEZOS)
    event = sqs_event(("m-bug", body("portrait.jpg")), ("m-good", body("group.png")))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-bug"}]}
    bug = by_message_id(caplog.records)["m-bug"]
    assert (bug.levelno, bug.outcome, bug.error_type) == (logging.ERROR, "retry", "KeyError")  # type: ignore[attr-defined]


def test_redriven_direct_payloads_are_analysed(
    images: dict[str, bytes], table: Any, rekognition: Stubber, caplog: pytest.LogCaptureFixture
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
    statuses = {key: item["status"] for key, item in summaries(table).items()}
    assert statuses == {"group.png": "SUCCEEDED", "notes.txt": "FAILED", "tiny.png": "FAILED"}
    records = by_message_id(caplog.records)
    assert records["m-direct"].outcome == "succeeded"  # type: ignore[attr-defined]
    no_key = records["m-no-key"]
    assert (no_key.outcome, no_key.bucket) == ("failed", BUCKET)  # type: ignore[attr-defined]
    assert '"object_name" must be a non-empty string' in no_key.error_message  # type: ignore[attr-defined]


def test_a_redriven_request_analyses_an_object_marked_on_request(
    s3: Any, table: Any, rekognition: Stubber
) -> None:
    # The payload is the request of `celeb recognize` itself, not the upload's event.
    s3.put_object(
        Bucket=BUCKET,
        Key="mine.png",
        Body=png_bytes(100, 100),
        Metadata={ANALYSIS_METADATA_KEY: ANALYSIS_ON_REQUEST},
    )
    expect_recognition(rekognition, "mine.png", BEZOS)
    event = sqs_event(("m-1", json.dumps({"bucket": BUCKET, "object_name": "mine.png"})))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert summaries(table)["mine.png"]["status"] == "SUCCEEDED"


def test_messages_without_time_left_are_handed_back_unstarted(
    images: dict[str, bytes], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition_error(rekognition, "portrait.jpg", "ThrottlingException")
    # Asked at the start (a long timeout: the full margin applies), before m-2 (exactly the
    # margin: started), then before m-3 (just below: deferred with m-4). Started, tiny.png would
    # be recorded and logged as failed, and acknowledged.
    context = LambdaContext(2 * MESSAGE_MARGIN_MS, MESSAGE_MARGIN_MS, MESSAGE_MARGIN_MS - 1)
    event = sqs_event(
        ("m-1", body("group.png")),
        ("m-2", body("portrait.jpg")),
        ("m-3", body("tiny.png")),
        ("m-4", TEST_EVENT),
    )
    assert handler.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": m} for m in ("m-2", "m-3", "m-4")]
    }
    assert [record.outcome for record in image_records(caplog.records)] == ["succeeded", "retry"]  # type: ignore[attr-defined]
    deferred = caplog.records[-1]
    assert (deferred.levelno, deferred.getMessage()) == (
        logging.WARNING,
        "messages deferred: too little time left to start them",
    )
    assert deferred.message_ids == ["m-3", "m-4"]  # type: ignore[attr-defined]
    assert (deferred.remaining_ms, deferred.margin_ms) == (MESSAGE_MARGIN_MS - 1, MESSAGE_MARGIN_MS)  # type: ignore[attr-defined]
    assert deferred.request_id == "req-1"  # type: ignore[attr-defined]


def test_a_short_timeout_reserves_at_most_half_of_it(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    # 10 s at the start: the margin is 5 s, not the full one, so m-2 starts with 6 s left and m-3
    # is deferred with 4.999 s left.
    context = LambdaContext(10_000, 6_000, 4_999)
    event = sqs_event(("m-1", body("group.png")), ("m-2", body("portrait.jpg")), ("m-3", body("tiny.png")))
    assert handler.lambda_handler(event, context) == {"batchItemFailures": [{"itemIdentifier": "m-3"}]}
    assert MESSAGE_MARGIN_MS > 6_000


def test_the_first_message_always_starts(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    context = LambdaContext(1_000, 400)
    event = sqs_event(("m-1", body("group.png")), ("m-2", body("portrait.jpg")))
    assert handler.lambda_handler(event, context) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert context.asked == 2  # at the start, then before m-2


def test_with_enough_time_every_message_runs(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    context = LambdaContext(2 * MESSAGE_MARGIN_MS)
    event = sqs_event(("m-1", body("group.png")), ("m-2", body("portrait.jpg")), ("m-3", TEST_EVENT))
    assert handler.lambda_handler(event, context) == {"batchItemFailures": []}
    assert context.asked == 3  # at the start, then before each message but the first
