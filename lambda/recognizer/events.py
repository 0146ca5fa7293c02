"""Pure parsing of the event shapes the function accepts. No AWS calls, no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from recognizer.contract import MAX_KEY_BYTES, OBJECT_CREATED, S3_EVENT_SOURCE, ImageRef
from recognizer.errors import InvalidEventError

# Rekognition's S3Object.Bucket pattern and length (legacy us-east-1 names allow capitals and "_").
_BUCKET_RE = re.compile(r"[0-9A-Za-z.\-_]{3,255}")
_MAX_VERSION_CHARS = 1024

_DIRECT = '{"bucket": str, "object_name": str, "version_id"?: str}'
_UPLOAD_EVENTS = (
    'an S3 event notification {"Records": [{"eventSource": "aws:s3", "s3": {...}}]}, '
    f'an EventBridge event {{"source": "{S3_EVENT_SOURCE}", "detail-type": "{OBJECT_CREATED}", '
    '"detail": {...}}'
)
ACCEPTED_SHAPES = (
    f"a direct invocation {_DIRECT}, {_UPLOAD_EVENTS} "
    'or an SQS batch {"Records": [{"eventSource": "aws:sqs", "messageId": str, "body": str}]}'
)
SQS_BODY_SHAPES = f"{_UPLOAD_EVENTS} or a direct invocation {_DIRECT}"


class Work(NamedTuple):
    """One image to analyze, and whether an upload event (rather than a request) asked for it."""

    image: ImageRef
    from_upload: bool = False


# A malformed record becomes an InvalidEventError in place, so the others still run.
Records = tuple[Work | InvalidEventError, ...]


class DirectInvocation(NamedTuple):
    image: ImageRef


class UploadEvents(NamedTuple):
    """S3 notification records or one EventBridge event, invoking the function directly."""

    records: Records


class SqsMessage(NamedTuple):
    message_id: str
    body: object  # a JSON string from SQS; anything else is reported by parse_sqs_body


class SqsBatch(NamedTuple):
    messages: tuple[SqsMessage, ...]


Event = DirectInvocation | UploadEvents | SqsBatch


def parse_event(event: Any) -> Event:
    """Tell which shape ``event`` has and parse it; anything else is an InvalidEventError."""
    if not isinstance(event, dict):
        raise InvalidEventError(
            f"Unsupported event of type {type(event).__name__}: expected {ACCEPTED_SHAPES}"
        )
    if "Records" in event:
        return _parse_records(event["Records"])
    if _is_eventbridge(event):
        return UploadEvents((_upload_or_error(parse_eventbridge, event),))
    if "bucket" in event or "object_name" in event:
        return DirectInvocation(parse_direct(event))
    keys = ", ".join(sorted(map(str, event))) or "none"
    raise InvalidEventError(f"Unsupported event with keys [{keys}]: expected {ACCEPTED_SHAPES}")


def parse_direct(event: dict[str, Any]) -> ImageRef:
    bucket = event.get("bucket")
    key = event.get("object_name")
    version_id = event.get("version_id")
    if not isinstance(bucket, str) or not bucket:
        raise InvalidEventError(
            f'"bucket" must be a non-empty string, got {bucket!r}: expected {ACCEPTED_SHAPES}'
        )
    if not isinstance(key, str) or not key:
        raise InvalidEventError(
            f'"object_name" must be a non-empty string, got {key!r}: expected {ACCEPTED_SHAPES}',
            bucket=bucket,
        )
    if version_id is not None and (not isinstance(version_id, str) or not version_id):
        raise InvalidEventError(
            f'"version_id" must be a non-empty string or absent, got {version_id!r}', bucket=bucket, key=key
        )
    return validate_ref(ImageRef(bucket, key, version_id))


def validate_ref(ref: ImageRef) -> ImageRef:
    """Reject names S3/Rekognition would refuse, before any call is spent on them."""
    if not _BUCKET_RE.fullmatch(ref.bucket):
        raise InvalidEventError(
            f"{ref.bucket!r} is not a valid S3 bucket name: expected 3-255 letters, digits, '.', '-' or '_'",
            bucket=ref.bucket,
            key=ref.key,
        )
    if len(ref.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidEventError(
            f"The key of {ref.describe()} is longer than S3's {MAX_KEY_BYTES} UTF-8 bytes",
            bucket=ref.bucket,
            key=ref.key,
        )
    if ref.version_id is not None and len(ref.version_id) > _MAX_VERSION_CHARS:
        raise InvalidEventError(
            f"The version id of {ref.describe()} is too long", bucket=ref.bucket, key=ref.key
        )
    return ref


def decode_key(encoded: str) -> str:
    """S3 notifications URL-encode keys: "+" is a space, "%2B" a plus, non-ASCII is UTF-8 escapes."""
    return unquote_plus(encoded)


def parse_s3_record(record: Any) -> ImageRef:
    """One ``Records[]`` entry of an S3 event notification."""
    return _object_ref(
        record, "S3 record", ("s3", "bucket", "name"), ("s3", "object", "key"), ("s3", "object", "versionId"),
        decode_key,
    )  # fmt: skip


def parse_eventbridge(event: dict[str, Any]) -> ImageRef:
    """S3's `Object Created` event on EventBridge (`detail.bucket.name`, `detail.object.key`, ...)."""
    return _object_ref(
        event, "EventBridge S3 event", ("detail", "bucket", "name"), ("detail", "object", "key"),
        ("detail", "object", "version-id"), decode_eventbridge_key,
    )  # fmt: skip


