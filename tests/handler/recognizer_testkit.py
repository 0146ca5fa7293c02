"""Test data and fakes for the function's tests: real image headers, Rekognition responses, fake HTTP."""

from __future__ import annotations

import io
import json
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse

BUCKET = "photos-bucket"
TABLE = "celebrity-results"
WHEN = datetime(2026, 11, 26, 11, 29, 25, 123456, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def s3_error_xml(code: str, message: str, **extra: str) -> bytes:
    fields = "".join(f"<{name}>{value}</{name}>" for name, value in extra.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
        f"{fields}<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


def expect_recognition(stub: Any, key: str, response: dict[str, Any], version_id: str | None = None) -> None:
    """Queue a RecognizeCelebrities answer that only matches a request for ``key`` (and version)."""
    s3_object = {"Bucket": BUCKET, "Name": key}
    if version_id is not None:
        s3_object["Version"] = version_id
    stub.add_response("recognize_celebrities", response, {"Image": {"S3Object": s3_object}})


def expect_recognition_error(stub: Any, key: str, code: str, status: int = 400) -> None:
    stub.add_client_error(
        "recognize_celebrities",
        code,
        f"{code} from the stub",
        http_status_code=status,
        expected_params={"Image": {"S3Object": {"Bucket": BUCKET, "Name": key}}},
    )


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


def log_lines(output: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]
