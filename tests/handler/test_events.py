"""Parsing of direct invocations, upload events (S3 notifications, EventBridge) and SQS batches (pure)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizer.contract import ImageRef
from recognizer.errors import InvalidEventError
from recognizer.events import (
    DirectInvocation,
    SqsBatch,
    UploadEvents,
    Work,
    decode_eventbridge_key,
    decode_key,
    parse_event,
    parse_sqs_body,
)
from tests.handler.recognizer_testkit import BUCKET, eventbridge_event, s3_event, sqs_event

# Keys whose spelling an encoding could change: spaces, "+", "%", escapes, non-ASCII, emoji.
TRICKY_KEYS = [
    "red flower.jpg",
    "a+b.png",
    "100% real.jpg",
    "a%2Bb.png",
    "red+flower%20two.jpg",
    "café/東京 😀.png",
    "caf%C3%A9.png",
]


def s3_record(key: str, version_id: str | None = None) -> dict[str, Any]:
    return s3_event(key, version_ids={key: version_id} if version_id else None)["Records"][0]


def test_direct_invocation_with_and_without_version() -> None:
    assert parse_event({"bucket": BUCKET, "object_name": "a.jpg"}) == DirectInvocation(
        ImageRef(BUCKET, "a.jpg", None)
    )
    parsed = parse_event({"bucket": BUCKET, "object_name": "a.jpg", "version_id": "v1"})
    assert parsed == DirectInvocation(ImageRef(BUCKET, "a.jpg", "v1"))


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"bucket": BUCKET}, '"object_name" must be a non-empty string'),
        ({"object_name": "a.jpg"}, '"bucket" must be a non-empty string'),
        ({"bucket": "", "object_name": "a.jpg"}, '"bucket" must be a non-empty string'),
        ({"bucket": BUCKET, "object_name": 7}, '"object_name" must be a non-empty string, got 7'),
        ({"bucket": BUCKET, "object_name": "a", "version_id": 3}, '"version_id" must be'),
        ({"bucket": "no", "object_name": "a.jpg"}, "'no' is not a valid S3 bucket name"),
        ({"bucket": "bad/bucket", "object_name": "a.jpg"}, "is not a valid S3 bucket name"),
        ({"bucket": BUCKET, "object_name": "é" * 513}, "longer than S3's 1024 UTF-8 bytes"),
        ({"bucket": BUCKET, "object_name": "a.jpg", "version_id": "v" * 1025}, "version id"),
    ],
)
def test_direct_invocation_errors_say_what_was_expected(event: dict, fragment: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event(event)
    assert fragment in str(raised.value)


def test_the_longest_valid_key_is_accepted() -> None:
    for key in ("k" * 1024, "é" * 512, "😀" * 256, "a" + "é" * 511 + "b"):
        assert len(key.encode()) == 1024
        assert parse_event({"bucket": BUCKET, "object_name": key}) == DirectInvocation(ImageRef(BUCKET, key))


@pytest.mark.parametrize(
    "event",
    [{}, {"foo": 1}, [], "s3://x/y", None, {"detail-type": "Object Created"}, {"source": "aws.s3"}],
)
def test_unknown_shapes_name_the_accepted_ones(event: object) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event(event)
    message = str(raised.value)
    assert "direct invocation" in message and "aws:s3" in message and "aws:sqs" in message
    assert "Object Created" in message  # the EventBridge shape is named too


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
def test_s3_notification_keys_are_url_decoded(encoded: str, decoded: str) -> None:
    parsed = parse_event(s3_event(encoded))
    assert parsed == UploadEvents((Work(ImageRef(BUCKET, decoded, None), from_upload=True),))


@settings(deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_unicode_key_survives_s3_encoding(key: str) -> None:
    assert decode_key(quote_plus(key)) == key


def test_s3_record_version_is_kept_and_bad_records_become_errors_in_place() -> None:
    broken = {"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {}}}
    parsed = parse_event({"Records": [s3_record("a.jpg", version_id="v7"), broken]})
    assert isinstance(parsed, UploadEvents)
    assert parsed.records[0] == Work(ImageRef(BUCKET, "a.jpg", "v7"), from_upload=True)
    assert isinstance(parsed.records[1], InvalidEventError)
    assert "s3.object.key" in str(parsed.records[1])


# EventBridge: the key as the event carries it; decode_eventbridge_key is the one rule for it.


@pytest.mark.parametrize("wire_key", TRICKY_KEYS)
def test_an_eventbridge_event_invoking_directly_is_one_upload(wire_key: str) -> None:
    parsed = parse_event(eventbridge_event(wire_key, version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"))
    expected = ImageRef(BUCKET, decode_eventbridge_key(wire_key), "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert parsed == UploadEvents((Work(expected, from_upload=True),))


@pytest.mark.parametrize("wire_key", TRICKY_KEYS)
def test_an_eventbridge_event_in_an_sqs_body_is_one_upload(wire_key: str) -> None:
    (work,) = parse_sqs_body(json.dumps(eventbridge_event(wire_key)))
    assert work == Work(ImageRef(BUCKET, decode_eventbridge_key(wire_key), None), from_upload=True)


@settings(deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=200))
def test_eventbridge_keys_reach_the_image_only_through_the_decoding_rule(wire_key: str) -> None:
    decoded = decode_eventbridge_key(wire_key)
    if not decoded:
        return  # a rule that decodes to nothing leaves no key to compare
    parsed = parse_event(eventbridge_event(wire_key))
    assert isinstance(parsed, UploadEvents)
    (work,) = parsed.records
    assert isinstance(work, Work) and work.image.key == decoded


def test_an_eventbridge_event_without_a_version_or_with_an_empty_one_is_unversioned() -> None:
    for version in (None, ""):
        parsed = parse_event(eventbridge_event("a.jpg", version_id=version))
        assert parsed == UploadEvents((Work(ImageRef(BUCKET, "a.jpg", None), from_upload=True),))


@pytest.mark.parametrize(
    ("detail", "fragment"),
    [
        ({"bucket": {"name": BUCKET}, "object": {}}, "detail.object.key"),
        ({"bucket": {}, "object": {"key": "a.jpg"}}, "detail.bucket.name"),
        ({"bucket": {"name": BUCKET}, "object": {"key": 7}}, "detail.object.key"),
        ({"bucket": {"name": "x"}, "object": {"key": "a.jpg"}}, "not a valid S3 bucket name"),
    ],
)
def test_a_malformed_eventbridge_event_is_an_error_in_place(detail: dict, fragment: str) -> None:
    event = eventbridge_event("a.jpg") | {"detail": detail}
    parsed = parse_event(event)
    assert isinstance(parsed, UploadEvents)
    (error,) = parsed.records
    assert isinstance(error, InvalidEventError) and fragment in str(error)
    (in_body,) = parse_sqs_body(json.dumps(event))
    assert isinstance(in_body, InvalidEventError) and fragment in str(in_body)


def test_other_eventbridge_events_are_not_uploads() -> None:
    deleted = eventbridge_event("a.jpg", detail_type="Object Deleted")
    with pytest.raises(InvalidEventError, match="Unsupported event"):
        parse_event(deleted)
    with pytest.raises(InvalidEventError, match="SQS body is not"):
        parse_sqs_body(json.dumps(deleted))


# SQS


def test_sqs_batch_keeps_message_ids_and_bodies() -> None:
    parsed = parse_event(sqs_event(("m-1", json.dumps(s3_event("a.jpg")))))
    assert isinstance(parsed, SqsBatch)
    assert parsed.messages[0].message_id == "m-1"
    assert parse_sqs_body(parsed.messages[0].body) == (Work(ImageRef(BUCKET, "a.jpg"), from_upload=True),)


def test_sqs_record_without_message_id_is_a_malformed_batch() -> None:
    with pytest.raises(InvalidEventError, match="messageId"):
        parse_event({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})


def test_s3_test_event_body_has_no_records() -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert parse_sqs_body(body) == ()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json at all", "not JSON"),
        (json.dumps({"hello": "world"}), "SQS body is not an S3 event notification"),
        (json.dumps({"Records": [{"eventSource": "aws:sns"}]}), "SQS body is not an S3 event notification"),
        (json.dumps([1, 2]), "SQS body is not an S3 event notification"),
        (None, "expected a JSON string"),
    ],
)
def test_sqs_bodies_of_no_accepted_shape_are_invalid(body: object, fragment: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_sqs_body(body)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("body", [json.dumps({"hello": "world"}), json.dumps([1, 2]), json.dumps("text")])
def test_an_unknown_sqs_body_names_every_accepted_shape(body: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_sqs_body(body)
    message = str(raised.value)
    assert '"eventSource": "aws:s3"' in message and '"object_name": str' in message
    assert '"detail-type": "Object Created"' in message


def test_a_direct_payload_in_an_sqs_body_is_one_requested_image() -> None:
    # Lambda's asynchronous-invocation dead-letter queue holds the original payload as the body:
    # a request, not an upload, so it is analysed whatever the object's metadata says.
    assert parse_sqs_body(json.dumps({"bucket": BUCKET, "object_name": "a b.jpg"})) == (
        Work(ImageRef(BUCKET, "a b.jpg", None), from_upload=False),
    )
    versioned = json.dumps({"bucket": BUCKET, "object_name": "a.jpg", "version_id": "v7"})
    assert parse_sqs_body(versioned) == (Work(ImageRef(BUCKET, "a.jpg", "v7")),)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"bucket": BUCKET}, '"object_name" must be a non-empty string'),
        ({"object_name": "a.jpg"}, '"bucket" must be a non-empty string'),
        ({"bucket": BUCKET, "object_name": "a.jpg", "version_id": ""}, '"version_id" must be'),
        ({"bucket": "no", "object_name": "a.jpg"}, "is not a valid S3 bucket name"),
    ],
)
def test_a_malformed_direct_payload_in_an_sqs_body_is_an_error_in_place(payload: dict, fragment: str) -> None:
    (error,) = parse_sqs_body(json.dumps(payload))
    assert isinstance(error, InvalidEventError) and fragment in str(error)
    assert error.bucket == payload.get("bucket")
