"""Test data and fakes for the function's tests: real image headers, AWS events and responses, fake
answers at the AWS boundary, and readers of the function's log records.

Other test folders import it as ``tests.handler.recognizer_testkit``.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from recognizer.contract import (
    CELEBRITY_INDEX,
    CELEBRITY_INDEX_PARTITION_KEY,
    CELEBRITY_INDEX_SORT_KEY,
    OBJECT_CREATED,
    PARTITION_KEY,
    S3_EVENT_SOURCE,
    SORT_KEY,
)

BUCKET = "photos-bucket"
TABLE = "celebrity-results"
WHEN = datetime(2026, 11, 26, 11, 29, 25, 123456, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RECOGNIZER_LOGGER = "recognizer"
# What operators query in CloudWatch Logs Insights on every image record (README: duration_ms).
IMAGE_FIELDS = ("outcome", "bucket", "key", "version_id", "celebrities", "duration_ms")
ERROR_FIELDS = ("error_type", "error_message")


def png_bytes(width: int, height: int) -> bytes:
    """A complete, decodable 8-bit greyscale PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([(x * 7 + y) % 256 for x in range(width)]) for y in range(height))
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_bytes(width: int, height: int, exif_padding: int = 0) -> bytes:
    """A baseline JPEG header (SOI, JFIF APP0, optional APP1 filler, SOF0 with the size) and EOI.

    Enough for magic-byte and dimension checks; ``exif_padding`` pushes the SOF marker further in, as
    large EXIF thumbnails do, to test images whose size cannot be read from the first 64 KB.
    """
    soi = b"\xff\xd8"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    filler = b""
    while exif_padding > 0:
        size = min(exif_padding, 65000)
        filler += b"\xff\xe1" + struct.pack(">H", size + 2) + b"\x00" * size
        exif_padding -= size
    components = b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + components
    return soi + app0 + filler + sof0 + b"\xff\xd9"


# --------------------------------------------------------------------------------------------
# Rekognition


def celebrity_face(
    name: str,
    celebrity_id: str,
    match: float,
    *,
    face_confidence: float = 99.9,
    gender: str | None = "Male",
    box: tuple[float, float, float, float] = (0.25, 0.3, 0.1, 0.2),
) -> dict[str, Any]:
    """A CelebrityFaces entry as RecognizeCelebrities returns it (Face details trimmed to a few)."""
    width, height, left, top = box
    face: dict[str, Any] = {
        "Urls": [f"www.wikidata.org/wiki/Q{celebrity_id}", f"www.imdb.com/name/nm{celebrity_id}"],
        "Name": name,
        "Id": celebrity_id,
        "Face": {
            "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
            "Confidence": face_confidence,
            "Landmarks": [{"Type": "eyeLeft", "X": 0.3, "Y": 0.4}],
            "Pose": {"Roll": 1.5, "Yaw": -3.2, "Pitch": 4.0},
            "Quality": {"Brightness": 70.1, "Sharpness": 89.9},
            "Emotions": [{"Type": "HAPPY", "Confidence": 91.0}],
            "Smile": {"Value": True, "Confidence": 93.4},
        },
        "MatchConfidence": match,
    }
    if gender is not None:
        face["KnownGender"] = {"Type": gender}
    return face


def unrecognized_face(confidence: float = 99.0) -> dict[str, Any]:
    return {
        "BoundingBox": {"Width": 0.1, "Height": 0.12, "Left": 0.6, "Top": 0.1},
        "Confidence": confidence,
        "Landmarks": [{"Type": "nose", "X": 0.65, "Y": 0.15}],
        "Pose": {"Roll": 0.0, "Yaw": 10.0, "Pitch": -2.0},
        "Quality": {"Brightness": 60.0, "Sharpness": 70.0},
    }


def celebrities_response(*faces: dict[str, Any], unrecognized: int = 0) -> dict[str, Any]:
    return {
        "CelebrityFaces": list(faces),
        "UnrecognizedFaces": [unrecognized_face() for _ in range(unrecognized)],
    }


def s3_object(key: str, version_id: str | None = None, bucket: str = BUCKET) -> dict[str, str]:
    """RecognizeCelebrities' Image.S3Object for an object version."""
    found = {"Bucket": bucket, "Name": key}
    if version_id is not None:
        found["Version"] = version_id
    return found


def expect_recognition(
    stub: Any, key: str, response: dict[str, Any], version_id: str | None = None, bucket: str = BUCKET
) -> None:
    """Queue a RecognizeCelebrities answer that only matches a request for ``key`` (and version)."""
    stub.add_response(
        "recognize_celebrities", response, {"Image": {"S3Object": s3_object(key, version_id, bucket)}}
    )


