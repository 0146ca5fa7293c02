"""Upload events invoking the function directly: S3 notifications and EventBridge "Object Created"."""

from __future__ import annotations

from typing import Any

import handler
import pytest
from botocore.stub import Stubber

from recognizer.contract import ANALYSIS_METADATA_KEY, ANALYSIS_ON_REQUEST
from recognizer.errors import RekognitionThrottledError
from recognizer.events import decode_eventbridge_key
from tests.handler.recognizer_testkit import (
    BUCKET,
    LambdaContext,
    celebrities_response,
    celebrity_face,
    eventbridge_event,
    expect_recognition,
    expect_recognition_error,
    image_records,
    png_bytes,
    s3_event,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5))
ON_REQUEST = {ANALYSIS_METADATA_KEY: ANALYSIS_ON_REQUEST}


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("red+flower.jpg", "red flower.jpg"),
        ("a%2Bb.png", "a+b.png"),
        ("100%25+real.png", "100% real.png"),
        ("caf%C3%A9/%E6%9D%B1%E4%BA%AC+%F0%9F%98%80.png", "café/東京 😀.png"),
    ],
)
def test_s3_notification_keys_reach_s3_and_rekognition_decoded(
    s3: Any, rekognition: Stubber, encoded: str, key: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(100, 100))
    expect_recognition(rekognition, key, BEZOS)
    (result,) = handler.lambda_handler(s3_event(encoded), None)["results"]
    assert result["key"] == key and result["celebrities"][0]["name"] == "Jeff Bezos"


@pytest.mark.parametrize(
    "wire_key", ["red flower.jpg", "a+b.png", "100% real.png", "a%2Bb.png", "café/東京 😀.png"]
)
def test_an_eventbridge_event_analyses_the_object_its_key_names(
    versioned: Any, table: Any, rekognition: Stubber, wire_key: str
) -> None:
    key = decode_eventbridge_key(wire_key)
    version = versioned.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, key, BEZOS, version_id=version)
    (result,) = handler.lambda_handler(eventbridge_event(wire_key, version_id=version), None)["results"]
    assert (result["key"], result["version_id"]) == (key, version)
    assert table.get_item(Key={"pk": f"IMAGE#{BUCKET}/{key}", "sk": f"VERSION#{version}"})["Item"][
        "status"
    ] == ("SUCCEEDED")


def test_every_record_is_analysed_and_permanent_failures_are_entries(
    images: dict[str, bytes], rekognition: Stubber
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "portrait.jpg", celebrities_response())
    event = s3_event("group.png", "notes.txt", "portrait.jpg", "missing.jpg")
    event["Records"].append({"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}}})
    results = handler.lambda_handler(event, None)["results"]
    assert [r["key"] for r in results] == ["group.png", "notes.txt", "portrait.jpg", "missing.jpg", None]
    assert results[0]["celebrities"][0]["name"] == "Jeff Bezos"
    assert results[2]["celebrities"] == []
    assert (results[1]["outcome"], results[1]["error"]["type"]) == ("failed", "UnsupportedImageFormatError")
    assert "s3://photos-bucket/notes.txt" in results[1]["error"]["message"]
    assert results[3]["error"]["type"] == "ImageNotFoundError"
    assert results[4]["error"]["type"] == "InvalidEventError"


def test_a_retryable_failure_is_raised_after_the_others_are_stored(
    images: dict[str, bytes], table: Any, rekognition: Stubber
) -> None:
    event = s3_event("portrait.jpg", "group.png")
    expect_recognition_error(rekognition, "portrait.jpg", "ThrottlingException")
    expect_recognition(rekognition, "group.png", BEZOS)
    with pytest.raises(RekognitionThrottledError, match=r"s3://photos-bucket/portrait\.jpg"):
        handler.lambda_handler(event, None)
    rekognition.assert_no_pending_responses()  # group.png was analysed despite the earlier failure
    keys = [item["key"] for item in table.scan()["Items"]]
    assert sorted(keys) == ["group.png", "group.png"]  # portrait.jpg (retryable) is not recorded

    # Lambda's retry of the whole event: group.png is a duplicate, portrait.jpg now succeeds.
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    expect_recognition(rekognition, "group.png", BEZOS)  # unversioned: no GetItem shortcut
    results = handler.lambda_handler(event, None)["results"]
    assert [(r["key"], r.get("answered_from")) for r in results] == [
        ("portrait.jpg", None),
        ("group.png", "table"),
    ]
    assert len([item for item in table.scan()["Items"] if item["key"] == "group.png"]) == 2


# Objects uploaded by `celeb recognize` carry analysis=on-request: it invokes the function itself,
# so the upload's own event must not pay for a second RecognizeCelebrities call.


@pytest.mark.parametrize("shape", ["s3 notification", "eventbridge"])
def test_an_upload_event_skips_an_object_analysed_on_request(
    s3: Any, table: Any, rekognition: Stubber, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="mine.png", Body=png_bytes(100, 100), Metadata=ON_REQUEST)
    event = s3_event("mine.png") if shape == "s3 notification" else eventbridge_event("mine.png")
    # Nothing queued on the Stubber: a RecognizeCelebrities call would fail the test.
    (entry,) = handler.lambda_handler(event, LambdaContext())["results"]
    assert entry == {"bucket": BUCKET, "key": "mine.png", "version_id": None, "outcome": "skipped"}
    assert table.scan()["Items"] == []
    (record,) = image_records(caplog.records)
    assert (record.outcome, record.key, record.request_id) == ("skipped", "mine.png", "req-1")  # type: ignore[attr-defined]


def test_a_direct_invocation_analyses_an_object_marked_on_request(
    s3: Any, table: Any, rekognition: Stubber
) -> None:
    s3.put_object(Bucket=BUCKET, Key="mine.png", Body=png_bytes(100, 100), Metadata=ON_REQUEST)
    expect_recognition(rekognition, "mine.png", BEZOS)
    result = handler.lambda_handler({"bucket": BUCKET, "object_name": "mine.png"}, None)
    assert result["celebrities"][0]["name"] == "Jeff Bezos"
    assert {item["status"] for item in table.scan()["Items"] if "status" in item} == {"SUCCEEDED"}


def test_other_metadata_does_not_skip(s3: Any, rekognition: Stubber) -> None:
    s3.put_object(Bucket=BUCKET, Key="theirs.png", Body=png_bytes(100, 100), Metadata={"analysis": "later"})
    expect_recognition(rekognition, "theirs.png", BEZOS)
    (result,) = handler.lambda_handler(s3_event("theirs.png"), None)["results"]
    assert result["celebrities"][0]["name"] == "Jeff Bezos"
