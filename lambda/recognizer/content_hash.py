"""The SHA-256 of an image's bytes, which content deduplication keys its records by.

An object the probe read whole (up to its 64 KB) is hashed from those bytes: no further call. A
larger one takes one more GET of the pinned version: when S3 stored a full-object SHA-256 checksum
(an upload with `ChecksumAlgorithm="SHA256"` in one request, as `celeb` uploads) its response header
is the digest and the body is left unread; otherwise the body is streamed through SHA-256, at most
MAX_IMAGE_BYTES (larger images were rejected before). Not used: S3's CRC checksums (not
collision-resistant), ranged GETs' checksums (S3 returns none for a part of an object), multipart
SHA-256 checksums (COMPOSITE: a hash of the parts' hashes, which depends on the part size, written
`<base64>-<parts>`).

A digest that cannot be had (the GET fails) only costs the deduplication: the image is analysed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import log
from recognizer.contract import MAX_IMAGE_BYTES, ImageRef
from recognizer.probe import ObjectHead, object_request

CHUNK_BYTES = 1024 * 1024  # read size while hashing: bounded memory, few Python-level iterations
_SHA256_BYTES = 32


def content_sha256(s3: Any, ref: ImageRef, head: ObjectHead) -> str | None:
    """The hex SHA-256 of the object version ``ref`` (pinned by the probe), None if it cannot be had."""
    if head.total_size == len(head.head):  # the probe read the whole object
        return hashlib.sha256(head.head).hexdigest()
    try:
        response = s3.get_object(**object_request(ref, ChecksumMode="ENABLED"))
        body = response["Body"]
        try:
            stored = full_object_sha256(response)
            return stored if stored is not None else _hash_body(body, response.get("ContentLength"))
        finally:
            # Unread (S3's checksum answered): closing drops the connection rather than
            # downloading up to 15 MB for nothing.
            body.close()
    except (ClientError, BotoCoreError) as error:
        log.log_event(
            "content digest not available; analysing without deduplication",
            logging.WARNING,
            **ref.error_fields(),
            error_type=type(error).__name__,
            error_message=str(error),
        )
        return None


def full_object_sha256(response: dict[str, Any]) -> str | None:
    """S3's stored SHA-256 of the whole object, as hex, when the response carries one."""
    value = response.get("ChecksumSHA256")
    # FULL_OBJECT for single-request uploads; older responses (and moto) name no type, and a
    # COMPOSITE value carries a "-<parts>" suffix that is no base64.
    if not isinstance(value, str) or response.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == _SHA256_BYTES else None


def _hash_body(body: Any, length: Any) -> str | None:
    digest = hashlib.sha256()
    received = 0
    for chunk in body.iter_chunks(CHUNK_BYTES):
        received += len(chunk)
        if received > MAX_IMAGE_BYTES:
            return None  # not the object the probe measured: no digest rather than a wrong one
        digest.update(chunk)
    if isinstance(length, int) and received != length:
        return None
    return digest.hexdigest()