def decode_eventbridge_key(key: str) -> str:
    """S3 URL-encodes the key in its EventBridge events as in its other notifications."""
    return decode_key(key)


def _object_ref(
    document: Any,
    shape: str,
    bucket_path: tuple[str, ...],
    key_path: tuple[str, ...],
    version_path: tuple[str, ...],
    decode: Callable[[str], str],
) -> ImageRef:
    bucket = _dig(document, *bucket_path)
    key = _dig(document, *key_path)
    version_id = _dig(document, *version_path)
    if not isinstance(bucket, str) or not bucket:
        raise InvalidEventError(f"{shape} has no {'.'.join(bucket_path)} string: got {bucket!r}")
    if not isinstance(key, str) or not key:
        raise InvalidEventError(f"{shape} has no {'.'.join(key_path)} string: got {key!r}", bucket=bucket)
    if not isinstance(version_id, str) or not version_id:
        version_id = None  # S3 sends no version for unversioned buckets; treat "" or null the same
    return validate_ref(ImageRef(bucket, decode(key), version_id))


def parse_s3_records(records: list[Any]) -> Records:
    return tuple(_upload_or_error(parse_s3_record, record) for record in records)


def _upload_or_error(parse: Any, document: Any) -> Work | InvalidEventError:
    try:
        return Work(parse(document), from_upload=True)
    except InvalidEventError as error:
        return error


def parse_sqs_body(body: Any) -> Records:
    """An SQS message body: an upload event (S3 or EventBridge), or a direct-invocation payload.

    The function's asynchronous-invocation dead-letter queue is the upload queue's DLQ too, and
    Lambda puts the original payload in the message body: redriving that DLQ into the upload queue
    brings both kinds here. S3's test event yields no records; a direct payload with a bad field
    becomes an InvalidEventError in place, as a malformed S3 record does.

    Raises InvalidEventError when the body is not JSON or neither shape at all.
    """
    if not isinstance(body, str):
        raise InvalidEventError(f"SQS body is {type(body).__name__}, expected a JSON string")
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidEventError(f"SQS body is not JSON: {_preview(body)}") from None
    if isinstance(document, dict) and document.get("Event") == "s3:TestEvent":
        return ()
    if isinstance(document, dict) and _is_eventbridge(document):
        return (_upload_or_error(parse_eventbridge, document),)
    if isinstance(document, dict) and ("bucket" in document or "object_name" in document):
        try:
            return (Work(parse_direct(document)),)
        except InvalidEventError as error:
            return (error,)
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list) or not records or not all(_is_s3_record(r) for r in records):
        raise InvalidEventError(f"SQS body is not {SQS_BODY_SHAPES}: {_preview(body)}")
    return parse_s3_records(records)


def _parse_records(records: Any) -> Event:
    if not isinstance(records, list) or not records:
        raise InvalidEventError(f'"Records" must be a non-empty list: expected {ACCEPTED_SHAPES}')
    sources = {r.get("eventSource") if isinstance(r, dict) else None for r in records}
    if sources == {"aws:s3"}:
        return UploadEvents(parse_s3_records(records))
    if sources == {"aws:sqs"}:
        return SqsBatch(tuple(_parse_sqs_message(r) for r in records))
    found = ", ".join(sorted(map(repr, sources)))
    raise InvalidEventError(f"Records come from eventSource {found}: expected {ACCEPTED_SHAPES}")


def _parse_sqs_message(record: dict[str, Any]) -> SqsMessage:
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        # Without an id the record cannot be reported back, so the whole batch is malformed.
        raise InvalidEventError(f"SQS record without a messageId: expected {ACCEPTED_SHAPES}")
    return SqsMessage(message_id, record.get("body"))


def _dig(document: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


def _is_eventbridge(document: dict[str, Any]) -> bool:
    return document.get("source") == S3_EVENT_SOURCE and document.get("detail-type") == OBJECT_CREATED


def _is_s3_record(record: Any) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:s3"


def _preview(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
