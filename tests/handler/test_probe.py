"""The ranged S3 read: version pinning, sizes and the mapping of S3 errors to named ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import ANALYSIS_METADATA_KEY, ANALYSIS_ON_REQUEST, ImageRef
from recognizer.errors import (
    EmptyImageError,
    ImageAccessDeniedError,
    ImageArchivedError,
    ImageNotFoundError,
    ServiceUnavailableError,
    UnexpectedServiceError,
    WrongRegionError,
)
from recognizer.probe import read_head, total_size
from tests.handler.recognizer_testkit import BUCKET, FakeHttp, png_bytes, s3_error_xml


def test_unversioned_object_has_no_version_and_full_size(images: dict[str, bytes]) -> None:
    head = read_head(clients.s3(), ImageRef(BUCKET, "group.png"))
    assert head.version_id is None
    assert head.total_size == len(images["group.png"])
    assert head.head == images["group.png"]
    assert head.metadata == {}


def test_user_metadata_is_read_with_lower_case_names(s3: Any) -> None:
    # S3 keeps x-amz-meta-* names in lower case, whatever the uploader wrote.
    s3.put_object(
        Bucket=BUCKET, Key="a.png", Body=png_bytes(100, 100), Metadata={"Analysis": ANALYSIS_ON_REQUEST}
    )
    head = read_head(clients.s3(), ImageRef(BUCKET, "a.png"))
    assert head.metadata == {ANALYSIS_METADATA_KEY: ANALYSIS_ON_REQUEST}


def test_only_the_first_bytes_are_read_but_the_total_size_is_known(s3: Any) -> None:
    body = png_bytes(100, 100) + b"\0" * 200_000
    s3.put_object(Bucket=BUCKET, Key="big.png", Body=body)
    head = read_head(clients.s3(), ImageRef(BUCKET, "big.png"))
    assert len(head.head) == 65536
    assert head.total_size == len(body)


def test_the_served_version_is_pinned(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key="a.png", Body=png_bytes(100, 100))["VersionId"]
    latest = s3.put_object(Bucket=BUCKET, Key="a.png", Body=png_bytes(200, 200))["VersionId"]
    assert read_head(clients.s3(), ImageRef(BUCKET, "a.png")).version_id == latest
    pinned = read_head(clients.s3(), ImageRef(BUCKET, "a.png", first))
    assert pinned.version_id == first and pinned.head == png_bytes(100, 100)


@pytest.mark.parametrize(
    ("ref", "error", "fragment"),
    [
        (
            ImageRef(BUCKET, "missing.jpg"),
            ImageNotFoundError,
            "s3://photos-bucket/missing.jpg was not found (NoSuchKey",
        ),
        (
            ImageRef("other-bucket", "a.jpg"),
            ImageNotFoundError,
            "s3://other-bucket/a.jpg was not found (NoSuchBucket",
        ),
        (ImageRef(BUCKET, "empty.jpg"), EmptyImageError, "s3://photos-bucket/empty.jpg is empty (0 bytes)"),
    ],
)
def test_moto_errors_are_named(images: dict[str, bytes], ref: ImageRef, error: type, fragment: str) -> None:
    with pytest.raises(error) as raised:
        read_head(clients.s3(), ref)
    assert fragment in str(raised.value)


def test_missing_version_is_not_found(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=png_bytes(100, 100))
    with pytest.raises(ImageNotFoundError, match=r"s3://photos-bucket/a.png \(version nope\) was not found"):
        read_head(clients.s3(), ImageRef(BUCKET, "a.png", "nope"))


KMS_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/fn-role/fn is not authorized to perform: kms:Decrypt "
    "on resource: arn:aws:kms:us-east-1:123456789012:key/1234abcd because no identity-based policy allows it"
)


@pytest.mark.parametrize(
    ("code", "status", "message", "error", "fragment"),
    [
        (
            "AccessDenied",
            403,
            "msg",
            ImageAccessDeniedError,
            "Access to s3://photos-bucket/k.jpg was denied (AccessDenied",
        ),
        ("AccessDenied", 403, KMS_DENIED, ImageAccessDeniedError, "and kms:Decrypt for SSE-KMS"),
        ("KMS.DisabledException", 400, "key disabled", ImageAccessDeniedError, "(KMS.DisabledException"),
        ("KMS.NotFoundException", 400, "no key", ImageAccessDeniedError, "needs s3:GetObject"),
        ("403", 403, "msg", ImageAccessDeniedError, "needs s3:GetObject"),
        ("404", 404, "msg", ImageNotFoundError, "s3://photos-bucket/k.jpg was not found"),
        (
            "PermanentRedirect",
            301,
            "msg",
            WrongRegionError,
            "Bucket 'photos-bucket' of s3://photos-bucket/k.jpg is in",
        ),
        (
            "AuthorizationHeaderMalformed",
            400,
            "msg",
            WrongRegionError,
            "Rekognition only reads buckets in its own",
        ),
        ("InvalidObjectState", 403, "msg", ImageArchivedError, "is archived"),
        ("SlowDown", 503, "msg", ServiceUnavailableError, "S3 kept failing for s3://photos-bucket/k.jpg"),
        ("InternalError", 500, "msg", ServiceUnavailableError, "after retries"),
        ("WeirdNewError", 400, "msg", UnexpectedServiceError, "WeirdNewError"),
    ],
)
def test_s3_error_codes_are_named(code: str, status: int, message: str, error: type, fragment: str) -> None:
    client = clients.s3()
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_object", service_error_code=code, service_message=message, http_status_code=status
        )
        with pytest.raises(error) as raised:
            read_head(client, ImageRef(BUCKET, "k.jpg"))
    assert type(raised.value) is error
    assert fragment in str(raised.value)
    assert raised.value.bucket == BUCKET and raised.value.key == "k.jpg"


def redirect_response(fake: FakeHttp) -> FakeHttp:
    return fake.add_raw(
        301,
        {"x-amz-bucket-region": "eu-west-1", "Content-Type": "application/xml"},
        s3_error_xml(
            "PermanentRedirect",
            "The bucket you are attempting to access must be addressed using the specified endpoint.",
            Endpoint="photos-bucket.s3.eu-west-1.amazonaws.com",
            Bucket=BUCKET,
        ),
    )


def test_a_bucket_in_another_region_is_reported_not_followed(fake_http: Callable[[Any], FakeHttp]) -> None:
    fake = redirect_response(fake_http(clients.s3()))
    with pytest.raises(WrongRegionError, match="is in eu-west-1, not the function's region"):
        read_head(clients.s3(), ImageRef(BUCKET, "k.jpg"))
    assert fake.requests == 1


def test_without_the_guard_botocore_would_follow_the_redirect() -> None:
    # Proves the guard is what stops the redirect (and that the fake redirect is realistic).
    plain = boto3.client("s3")
    fake = redirect_response(FakeHttp(plain))
    body = png_bytes(100, 100)
    fake.add_raw(
        206, {"Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}", "Content-Length": str(len(body))}, body
    )
    assert read_head(plain, ImageRef(BUCKET, "k.jpg")).head == body
    assert fake.requests == 2 and "eu-west-1" in fake.urls[1]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"ContentRange": "bytes 0-65535/20000000", "ContentLength": 65536}, 20_000_000),
        ({"ContentRange": "bytes */0"}, 0),
        ({"ContentLength": 1234}, 1234),
        ({}, 99),
    ],
)
def test_total_size(response: dict[str, Any], expected: int) -> None:
    assert total_size(response, 99) == expected