def expect_recognition_error(
    stub: Any, key: str, code: str, status: int = 400, version_id: str | None = None
) -> None:
    stub.add_client_error(
        "recognize_celebrities",
        code,
        f"{code} from the stub",
        http_status_code=status,
        expected_params={"Image": {"S3Object": s3_object(key, version_id)}},
    )


# --------------------------------------------------------------------------------------------
# Events, as AWS delivers them


def s3_event(*keys: str, bucket: str = BUCKET, version_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """An S3 event notification for already URL-encoded ``keys``, as S3 sends it."""
    records = []
    for key in keys:
        obj: dict[str, Any] = {
            "key": key,
            "size": 1024,
            "eTag": "0123456789abcdef",
            "sequencer": "0A1B2C3D4E5F678901",
        }
        if version_ids and key in version_ids:
            obj["versionId"] = version_ids[key]
        records.append(
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-26T11:29:25.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
            }
        )
    return {"Records": records}


def eventbridge_event(
    key: str, *, bucket: str = BUCKET, version_id: str | None = None, detail_type: str = OBJECT_CREATED
) -> dict[str, Any]:
    """S3's "Object Created" event on the default bus, with ``key`` exactly as the event carries it."""
    obj: dict[str, Any] = {
        "key": key,
        "size": 1024,
        "etag": "0123456789abcdef",
        "sequencer": "0A1B2C3D4E5F6789",
    }
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": S3_EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-11-26T11:29:25Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def sqs_event(*messages: tuple[str, str]) -> dict[str, Any]:
    """An SQS batch of (messageId, body) pairs."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:images",
                "awsRegion": "us-east-1",
            }
            for message_id, body in messages
        ]
    }


class LambdaContext:
    """The parts of Lambda's context object the function reads; remaining time from a list."""

    def __init__(self, *remaining_ms: int, request_id: str = "req-1") -> None:
        self.aws_request_id = request_id
        self.remaining = list(remaining_ms) or [900_000]
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        """One value per question; the last one repeats."""
        self.asked += 1
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


# --------------------------------------------------------------------------------------------
# The results table as the stack defines it (names from the contract).


