"""RecognizeCelebrities: request shape, error mapping, and botocore's retry config in action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import ImageRef
from recognizer.errors import (
    DeploymentError,
    ImageTooLargeError,
    InvalidImageError,
    RekognitionAccessDeniedError,
    RekognitionCannotReadError,
    RekognitionThrottledError,
    ServiceUnavailableError,
    UnexpectedServiceError,
    UnsupportedImageFormatError,
)
from recognizer.rekognition import recognize_celebrities
from recognizer.settings import Settings
from tests.handler.recognizer_testkit import BUCKET, FakeHttp, celebrities_response, celebrity_face

REF = ImageRef(BUCKET, "team.jpg", "v42")


def test_the_pinned_version_is_sent() -> None:
    client = clients.rekognition(Settings())
    response = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 99.0), unrecognized=1)
    with Stubber(client) as stub:
        stub.add_response(
            "recognize_celebrities",
            response,
            {"Image": {"S3Object": {"Bucket": BUCKET, "Name": "team.jpg", "Version": "v42"}}},
        )
        assert recognize_celebrities(client, REF) == response
        stub.add_response(
            "recognize_celebrities", response, {"Image": {"S3Object": {"Bucket": BUCKET, "Name": "a"}}}
        )
        recognize_celebrities(client, ImageRef(BUCKET, "a"))


@pytest.mark.parametrize(
    ("code", "status", "error", "fragment"),
    [
        ("InvalidImageFormatException", 400, UnsupportedImageFormatError, "expected a valid JPEG or PNG"),
        ("ImageTooLargeException", 400, ImageTooLargeError, "expected at most 15 MB"),
        ("InvalidParameterException", 400, InvalidImageError, "at least 80x80 px"),
        ("InvalidS3ObjectException", 400, RekognitionCannotReadError, "bucket in the function's region"),
        ("AccessDeniedException", 403, RekognitionAccessDeniedError, "rekognition:RecognizeCelebrities"),
        ("ThrottlingException", 400, RekognitionThrottledError, "kept throttling"),
        ("ProvisionedThroughputExceededException", 400, RekognitionThrottledError, "kept throttling"),
        ("InternalServerError", 500, ServiceUnavailableError, "kept failing"),
        ("SomethingNewException", 400, UnexpectedServiceError, "SomethingNewException"),
    ],
)
def test_every_error_code_is_named(code: str, status: int, error: type, fragment: str) -> None:
    client = clients.rekognition(Settings())
    with Stubber(client) as stub:
        stub.add_client_error("recognize_celebrities", code, "the service said no", http_status_code=status)
        with pytest.raises(error) as raised:
            recognize_celebrities(client, REF)
    message = str(raised.value)
    assert fragment in message
    assert "s3://photos-bucket/team.jpg (version v42)" in message
    assert f"{code}: the service said no" in message
    # Only the image's own problems are final; the deployment's and the service's are retried.
    assert raised.value.retryable is not issubclass(
        error, UnsupportedImageFormatError | ImageTooLargeError | InvalidImageError
    )
    assert isinstance(raised.value, DeploymentError) is (
        error in (RekognitionCannotReadError, RekognitionAccessDeniedError)
    )


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_throttling_is_retried_by_botocore_then_succeeds(
    mode: str, no_sleep: list[float], fake_http: Callable[[Any], FakeHttp]
) -> None:
    client = clients.rekognition(Settings(rekognition_retry_mode=mode, rekognition_max_attempts=3))
    fake = fake_http(client)
    fake.add_json_error(400, "ThrottlingException", "Rate exceeded")
    fake.add_json_error(400, "ProvisionedThroughputExceededException")
    fake.add_json(200, celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 99.0)))
    response = recognize_celebrities(client, REF)
    assert response["CelebrityFaces"][0]["Name"] == "Jeff Bezos"
    assert fake.requests == 3
    assert len([d for d in no_sleep if d > 0]) >= 2  # backoff happened (and was not slept)


@pytest.mark.parametrize(
    ("attempts", "code", "status", "error"),
    [
        (2, "ThrottlingException", 400, RekognitionThrottledError),
        (4, "InternalServerError", 500, ServiceUnavailableError),
    ],
)
def test_retries_are_bounded_by_max_attempts(
    attempts: int,
    code: str,
    status: int,
    error: type,
    no_sleep: list[float],
    fake_http: Callable[[Any], FakeHttp],
) -> None:
    client = clients.rekognition(Settings(rekognition_max_attempts=attempts))
    fake = fake_http(client)
    for _ in range(attempts):
        fake.add_json_error(status, code)
    with pytest.raises(error) as raised:
        recognize_celebrities(client, REF)
    assert raised.value.retryable
    assert fake.requests == attempts


def test_permanent_errors_are_not_retried(
    no_sleep: list[float], fake_http: Callable[[Any], FakeHttp]
) -> None:
    client = clients.rekognition(Settings(rekognition_max_attempts=5))
    fake = fake_http(client).add_json_error(
        400, "InvalidImageFormatException", "Request has invalid image format"
    )
    with pytest.raises(UnsupportedImageFormatError):
        recognize_celebrities(client, REF)
    assert fake.requests == 1
