"""Direct invocation end to end: moto S3/DynamoDB, Stubber (or fake HTTP) for Rekognition."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import handler
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import read_result
from recognizer.dispatch import handle
from recognizer.errors import (
    ConfigurationError,
    EmptyImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImageTooSmallError,
    InvalidEventError,
    InvalidImageError,
    RekognitionAccessDeniedError,
    RekognitionCannotReadError,
    RekognitionThrottledError,
    ServiceUnavailableError,
    UnsupportedImageFormatError,
)
from recognizer.settings import load_settings
from tests.handler.recognizer_testkit import (
    BUCKET,
    FakeHttp,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    expect_recognition_error,
    png_bytes,
)

TEAM = celebrities_response(
    celebrity_face("Andy Jassy", "2Pd9tZ", 91.0),
    celebrity_face("Werner Vogels", "3Ir0du6", 99.9, gender=None),
    celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5),
    unrecognized=2,
)


def invoke(key: str, **extra: str) -> dict[str, Any]:
    return handler.lambda_handler({"bucket": BUCKET, "object_name": key, **extra}, None)


def test_result_shape_and_order(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "portrait.jpg", TEAM)
    result = invoke("portrait.jpg")
    assert set(result) == {"bucket", "key", "version_id", "celebrities", "unrecognized_faces", "analyzed_at"}
    assert (result["bucket"], result["key"], result["version_id"]) == (BUCKET, "portrait.jpg", None)
    assert [c["name"] for c in result["celebrities"]] == ["Werner Vogels", "Jeff Bezos", "Andy Jassy"]
    assert [c["confidence"] for c in result["celebrities"]] == [99.9, 98.5, 91.0]
    assert result["celebrities"][0]["known_gender"] is None
    assert result["celebrities"][1] == {
        "name": "Jeff Bezos",
        "id": "1SK7cR8M",
        "confidence": 98.5,
        "face_confidence": 99.9,
        "urls": ["www.wikidata.org/wiki/Q1SK7cR8M", "www.imdb.com/name/nm1SK7cR8M"],
        "known_gender": "Male",
        "bounding_box": {"width": 0.25, "height": 0.3, "left": 0.1, "top": 0.2},
    }
    assert result["unrecognized_faces"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["analyzed_at"])
    assert json.loads(json.dumps(result)) == result
    assert read_result(result) == result


def test_the_version_s3_served_is_analysed_and_returned(s3: Any, rekognition: Stubber) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    new = s3.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(120, 120))["VersionId"]
    expect_recognition(rekognition, "v.png", TEAM, version_id=new)
    assert invoke("v.png")["version_id"] == new
    expect_recognition(rekognition, "v.png", celebrities_response(), version_id=old)
    assert invoke("v.png", version_id=old)["version_id"] == old


def test_min_confidence_from_the_environment(
    images: dict[str, bytes], rekognition: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_CONFIDENCE", "95")
    expect_recognition(rekognition, "group.png", TEAM)
    assert [c["name"] for c in invoke("group.png")["celebrities"]] == ["Werner Vogels", "Jeff Bezos"]


def test_no_face_is_an_empty_list_not_an_error(images: dict[str, bytes], rekognition: Stubber) -> None:
    expect_recognition(rekognition, "group.png", {"CelebrityFaces": [], "UnrecognizedFaces": []})
    result = invoke("group.png")
    assert result["celebrities"] == [] and result["unrecognized_faces"] == 0


@pytest.mark.parametrize(
    ("key", "error", "fragment"),
    [
        ("notes.txt", UnsupportedImageFormatError, "s3://photos-bucket/notes.txt is not a JPEG or PNG image"),
        ("tiny.png", ImageTooSmallError, "s3://photos-bucket/tiny.png is 40x40 px"),
        ("tiny.jpg", ImageTooSmallError, "s3://photos-bucket/tiny.jpg is 40x40 px"),
        ("empty.jpg", EmptyImageError, "s3://photos-bucket/empty.jpg is empty"),
        ("missing.jpg", ImageNotFoundError, "s3://photos-bucket/missing.jpg was not found"),
    ],
)
def test_rejected_before_rekognition_is_called(
    images: dict[str, bytes], rekognition: Stubber, key: str, error: type, fragment: str
) -> None:
    # Nothing is queued on the Stubber: any RecognizeCelebrities call would fail the test.
    with pytest.raises(error) as raised:
        invoke(key)
    assert fragment in str(raised.value)


def test_a_missing_bucket_is_named(aws: None, rekognition: Stubber) -> None:
    with pytest.raises(ImageNotFoundError, match=r"s3://no-such-bucket/a.jpg was not found \(NoSuchBucket"):
        handler.lambda_handler({"bucket": "no-such-bucket", "object_name": "a.jpg"}, None)


def test_an_unmeasurable_jpeg_goes_to_rekognition(images: dict[str, bytes], rekognition: Stubber) -> None:
    # deep-sof.jpg is 40x40 but its size lies beyond the first 64 KB, so Rekognition decides.
    expect_recognition_error(rekognition, "deep-sof.jpg", "InvalidParameterException")
    with pytest.raises(InvalidImageError, match=r"s3://photos-bucket/deep-sof\.jpg"):
        invoke("deep-sof.jpg")


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("InvalidImageFormatException", 400, UnsupportedImageFormatError),
        ("ImageTooLargeException", 400, ImageTooLargeError),
        ("InvalidParameterException", 400, InvalidImageError),
        ("InvalidS3ObjectException", 400, RekognitionCannotReadError),
        ("AccessDeniedException", 403, RekognitionAccessDeniedError),
        ("ThrottlingException", 400, RekognitionThrottledError),
        ("ProvisionedThroughputExceededException", 400, RekognitionThrottledError),
        ("InternalServerError", 500, ServiceUnavailableError),
    ],
)
def test_rekognition_errors_surface_as_named_errors(
    images: dict[str, bytes], rekognition: Stubber, code: str, status: int, error: type
) -> None:
    expect_recognition_error(rekognition, "group.png", code, status)
    with pytest.raises(error) as raised:
        invoke("group.png")
    assert type(raised.value) is error  # Lambda's errorType is exactly this class name
    assert "s3://photos-bucket/group.png" in str(raised.value)


def test_retry_settings_reach_the_rekognition_client(
    images: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    no_sleep: list[float],
    fresh_clients: None,
    fake_http: Callable[[Any], FakeHttp],
) -> None:
    monkeypatch.setenv("REKOGNITION_MAX_ATTEMPTS", "2")
    # A non-AWS endpoint keeps moto out of the way so the fake HTTP layer alone answers.
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://rekognition.test")
    fake = fake_http(clients.rekognition(load_settings()))
    fake.add_json_error(400, "ThrottlingException").add_json_error(400, "ThrottlingException")
    with pytest.raises(RekognitionThrottledError, match="kept throttling"):
        invoke("group.png")
    assert fake.requests == 2
    fake.add_json_error(400, "ThrottlingException").add_json(200, TEAM)
    assert len(invoke("group.png")["celebrities"]) == 3
    assert fake.requests == 4


def test_bad_environment_is_a_configuration_error(
    images: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_CONFIDENCE", "abc")
    with pytest.raises(ConfigurationError, match="MIN_CONFIDENCE='abc' is not a number from 0 to 100"):
        invoke("group.png")


def test_an_explicit_environment_replaces_the_process_one(
    images: dict[str, bytes], rekognition: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_CONFIDENCE", "abc")  # would be refused, but is not read
    expect_recognition(rekognition, "group.png", TEAM)
    result = handle({"bucket": BUCKET, "object_name": "group.png"}, None, environ={"MIN_CONFIDENCE": "95"})
    assert [c["name"] for c in result["celebrities"]] == ["Werner Vogels", "Jeff Bezos"]


def test_an_unknown_event_is_an_invalid_event_error() -> None:
    with pytest.raises(InvalidEventError, match="expected a direct invocation"):
        handler.lambda_handler({"key": "a.jpg"}, None)


def test_an_object_over_15_mb_is_rejected_from_its_content_range(aws: None, rekognition: Stubber) -> None:
    head = png_bytes(100, 100)
    with Stubber(clients.s3()) as s3:
        s3.add_response(
            "get_object",
            {
                "Body": StreamingBody(io.BytesIO(head), len(head)),
                "ContentLength": len(head),
                "ContentRange": f"bytes 0-{len(head) - 1}/20000000",
            },
            {"Bucket": BUCKET, "Key": "huge.png", "Range": "bytes=0-65535"},
        )
        with pytest.raises(ImageTooLargeError, match=r"s3://photos-bucket/huge\.png is 20000000 bytes"):
            invoke("huge.png")