def create_results_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in (
                PARTITION_KEY,
                SORT_KEY,
                CELEBRITY_INDEX_PARTITION_KEY,
                CELEBRITY_INDEX_SORT_KEY,
            )
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": CELEBRITY_INDEX,
                "KeySchema": [
                    {"AttributeName": CELEBRITY_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": CELEBRITY_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


# --------------------------------------------------------------------------------------------
# Fake answers at the AWS boundary


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


class FakeHttp:
    """Answers a client's requests from a queue at the HTTP layer (``before-send``).

    Unlike a Stubber, the answers go through botocore's parsing, retry and redirect handlers, so
    retry configuration can be observed. ``urls`` records what the client sent.
    """

    def __init__(self, client: Any) -> None:
        self.responses: list[tuple[int, dict[str, str], bytes]] = []
        self.urls: list[str] = []
        self._events = client.meta.events
        self._events.register_first("before-send", self._answer, unique_id=f"fake-http-{id(self)}")

    def detach(self) -> None:
        self._events.unregister("before-send", unique_id=f"fake-http-{id(self)}")

    @property
    def requests(self) -> int:
        return len(self.urls)

    def add_raw(self, status: int, headers: dict[str, str], body: bytes) -> FakeHttp:
        self.responses.append((status, headers, body))
        return self

    def add_json(self, status: int, body: dict[str, Any]) -> FakeHttp:
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if status >= 400:
            headers["x-amzn-ErrorType"] = body["__type"]
        return self.add_raw(status, headers, json.dumps(body).encode())

    def add_json_error(self, status: int, code: str, message: str = "") -> FakeHttp:
        return self.add_json(status, {"__type": code, "Message": message or code})

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        self.urls.append(request.url)
        if not self.responses:
            raise AssertionError(f"unexpected request {self.requests}: {request.url}")
        status, headers, body = self.responses.pop(0)
        return AWSResponse(request.url, status, headers, _Raw(body))


class AwsAnswers:
    """Answers chosen calls of a client (moto behind it) and lets every other call through.

    A Stubber answers every call of its client; the handler uses one client per service, so a test
    that denies one S3 object, or loses one DynamoDB write, needs the rest to reach moto. Answers
    are given at botocore's ``before-call`` hook, as a Stubber gives them: the client parses
    nothing, raises ClientError for an error and returns the parsed dict otherwise.
    ``calls`` records (operation, API parameters) of every call the client made while attached.
    """

    def __init__(self, client: Any) -> None:
        self._events = client.meta.events
        self._service = client.meta.service_model.service_id.hyphenize()
        self._id = f"aws-answers-{id(self)}"
        self._answers: list[_Answer] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # botocore keeps unique ids across events: one per registration.
        self._events.register_first(
            f"before-parameter-build.{self._service}", self._remember, f"{self._id}-p"
        )
        self._events.register_first(f"before-call.{self._service}", self._answer, f"{self._id}-c")

    def __enter__(self) -> AwsAnswers:
        return self

    def __exit__(self, *_: object) -> None:
        self.detach()

    def detach(self) -> None:
        self._events.unregister(f"before-parameter-build.{self._service}", unique_id=f"{self._id}-p")
        self._events.unregister(f"before-call.{self._service}", unique_id=f"{self._id}-c")

    def error(
        self,
        operation: str,
        code: str,
        message: str = "",
        *,
        status: int = 400,
        when: Callable[[dict[str, Any]], bool] = lambda _: True,
        times: int = 1,
        modeled: dict[str, Any] | None = None,
        **fields: Any,
    ) -> AwsAnswers:
        """``operation`` (e.g. "GetObject") fails with ``code``; ``fields`` land in Error (e.g. Region),
        ``modeled`` beside it (e.g. TransactionCanceledException's CancellationReasons)."""

        def parsed() -> dict[str, Any]:
            return {
                "Error": {"Code": code, "Message": message or code, **fields},
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
                **(modeled or {}),
            }

        self._answers.append(_Answer(operation, when, status, parsed, times))
        return self

    def response(
        self,
        operation: str,
        parsed: Callable[[], dict[str, Any]],
        *,
        when: Callable[[dict[str, Any]], bool] = lambda _: True,
        times: int = 1,
    ) -> AwsAnswers:
        """``parsed`` builds the answer each time (a streaming Body can be read only once)."""
        self._answers.append(_Answer(operation, when, 200, parsed, times))
        return self

    @property
    def pending(self) -> int:
        return sum(answer.left for answer in self._answers)

    def _remember(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context[self._id] = dict(params)
        self.calls.append((model.name, dict(params)))

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict] | None:
        params = context.get(self._id, {})
        for answer in self._answers:
            if answer.operation == model.name and answer.left and answer.when(params):
                answer.left -= 1
                return AWSResponse(None, answer.status, {}, None), answer.parsed()
        return None


@dataclass
class _Answer:
    operation: str
    when: Callable[[dict[str, Any]], bool]
    status: int
    parsed: Callable[[], dict[str, Any]]
    left: int


def object_body(data: bytes) -> dict[str, Any]:
    """A GetObject answer's Body and sizes (a Range read of the whole object)."""
    return {
        "Body": StreamingBody(io.BytesIO(data), len(data)),
        "ContentLength": len(data),
        "ContentRange": f"bytes 0-{len(data) - 1}/{len(data)}",
    }


def s3_error_xml(code: str, message: str, **extra: str) -> bytes:
    fields = "".join(f"<{name}>{value}</{name}>" for name, value in extra.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
        f"{fields}<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


# --------------------------------------------------------------------------------------------
# The function's log records

# What Lambda's JSON formatter writes itself (and so never takes from a record's extras), plus
# LogRecord's own attributes, which it leaves out.
LAMBDA_OWN_KEYS = frozenset(
    {"timestamp", "level", "message", "logger", "stackTrace", "errorType", "errorMessage", "requestId",
     "location", "tenantId"}
)  # fmt: skip
_LOG_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "aws_request_id"}
_strict_json = json.JSONEncoder(ensure_ascii=False)  # as Lambda's formatter: no default=str


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries beyond LogRecord's own: what Lambda puts at the JSON top level."""
    return {name: value for name, value in vars(record).items() if name not in _LOG_RECORD_ATTRIBUTES}


def as_lambda_json(record: logging.LogRecord) -> dict[str, Any]:
    """The JSON object Lambda's JSON log format writes for ``record`` (its rule, written out).

    Extras go to the top level, None values are dropped, and values must be JSON as they are: the
    runtime's encoder has no fallback, so a record with another value would be lost.
    """
    document = {
        "level": logging.getLevelName(record.levelno),
        "message": record.getMessage(),
        "logger": record.name,
    }
    document |= {name: value for name, value in extras(record).items() if name not in document}
    return json.loads(_strict_json.encode({k: v for k, v in document.items() if v is not None}))


def image_records(records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    """The one-per-image records of the function, in order."""
    return [r for r in records if r.name == RECOGNIZER_LOGGER and hasattr(r, "outcome")]


def by_message_id(records: Iterable[logging.LogRecord]) -> dict[str, logging.LogRecord]:
    return {r.message_id: r for r in image_records(records) if hasattr(r, "message_id")}  # type: ignore[attr-defined]
