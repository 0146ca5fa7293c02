"""One ranged S3 GetObject before Rekognition: existence, access, region, size and leading bytes."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors
from recognizer.contract import ImageRef
from recognizer.errors import (
    EmptyImageError,
    ImageAccessDeniedError,
    ImageArchivedError,
    ImageNotFoundError,
    RecognitionError,
    ServiceUnavailableError,
    UnexpectedServiceError,
    WrongRegionError,
)
from recognizer.image_checks import HEAD_BYTES

_CONTENT_RANGE = re.compile(r"bytes (?:\d+-\d+|\*)/(\d+)")
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "AccountProblem"})
_WRONG_REGION = frozenset(
    {"PermanentRedirect", "301", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)


class ObjectHead(NamedTuple):
    version_id: str | None  # the version S3 served; None for unversioned buckets
    total_size: int
    head: bytes
    metadata: dict[str, str]  # the object's user metadata (x-amz-meta-*, names in lower case)


def object_request(ref: ImageRef, **extra: str) -> dict[str, Any]:
    """GetObject's parameters for exactly the version in `ref` (the latest when it has none)."""
    request: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key, **extra}
    if ref.version_id:
        request["VersionId"] = ref.version_id
    return request


def read_head(s3: Any, ref: ImageRef, length: int = HEAD_BYTES) -> ObjectHead:
    """GetObject with a Range: raises the named error for anything that stops the analysis."""
    try:
        response = s3.get_object(**object_request(ref, Range=f"bytes=0-{length - 1}"))
        body = response["Body"]
        try:
            head = body.read()
        finally:
            body.close()
    except ClientError as error:
        raise map_s3_error(error, ref) from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "S3") from error
    metadata = response.get("Metadata")
    return ObjectHead(
        pinned_version(response.get("VersionId")),
        total_size(response, len(head)),
        head,
        metadata if isinstance(metadata, dict) else {},
    )


def pinned_version(version_id: Any) -> str | None:
    # Objects written before versioning was enabled report the literal "null": same as no version.
    if not isinstance(version_id, str) or not version_id or version_id == "null":
        return None
    return version_id


def total_size(response: dict[str, Any], received: int) -> int:
    """The object's full size: from Content-Range on a 206, else Content-Length (range ignored)."""
    match = _CONTENT_RANGE.fullmatch(str(response.get("ContentRange") or "").strip())
    if match:
        return int(match.group(1))
    length = response.get("ContentLength")
    return length if isinstance(length, int) and length >= 0 else received


def map_s3_error(error: ClientError, ref: ImageRef) -> RecognitionError:
    code = aws_errors.error_code(error)
    status = aws_errors.status_code(error)
    detail = aws_errors.describe_client_error(error)
    where = ref.describe()
    named = ref.error_fields()
    # Checked before the 403 rule: S3 answers an archived object with 403 InvalidObjectState.
    if code == "InvalidObjectState":
        return ImageArchivedError(
            f"{where} is archived ({detail}): restore it from its archive storage class before analysis",
            **named,
        )
    if code in _NOT_FOUND or status == 404 or (code == "InvalidArgument" and ref.version_id):
        return ImageNotFoundError(
            f"{where} was not found ({detail}): expected an existing object in bucket {ref.bucket!r}", **named
        )
    if code in _DENIED or code.startswith("KMS.") or status == 403:
        return ImageAccessDeniedError(
            f"Access to {where} was denied ({detail}): the function role needs s3:GetObject"
            f"{' and s3:GetObjectVersion' if ref.version_id else ''} on it (and kms:Decrypt for SSE-KMS)",
            **named,
        )
    if code in _WRONG_REGION or status in (301, 307):
        return WrongRegionError(
            f"Bucket {ref.bucket!r} of {where} is in {_bucket_region(error) or 'another region'}, not the "
            f"function's region ({detail}): Rekognition only reads buckets in its own region",
            **named,
        )
    if code == "InvalidRange" or status == 416:
        # S3 answers a ranged read of a 0-byte object with 416.
        return EmptyImageError(f"{where} is empty (0 bytes): expected a JPEG or PNG image", **named)
    if aws_errors.is_transient(error):
        return ServiceUnavailableError(f"S3 kept failing for {where} after retries ({detail})", **named)
    return UnexpectedServiceError(f"S3 GetObject failed for {where} ({detail})", **named)


def _bucket_region(error: ClientError) -> str | None:
    region = error.response.get("Error", {}).get("Region")
    if not region:
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        region = headers.get("x-amz-bucket-region")
    return str(region) if region else None
