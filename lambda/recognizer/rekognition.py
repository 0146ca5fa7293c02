"""The RecognizeCelebrities call and the mapping of its errors to named ones.

Throttling and 5xx are retried inside botocore per the client's retry Config (bounded by
REKOGNITION_MAX_ATTEMPTS); what reaches this module has exhausted those attempts.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors
from recognizer.contract import ImageRef
from recognizer.errors import (
    ImageTooLargeError,
    InvalidImageError,
    RecognitionError,
    RekognitionAccessDeniedError,
    RekognitionCannotReadError,
    RekognitionThrottledError,
    ServiceUnavailableError,
    UnexpectedServiceError,
    UnsupportedImageFormatError,
)

_THROTTLED = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException"})


def recognize_celebrities(client: Any, ref: ImageRef) -> dict[str, Any]:
    """Rekognition's raw response for the object version in ``ref`` (read by Rekognition from S3)."""
    s3_object: dict[str, str] = {"Bucket": ref.bucket, "Name": ref.key}
    if ref.version_id:
        s3_object["Version"] = ref.version_id
    try:
        response: dict[str, Any] = client.recognize_celebrities(Image={"S3Object": s3_object})
    except ClientError as error:
        raise map_rekognition_error(error, ref) from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "Rekognition") from error
    return response


def map_rekognition_error(error: ClientError, ref: ImageRef) -> RecognitionError:
    code = aws_errors.error_code(error)
    detail = aws_errors.describe_client_error(error)
    where = ref.describe()
    named = ref.error_fields()
    if code == "InvalidImageFormatException":
        return UnsupportedImageFormatError(
            f"Rekognition cannot decode {where} ({detail}): expected a valid JPEG or PNG image", **named
        )
    if code == "ImageTooLargeException":
        return ImageTooLargeError(
            f"{where} is too large for Rekognition ({detail}): expected at most 15 MB", **named
        )
    if code == "InvalidParameterException":
        return InvalidImageError(
            f"Rekognition rejected {where} ({detail}): expected a JPEG or PNG of at least 80x80 px", **named
        )
    if code == "InvalidS3ObjectException":
        # S3 served the object to this role moments ago: most likely Rekognition runs in another
        # region than the bucket, or may not use its KMS key. Retried; if the object was deleted
        # meanwhile, the retry's S3 read records that instead.
        return RekognitionCannotReadError(
            f"Rekognition could not read {where} ({detail}): expected a bucket in the function's region "
            "whose objects (and KMS key, if any) the function role may read",
            **named,
        )
    if code == "AccessDeniedException":
        return RekognitionAccessDeniedError(
            f"Rekognition refused to analyse {where} ({detail}): the function role needs "
            "rekognition:RecognizeCelebrities on Resource '*'",
            **named,
        )
    if code in _THROTTLED:
        return RekognitionThrottledError(
            f"Rekognition kept throttling the analysis of {where} after retries ({detail})", **named
        )
    if aws_errors.is_transient(error):
        return ServiceUnavailableError(
            f"Rekognition kept failing for {where} after retries ({detail})", **named
        )
    return UnexpectedServiceError(f"Rekognition failed for {where} ({detail})", **named)
