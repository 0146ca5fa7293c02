"""The small pieces on their own: file checks, URIs, payload decoding, error mapping, rate limit."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError
from celeb_testkit import assert_one_error_line

from celeb.aws import explain
from celeb.backfill import is_image_key
from celeb.errors import ExitCode, FunctionFailed, UsageProblem, worst_exit_code
from celeb.images import check_local_image, parse_s3_uri, resolve_targets
from celeb.invoke import decode
from celeb.ratelimit import RateLimiter


def test_file_checks(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "real.png").write_bytes(b"\x89PNG\r\n\x1a\n rest")
    (tmp_path / "photo.jpeg").write_bytes(b"\xff\xd8\xff\xdb rest")

    assert check_local_image(str(tmp_path / "real.png")).content_type == "image/png"
    assert check_local_image(str(tmp_path / "photo.jpeg")).content_type == "image/jpeg"
    with pytest.raises(UsageProblem, match=r"empty.png: not a JPEG or PNG image \(leading bytes: none\)"):
        check_local_image(str(tmp_path / "empty.png"))
    with pytest.raises(UsageProblem, match="is a directory"):
        check_local_image(str(tmp_path))


def test_targets(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    path = str(tmp_path / "a.jpg")

    local, remote = resolve_targets([path, "s3://other-bucket/x/y.png", path], prefix="in/")

    assert (local.key, local.bucket, local.ref("images").uri) == ("in/a.jpg", None, "s3://images/in/a.jpg")
    assert (remote.ref("images").uri, remote.upload) == ("s3://other-bucket/x/y.png", None)
    assert parse_s3_uri("photo.jpg") is None
    with pytest.raises(UsageProblem, match="needs a bucket and a key"):
        parse_s3_uri("s3://only-bucket/")


def _response(payload: bytes, function_error: str | None = None) -> dict:
    response = {"StatusCode": 200, "Payload": io.BytesIO(payload)}
    if function_error:
        response["FunctionError"] = function_error
    return response


def test_decode_function_errors():
    # A timeout or crash: the runtime's payload has no errorType; the header's kind names it.
    timeout = json.dumps({"errorMessage": "Task timed out after 30.03 seconds"}).encode()
    with pytest.raises(FunctionFailed) as caught:
        decode(_response(timeout, "Unhandled"))
    assert (caught.value.error_type, caught.value.error_message) == (
        "Unhandled",
        "Task timed out after 30.03 seconds",
    )

    with pytest.raises(FunctionFailed, match="Unhandled: out of memory"):
        decode(_response(b"out of memory", "Unhandled"))
    with pytest.raises(FunctionFailed, match="UnexpectedPayload"):
        decode(_response(b'"Jeff Bezos"'))  # what the case study's handler returned


def test_aws_errors_map_to_exit_codes():
    def client_error(code: str, attempts: int = 0) -> ClientError:
        response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"RetryAttempts": attempts}}
        return ClientError(response, "Invoke")

    throttled = explain(client_error("ThrottlingException", attempts=4))
    assert (throttled.exit_code, throttled.error_type) == (ExitCode.THROTTLED, "ThrottlingException")
    assert "after 5 attempts" in throttled.message
    assert explain(client_error("AccessDeniedException")).exit_code == ExitCode.AWS_ACCESS
    assert explain(client_error("ValidationException")).exit_code == ExitCode.AWS_ACCESS
    assert explain(EndpointConnectionError(endpoint_url="https://x")).exit_code == ExitCode.AWS_ACCESS
    assert explain(NoRegionError()).exit_code == ExitCode.CONFIG
    assert worst_exit_code([]) == ExitCode.OK
    assert worst_exit_code([FunctionFailed("A", "b"), throttled]) == ExitCode.THROTTLED


def test_image_keys():
    assert [
        key for key in ("a.jpg", "b.JPEG", "c.Png", "d.gif", "e.jpg.txt", "dir/") if is_image_key(key)
    ] == [
        "a.jpg",
        "b.JPEG",
        "c.Png",
    ]


def test_rate_limiter_spacing_and_stop():
    limiter = RateLimiter(20)
    stop = threading.Event()
    started = time.monotonic()
    assert all(limiter.wait(stop) for _ in range(3))
    assert time.monotonic() - started >= 2 / 20 - 0.005
    stop.set()
    assert limiter.wait(stop) is False  # a stopped run starts nothing more
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_no_region_is_a_configuration_error(cli, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    result = cli("info")

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "no AWS region: pass --region or set AWS_REGION")


def test_region_option_is_used(cli, stack):
    result = cli("--region", "eu-west-1", "info")  # the stack lives in us-east-1

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "not found in region eu-west-1")


def test_bad_s3_uri_is_a_usage_error(cli):
    result = cli("recognize", "s3://just-a-bucket")

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, "s3://just-a-bucket: an S3 URI needs a bucket and a key")
