"""S3 event notifications delivered straight to the function (asynchronous invocation)."""

from __future__ import annotations

from typing import Any

import handler
import pytest
from botocore.stub import Stubber
from recognizer.errors import RekognitionThrottledError
from recognizer_testkit import (
    BUCKET,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    expect_recognition_error,
    png_bytes,
    s3_event,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5))


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("red+flower.jpg", "red flower.jpg"),
        ("a%2Bb.png", "a+b.png"),
        ("caf%C3%A9/%E6%9D%B1%E4%BA%AC+%F0%9F%98%80.png", "café/東京 😀.png"),
    ],
)
def test_encoded_keys_reach_s3_and_rekognition_decoded(
    s3: Any, rekognition: Stubber, encoded: str, key: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(100, 100))
    expect_recognition(rekognition, key, BEZOS)
    (result,) = handler.lambda_handler(s3_event(encoded), None)["results"]
    assert result["key"] == key and result["celebrities"][0]["name"] == "Jeff Bezos"


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
    assert results[1]["error"]["type"] == "UnsupportedImageFormatError"
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
    stored = {item["sk"]: item for item in table.scan()["Items"] if item["key"] == "group.png"}
    assert len(stored) == 2
    assert not [
        item for item in table.scan()["Items"] if item["key"] == "portrait.jpg"
    ]  # retryable: unrecorded

    # Lambda's retry of the whole event: group.png is a duplicate, portrait.jpg now succeeds.
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    expect_recognition(rekognition, "group.png", BEZOS)
    results = handler.lambda_handler(event, None)["results"]
    assert [r["key"] for r in results] == ["portrait.jpg", "group.png"]
    assert len([item for item in table.scan()["Items"] if item["key"] == "group.png"]) == 2
