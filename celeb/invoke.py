"""Invoke the recognition function for one S3 object and decode its answer.

The request is the case study's payload, `{"bucket": ..., "object_name": ...}` (plus the version
when the client just uploaded it). The answer is either a `RecognitionResult` (checked against the
contract by `read_result`) or, with `FunctionError` set, the Lambda error payload
`{"errorType", "errorMessage"}`, raised as `FunctionFailed`.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from celeb.aws import error_code, explain
from celeb.errors import CelebError, ConfigProblem, FunctionFailed
from recognizer.contract import ContractError, ImageRef, RecognitionResult, read_result


def payload_for(ref: ImageRef) -> bytes:
    payload = {"bucket": ref.bucket, "object_name": ref.key}
    if ref.version_id:
        # The version just uploaded, not whatever is the latest when the function reads the key.
        payload["version_id"] = ref.version_id
    return json.dumps(payload).encode()


def invoke(lambda_client: Any, function_name: str, ref: ImageRef) -> RecognitionResult:
    try:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=payload_for(ref),
        )
    except ClientError as exc:
        raise _invoke_error(exc, function_name) from exc
    return decode(response)


def decode(response: dict[str, Any]) -> RecognitionResult:
    raw = response["Payload"].read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if response.get("FunctionError"):
        raise _function_error(response["FunctionError"], body, raw)
    try:
        return read_result(body)
    except ContractError as exc:
        # A function of another version than this client, or a handler that is not ours.
        raise FunctionFailed("UnexpectedPayload", f"the function's answer is not a result ({exc})") from exc


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
