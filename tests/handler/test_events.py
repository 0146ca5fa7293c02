"""Parsing of direct invocations, S3 notifications and SQS batches (pure, no AWS)."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recognizer.errors import InvalidEventError
from recognizer.events import (
    DirectInvocation,
    ImageRef,
    S3Notification,
    SqsBatch,
    decode_key,
    parse_event,
    parse_sqs_body,
)


def s3_record(key: str, bucket: str = "photos-bucket", version_id: str | None = None) -> dict:
    obj = {"key": key, "size": 1024, "eTag": "abc", "sequencer": "0055AED6DCD90281E5"}
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T11:29:25.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }


def test_direct_invocation_with_and_without_version() -> None:
    assert parse_event({"bucket": "photos-bucket", "object_name": "a.jpg"}) == DirectInvocation(
        ImageRef("photos-bucket", "a.jpg", None)
    )
    parsed = parse_event({"bucket": "photos-bucket", "object_name": "a.jpg", "version_id": "v1"})
    assert parsed == DirectInvocation(ImageRef("photos-bucket", "a.jpg", "v1"))


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"bucket": "photos-bucket"}, '"object_name" must be a non-empty string'),
        ({"object_name": "a.jpg"}, '"bucket" must be a non-empty string'),
        ({"bucket": "", "object_name": "a.jpg"}, '"bucket" must be a non-empty string'),
        ({"bucket": "photos-bucket", "object_name": 7}, '"object_name" must be a non-empty string, got 7'),
        ({"bucket": "photos-bucket", "object_name": "a", "version_id": 3}, '"version_id" must be'),
        ({"bucket": "no", "object_name": "a.jpg"}, "'no' is not a valid S3 bucket name"),
        ({"bucket": "bad/bucket", "object_name": "a.jpg"}, "is not a valid S3 bucket name"),
        ({"bucket": "photos-bucket", "object_name": "é" * 513}, "longer than S3's 1024 UTF-8 bytes"),
    ],
)
def test_direct_invocation_errors_say_what_was_expected(event: dict, fragment: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event(event)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("event", [{}, {"foo": 1}, [], "s3://x/y", None, {"detail-type": "Object Created"}])
def test_unknown_shapes_name_the_accepted_ones(event: object) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event(event)
    message = str(raised.value)
    assert "direct invocation" in message and "aws:s3" in message and "aws:sqs" in message


@pytest.mark.parametrize(
    "records",
    [[], "nope", [{"eventSource": "aws:dynamodb"}], [s3_record("a.jpg"), {"eventSource": "aws:sqs"}]],
)
def test_records_of_unknown_or_mixed_sources_are_rejected(records: object) -> None:
    with pytest.raises(InvalidEventError, match="expected a direct invocation"):
        parse_event({"Records": records})


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("red+flower.jpg", "red flower.jpg"),
        ("a%2Bb.jpg", "a+b.jpg"),
        ("caf%C3%A9/%E6%9D%B1%E4%BA%AC.png", "café/東京.png"),
        ("100%25+real.jpg", "100% real.jpg"),
        ("plain.jpg", "plain.jpg"),
    ],
)
def test_s3_keys_are_url_decoded(encoded: str, decoded: str) -> None:
    parsed = parse_event({"Records": [s3_record(encoded)]})
    assert parsed == S3Notification((ImageRef("photos-bucket", decoded, None),))


@given(st.text(min_size=1, max_size=300))
def test_any_unicode_key_survives_s3_encoding(key: str) -> None:
    assert decode_key(quote_plus(key)) == key


def test_s3_record_version_is_kept_and_bad_records_become_errors_in_place() -> None:
    broken = {"eventSource": "aws:s3", "s3": {"bucket": {"name": "photos-bucket"}, "object": {}}}
    parsed = parse_event({"Records": [s3_record("a.jpg", version_id="v7"), broken]})
    assert isinstance(parsed, S3Notification)
    assert parsed.records[0] == ImageRef("photos-bucket", "a.jpg", "v7")
    assert isinstance(parsed.records[1], InvalidEventError)
    assert "s3.object.key" in str(parsed.records[1])


def test_sqs_batch_keeps_message_ids_and_bodies() -> None:
    body = json.dumps({"Records": [s3_record("a.jpg")]})
    parsed = parse_event({"Records": [{"eventSource": "aws:sqs", "messageId": "m-1", "body": body}]})
    assert isinstance(parsed, SqsBatch)
    assert parsed.messages[0].message_id == "m-1"
    assert parse_sqs_body(parsed.messages[0].body) == (ImageRef("photos-bucket", "a.jpg", None),)


def test_sqs_record_without_message_id_is_a_malformed_batch() -> None:
    with pytest.raises(InvalidEventError, match="messageId"):
        parse_event({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})


def test_s3_test_event_body_has_no_records() -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "photos-bucket"})
    assert parse_sqs_body(body) == ()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json at all", "not JSON"),
        (json.dumps({"hello": "world"}), "not an S3 event notification"),
        (json.dumps({"Records": [{"eventSource": "aws:sns"}]}), "not an S3 event notification"),
        (json.dumps([1, 2]), "not an S3 event notification"),
        (None, "expected a JSON string"),
    ],
)
def test_sqs_bodies_that_are_not_s3_events_are_invalid(body: object, fragment: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_sqs_body(body)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("body", [json.dumps({"hello": "world"}), json.dumps([1, 2]), json.dumps("text")])
def test_an_unknown_sqs_body_names_both_accepted_shapes(body: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_sqs_body(body)
    message = str(raised.value)
    assert '"eventSource": "aws:s3"' in message and '"object_name": str' in message


def test_a_direct_payload_in_an_sqs_body_is_one_image() -> None:
    # Lambda's asynchronous-invocation dead-letter queue holds the original payload as the body.
    assert parse_sqs_body(json.dumps({"bucket": "photos-bucket", "object_name": "a b.jpg"})) == (
        ImageRef("photos-bucket", "a b.jpg", None),
    )
    versioned = json.dumps({"bucket": "photos-bucket", "object_name": "a.jpg", "version_id": "v7"})
    assert parse_sqs_body(versioned) == (ImageRef("photos-bucket", "a.jpg", "v7"),)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"bucket": "photos-bucket"}, '"object_name" must be a non-empty string'),
        ({"object_name": "a.jpg"}, '"bucket" must be a non-empty string'),
        ({"bucket": "photos-bucket", "object_name": "a.jpg", "version_id": ""}, '"version_id" must be'),
        ({"bucket": "no", "object_name": "a.jpg"}, "is not a valid S3 bucket name"),
    ],
)
def test_a_malformed_direct_payload_in_an_sqs_body_is_an_error_in_place(payload: dict, fragment: str) -> None:
    (error,) = parse_sqs_body(json.dumps(payload))
    assert isinstance(error, InvalidEventError) and fragment in str(error)
    assert error.bucket == payload.get("bucket")
