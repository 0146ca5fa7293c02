"""Failures the deployment causes (a grant, a KMS key, a region) are never a verdict on the image.

They are retried: a direct invocation raises the named error, an SQS message comes back (and ends
in the dead-letter queue, redrivable once the deployment is fixed), an upload event is retried by
Lambda. Nothing is recorded in the table, and the record is logged at ERROR: an operator must act.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import handler
import pytest
from botocore.stub import Stubber

from recognizer.contract import may_succeed_later
from recognizer.errors import (
    DeploymentError,
    ImageAccessDeniedError,
    ImageArchivedError,
    RekognitionAccessDeniedError,
    RekognitionCannotReadError,
    WrongRegionError,
)
from tests.handler.recognizer_testkit import (
    BUCKET,
    AwsAnswers,
    by_message_id,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    expect_recognition_error,
    image_records,
    s3_event,
    sqs_event,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5))
KMS_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/fn-role/fn is not authorized to perform: kms:Decrypt on "
    "resource: arn:aws:kms:us-east-1:123456789012:key/1234abcd because no identity-based policy allows it"
)


def s3_denies(code: str, message: str, status: int, **fields: str) -> Callable[[AwsAnswers, Stubber], None]:
    def arrange(s3: AwsAnswers, rekognition: Stubber) -> None:
        s3.error("GetObject", code, message, status=status, when=lambda p: p["Key"] == "group.png", **fields)

    return arrange


def rekognition_denies(code: str, status: int) -> Callable[[AwsAnswers, Stubber], None]:
    def arrange(s3: AwsAnswers, rekognition: Stubber) -> None:
        expect_recognition_error(rekognition, "group.png", code, status)

    return arrange


DEPLOYMENT_FAILURES = {
    "s3 access denied": (s3_denies("AccessDenied", "Access Denied", 403), ImageAccessDeniedError),
    "kms decrypt denied": (s3_denies("AccessDenied", KMS_DENIED, 403), ImageAccessDeniedError),
    "kms key disabled": (s3_denies("KMS.DisabledException", "key is disabled", 400), ImageAccessDeniedError),
    "bucket in another region": (
        s3_denies("PermanentRedirect", "use the eu-west-1 endpoint", 301, Region="eu-west-1"),
        WrongRegionError,
    ),
    "rekognition access denied": (
        rekognition_denies("AccessDeniedException", 403),
        RekognitionAccessDeniedError,
    ),
    "rekognition cannot read": (
        rekognition_denies("InvalidS3ObjectException", 400),
        RekognitionCannotReadError,
    ),
}


@pytest.mark.parametrize(("arrange", "error"), DEPLOYMENT_FAILURES.values(), ids=DEPLOYMENT_FAILURES.keys())
def test_a_direct_invocation_raises_the_named_error_and_records_nothing(
    images: dict[str, bytes],
    table: Any,
    rekognition: Stubber,
    s3_answers: AwsAnswers,
    caplog: pytest.LogCaptureFixture,
    arrange: Callable[[AwsAnswers, Stubber], None],
    error: type[DeploymentError],
) -> None:
    arrange(s3_answers, rekognition)
    with pytest.raises(error) as raised:
        handler.lambda_handler({"bucket": BUCKET, "object_name": "group.png"}, None)
    assert type(raised.value) is error and "s3://photos-bucket/group.png" in str(raised.value)
    assert table.scan()["Items"] == []
    (record,) = image_records(caplog.records)
    assert (record.levelno, record.outcome, record.error_type) == (logging.ERROR, "retry", error.__name__)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("arrange", "error"), DEPLOYMENT_FAILURES.values(), ids=DEPLOYMENT_FAILURES.keys())
def test_an_sqs_message_comes_back_and_nothing_is_recorded(
    images: dict[str, bytes],
    table: Any,
    rekognition: Stubber,
    s3_answers: AwsAnswers,
    caplog: pytest.LogCaptureFixture,
    arrange: Callable[[AwsAnswers, Stubber], None],
    error: type[DeploymentError],
) -> None:
    arrange(s3_answers, rekognition)
    expect_recognition(rekognition, "portrait.jpg", BEZOS)
    event = sqs_event(
        ("m-denied", json.dumps(s3_event("group.png"))), ("m-fine", json.dumps(s3_event("portrait.jpg")))
    )
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-denied"}]}
    assert {item["key"] for item in table.scan()["Items"]} == {"portrait.jpg"}
    denied = by_message_id(caplog.records)["m-denied"]
    assert (denied.levelno, denied.outcome, denied.error_type) == (logging.ERROR, "retry", error.__name__)  # type: ignore[attr-defined]
    assert by_message_id(caplog.records)["m-fine"].levelno == logging.INFO


def test_an_upload_event_is_retried_by_lambda(
    images: dict[str, bytes], table: Any, rekognition: Stubber, s3_answers: AwsAnswers
) -> None:
    s3_answers.error("GetObject", "AccessDenied", "Access Denied", status=403)
    with pytest.raises(ImageAccessDeniedError):
        handler.lambda_handler(s3_event("group.png"), None)
    assert table.scan()["Items"] == []


def test_once_the_deployment_is_fixed_the_redelivery_succeeds(
    images: dict[str, bytes], table: Any, rekognition: Stubber, s3_answers: AwsAnswers
) -> None:
    s3_answers.error("GetObject", "AccessDenied", KMS_DENIED, status=403)
    event = sqs_event(("m-1", json.dumps(s3_event("group.png"))))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    expect_recognition(rekognition, "group.png", BEZOS)  # the grant was added; the message redriven
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert {item["status"] for item in table.scan()["Items"] if "status" in item} == {"SUCCEEDED"}


def test_an_archived_object_is_recorded_as_a_failure_that_may_pass(
    images: dict[str, bytes], table: Any, rekognition: Stubber, s3_answers: AwsAnswers
) -> None:
    # Not the deployment's doing, and not the image's: restoring it is the fix, and
    # `celeb backfill --retry-failed` picks it up again.
    s3_answers.error(
        "GetObject",
        "InvalidObjectState",
        "The operation is not valid for the object's storage class",
        status=403,
    )
    with pytest.raises(ImageArchivedError):
        handler.lambda_handler({"bucket": BUCKET, "object_name": "group.png"}, None)
    (item,) = table.scan()["Items"]
    assert (item["status"], item["error_type"], item["failure_cause"]) == (
        "FAILED",
        "ImageArchivedError",
        "environment",
    )
    assert may_succeed_later(item)


def test_an_image_content_failure_is_final(
    images: dict[str, bytes], table: Any, rekognition: Stubber
) -> None:
    expect_recognition_error(rekognition, "group.png", "InvalidImageFormatException")
    event = sqs_event(("m-1", json.dumps(s3_event("group.png"))))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    (item,) = table.scan()["Items"]
    assert item["failure_cause"] == "image" and not may_succeed_later(item)
