"""The content digest: S3's stored full-object SHA-256 when there is one, else the bytes hashed (moto S3)."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from typing import Any

import pytest
from botocore.response import StreamingBody

from recognizer import clients
from recognizer.content_hash import content_sha256, full_object_sha256
from recognizer.contract import MAX_IMAGE_BYTES, ImageRef
from recognizer.image_checks import HEAD_BYTES
from recognizer.probe import ObjectHead, read_head
from tests.handler.recognizer_testkit import BUCKET, AwsAnswers, object_body, png_bytes

SMALL = png_bytes(100, 100)
# Past the probe's range: the digest needs all of the object. Bytes after IEND are ignored by decoders.
LARGE = png_bytes(100, 100) + bytes(range(256)) * 400


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(digest: str) -> str:
    return base64.b64encode(bytes.fromhex(digest)).decode()


def digest_of(key: str, version_id: str) -> tuple[str | None, list[dict[str, Any]]]:
    """content_sha256 as the function calls it, after its probe; and the GetObject requests made."""
    ref = ImageRef(BUCKET, key, version_id)
    with AwsAnswers(clients.s3()) as s3:
        digest = content_sha256(clients.s3(), ref, read_head(clients.s3(), ref))
    return digest, [params for operation, params in s3.calls if operation == "GetObject"]


def upload(versioned: Any, key: str, body: bytes, **extra: Any) -> str:
    return versioned.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)["VersionId"]


def test_an_object_within_the_probes_range_is_hashed_from_the_probes_bytes(versioned: Any) -> None:
    assert len(SMALL) < HEAD_BYTES
    digest, requests = digest_of("small.png", upload(versioned, "small.png", SMALL))
    assert digest == sha(SMALL)
    assert len(requests) == 1  # the probe only


def test_a_stored_full_object_sha256_is_used(versioned: Any) -> None:
    version = upload(versioned, "large.png", LARGE, ChecksumAlgorithm="SHA256")
    digest, (_, digest_request) = digest_of("large.png", version)
    assert digest == sha(LARGE)
    assert digest_request["ChecksumMode"] == "ENABLED" and digest_request["VersionId"] == version
    assert "Range" not in digest_request


class Unread(io.BytesIO):
    def read(self, *_: Any) -> bytes:
        raise AssertionError("the body was read although S3's checksum was there")


def test_the_stored_checksum_is_taken_and_the_body_left_unread(aws: None) -> None:
    ref = ImageRef(BUCKET, "large.png", "v1")
    stored = sha(b"the bytes S3 checksummed")
    body = Unread(LARGE)
    probe = object_body(LARGE[:HEAD_BYTES]) | {
        "ContentRange": f"bytes 0-{HEAD_BYTES - 1}/{len(LARGE)}",
        "VersionId": "v1",
    }
    whole = {
        "Body": StreamingBody(body, len(LARGE)),
        "ContentLength": len(LARGE),
        "ChecksumSHA256": b64(stored),
        "ChecksumType": "FULL_OBJECT",
    }
    with AwsAnswers(clients.s3()) as s3:
        s3.response("GetObject", lambda: probe)
        s3.response("GetObject", lambda: whole)
        digest = content_sha256(clients.s3(), ref, read_head(clients.s3(), ref))
    assert digest == stored
    assert body.closed  # and never read


def test_an_object_without_a_sha256_checksum_is_hashed(versioned: Any) -> None:
    version = upload(versioned, "large.png", LARGE)  # botocore's default checksum: CRC32
    digest, requests = digest_of("large.png", version)
    assert digest == sha(LARGE) and len(requests) == 2


def test_a_multipart_sha256_checksum_is_not_the_contents_and_the_bytes_are_hashed(versioned: Any) -> None:
    part_size = 5 * 1024 * 1024  # S3's minimum for every part but the last
    body = LARGE + bytes(part_size)
    upload_id = versioned.create_multipart_upload(Bucket=BUCKET, Key="mp.png", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    parts = []
    for number, start in enumerate(range(0, len(body), part_size), start=1):
        chunk = body[start : start + part_size]
        part = versioned.upload_part(
            Bucket=BUCKET,
            Key="mp.png",
            UploadId=upload_id,
            PartNumber=number,
            Body=chunk,
            ChecksumAlgorithm="SHA256",
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]})
    version = versioned.complete_multipart_upload(
        Bucket=BUCKET, Key="mp.png", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )["VersionId"]
    head = versioned.get_object(Bucket=BUCKET, Key="mp.png", ChecksumMode="ENABLED")
    head["Body"].close()
    assert head["ChecksumType"] == "COMPOSITE" and head["ChecksumSHA256"].endswith("-2")
    digest, _ = digest_of("mp.png", version)
    assert digest == sha(body)


@pytest.mark.parametrize(
    ("response", "digest"),
    [
        ({"ChecksumSHA256": b64(sha(b"x")), "ChecksumType": "FULL_OBJECT"}, sha(b"x")),
        ({"ChecksumSHA256": b64(sha(b"x"))}, sha(b"x")),  # responses naming no type (moto, older S3)
        ({"ChecksumSHA256": b64(sha(b"x")), "ChecksumType": "COMPOSITE"}, None),
        ({"ChecksumSHA256": b64(sha(b"x")) + "-3"}, None),  # a composite value as S3 writes it
        ({"ChecksumSHA256": base64.b64encode(b"short").decode()}, None),
        ({"ChecksumCRC32": "/gcRcQ=="}, None),  # not collision-resistant
        ({}, None),
    ],
)
def test_only_a_full_object_sha256_is_a_digest(response: dict[str, Any], digest: str | None) -> None:
    assert full_object_sha256(response) == digest


def test_a_digest_that_cannot_be_read_costs_only_the_deduplication(
    versioned: Any, caplog: pytest.LogCaptureFixture
) -> None:
    version = upload(versioned, "large.png", LARGE)
    ref = ImageRef(BUCKET, "large.png", version)
    head = read_head(clients.s3(), ref)
    with AwsAnswers(clients.s3()) as s3:
        s3.error("GetObject", "AccessDenied", status=403)
        assert content_sha256(clients.s3(), ref, head) is None
    (record,) = caplog.records
    assert (record.levelno, record.getMessage()) == (
        logging.WARNING,
        "content digest not available; analysing without deduplication",
    )
    assert record.key == "large.png" and "AccessDenied" in record.error_message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("served", "length"),
    [(LARGE[:-1], len(LARGE)), (bytes(MAX_IMAGE_BYTES + 1), MAX_IMAGE_BYTES + 1)],
    ids=["shorter than announced", "over 15 MB"],
)
def test_bytes_that_are_not_the_probed_object_give_no_digest(aws: None, served: bytes, length: int) -> None:
    # An unversioned key overwritten between the probe and the digest's read.
    ref = ImageRef(BUCKET, "large.png")
    head = ObjectHead(None, len(LARGE), LARGE[:HEAD_BYTES], {})
    with AwsAnswers(clients.s3()) as s3:
        s3.response("GetObject", lambda: {"Body": StreamingBody(io.BytesIO(served), len(served)),
                                          "ContentLength": length})  # fmt: skip
        assert content_sha256(clients.s3(), ref, head) is None
