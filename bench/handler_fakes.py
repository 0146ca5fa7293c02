"""Fake AWS for the handler bench: S3, Rekognition and DynamoDB answered by botocore event hooks.

Two depths:
- "call": a ``before-call`` hook returns the parsed response, as botocore's Stubber does; the AWS
  call itself costs next to nothing, so what is left is the function's own overhead.
- "http": a ``before-send`` hook returns raw HTTP; requests still go through botocore's pipeline
  (serialising, signing, parsing, retry checks) and only the network is missing.
"""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from tests.handler.recognizer_testkit import png_bytes

BUCKET = "bench-bucket"
KEY = "team.png"
TABLE = "bench-results"
# The stack's bucket is versioned: with a version the function first looks for a stored result.
VERSION_ID = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"


IMAGE = png_bytes(100, 100)
CELEBRITIES = {
    "CelebrityFaces": [
        {
            "Name": name,
            "Id": celebrity_id,
            "Urls": [f"www.wikidata.org/wiki/Q{celebrity_id}"],
            "MatchConfidence": confidence,
            "KnownGender": {"Type": "Male"},
            "Face": {
                "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
                "Confidence": 99.9,
            },
        }
        for name, celebrity_id, confidence in (
            ("Jeff Bezos", "1SK7cR8M", 98.5),
            ("Werner Vogels", "3Ir0du6", 99.2),
        )
    ],
    "UnrecognizedFaces": [{"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.5, "Top": 0.5}}],
}


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


def _s3_get_object(request: Any, **_: Any) -> AWSResponse:
    headers = {
        "Content-Range": f"bytes 0-{len(IMAGE) - 1}/{len(IMAGE)}",
        "Content-Length": str(len(IMAGE)),
        "Content-Type": "image/png",
        "x-amz-version-id": VERSION_ID,
    }
    return AWSResponse(request.url, 206, headers, _Raw(IMAGE))


def _json(request: Any, body: dict[str, Any], content_type: str) -> AWSResponse:
    return AWSResponse(request.url, 200, {"Content-Type": content_type}, _Raw(json.dumps(body).encode()))


def _rekognition(request: Any, **_: Any) -> AWSResponse:
    return _json(request, CELEBRITIES, "application/x-amz-json-1.1")


def _dynamodb_batch_get(request: Any, **_: Any) -> AWSResponse:
    # Neither a stored result nor an analysis of the same bytes: analyse.
    return _json(request, {"Responses": {TABLE: []}, "UnprocessedKeys": {}}, "application/x-amz-json-1.0")


def _dynamodb_write(request: Any, **_: Any) -> AWSResponse:
    return _json(request, {}, "application/x-amz-json-1.0")


_OK = AWSResponse("https://fake.invalid/", 200, {}, _Raw(b""))


def _parsed_s3_get_object(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    return _OK, {
        "Body": StreamingBody(io.BytesIO(IMAGE), len(IMAGE)),
        "ContentLength": len(IMAGE),
        "ContentRange": f"bytes 0-{len(IMAGE) - 1}/{len(IMAGE)}",
        "ContentType": "image/png",
        "VersionId": VERSION_ID,
        "ResponseMetadata": {"HTTPStatusCode": 206},
    }


def _parsed_rekognition(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    return _OK, {**CELEBRITIES, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _parsed_dynamodb_batch_get(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    return _OK, {"Responses": {TABLE: []}, "UnprocessedKeys": {}, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _parsed_dynamodb_write(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    return _OK, {"ResponseMetadata": {"HTTPStatusCode": 200}}


# A new image with the results table: BatchGetItem (the version's summary and the content record of
# its bytes), then one TransactWriteItems; PutItem writes a lone summary or a recorded failure.
_HOOKS = {
    "call": {
        "before-call.s3.GetObject": _parsed_s3_get_object,
        "before-call.rekognition.RecognizeCelebrities": _parsed_rekognition,
        "before-call.dynamodb.BatchGetItem": _parsed_dynamodb_batch_get,
        "before-call.dynamodb.TransactWriteItems": _parsed_dynamodb_write,
        "before-call.dynamodb.PutItem": _parsed_dynamodb_write,
    },
    "http": {
        "before-send.s3.GetObject": _s3_get_object,
        "before-send.rekognition.RecognizeCelebrities": _rekognition,
        "before-send.dynamodb.BatchGetItem": _dynamodb_batch_get,
        "before-send.dynamodb.TransactWriteItems": _dynamodb_write,
        "before-send.dynamodb.PutItem": _dynamodb_write,
    },
}


def fake_session(depth: str) -> boto3.session.Session:
    """A session whose clients never reach the network; ``depth`` is "call" or "http"."""
    session = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    for event, hook in _HOOKS[depth].items():
        session.events.register(event, hook)
    return session
