"""Invoke the recognition function for one S3 object and decode its answer.

The request is the case study's payload, `{"bucket": ..., "object_name": ...}`. The answer is either
the success payload (decoded into `Recognition`) or, with `FunctionError` set, the Lambda error
payload `{"errorType", "errorMessage"}`, raised as `FunctionFailed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from celeb.aws import error_code, explain
from celeb.errors import CelebError, ConfigProblem, FunctionFailed
from celeb.images import ImageRef


@dataclass(frozen=True)
class BoundingBox:
    """Ratios of the image's width and height, as Rekognition gives them."""

    width: float
    height: float
    left: float
    top: float


@dataclass(frozen=True)
class Celebrity:
    name: str
    id: str
    confidence: float
    face_confidence: float | None
    urls: list[str]
    known_gender: str | None
    bounding_box: BoundingBox | None


@dataclass(frozen=True)
class Recognition:
    bucket: str
    key: str
    version_id: str | None
    celebrities: list[Celebrity]
    unrecognized_faces: int
    analyzed_at: str


def payload_for(ref: ImageRef, version_id: str | None = None) -> bytes:
    payload = {"bucket": ref.bucket, "object_name": ref.key}
    if version_id:
        # The version just uploaded: the upload's own S3 notification analyzes that same version,
        # and the function answers whichever comes second from the stored result.
        payload["version_id"] = version_id
    return json.dumps(payload).encode()


def invoke(
    lambda_client: Any, function_name: str, ref: ImageRef, version_id: str | None = None
) -> Recognition:
    try:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=payload_for(ref, version_id),
        )
    except ClientError as exc:
        raise _invoke_error(exc, function_name) from exc
    return decode(response)


def decode(response: dict[str, Any]) -> Recognition:
    raw = response["Payload"].read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if response.get("FunctionError"):
        raise _function_error(response["FunctionError"], body, raw)
    try:
        return _recognition(body)
    except (KeyError, TypeError, ValueError) as exc:
        message = f"the function's answer is not a result: {raw[:200]!r}"
        raise FunctionFailed("UnexpectedPayload", message) from exc


def _function_error(kind: str, body: Any, raw: bytes) -> FunctionFailed:
    if isinstance(body, dict):
        # A runtime failure (timeout, out of memory) comes without errorType; the header says
        # "Unhandled" then, which is the best name there is.
        return FunctionFailed(str(body.get("errorType") or kind), str(body.get("errorMessage", "")))
    return FunctionFailed(kind, raw[:200].decode(errors="replace"))


def _invoke_error(exc: ClientError, function_name: str) -> CelebError:
    if error_code(exc) == "ResourceNotFoundException":
        return ConfigProblem(f"function {function_name!r} not found: is the stack fully deployed?")
    return explain(exc)


def _recognition(body: dict[str, Any]) -> Recognition:
    return Recognition(
        bucket=body["bucket"],
        key=body["key"],
        version_id=body.get("version_id"),
        celebrities=[_celebrity(item) for item in body["celebrities"]],
        unrecognized_faces=int(body.get("unrecognized_faces", 0)),
        analyzed_at=str(body.get("analyzed_at", "")),
    )


def _celebrity(item: dict[str, Any]) -> Celebrity:
    box = item.get("bounding_box")
    face_confidence = item.get("face_confidence")
    return Celebrity(
        name=item["name"],
        id=item["id"],
        confidence=float(item["confidence"]),
        face_confidence=None if face_confidence is None else float(face_confidence),
        urls=list(item.get("urls") or []),
        known_gender=item.get("known_gender"),
        bounding_box=BoundingBox(**{side: float(box[side]) for side in ("width", "height", "left", "top")})
        if box
        else None,
    )
