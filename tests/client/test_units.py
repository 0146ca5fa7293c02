"""The small pieces on their own: file checks, URIs, payload decoding, error mapping, rate limit."""

from __future__ import annotations

import io
import json
import signal
import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError

from celeb import interrupts
from celeb.aws import explain
from celeb.backfill import list_images
from celeb.errors import ExitCode, FunctionFailed, UsageProblem, worst_exit_code
from celeb.invoke import decode, payload_for
from celeb.ratelimit import RateLimiter
from celeb.targets import check_local_image, parse_s3_uri, resolve_targets
from recognizer.contract import ImageRef
from tests.client.celeb_testkit import assert_one_error_line


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


def test_payload_is_the_case_studys_plus_the_pinned_version():
    assert json.loads(payload_for(ImageRef("b", "k.jpg"))) == {"bucket": "b", "object_name": "k.jpg"}
    pinned = json.loads(payload_for(ImageRef("b", "k.jpg", "v1")))
    assert pinned == {"bucket": "b", "object_name": "k.jpg", "version_id": "v1"}


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
    # A result of another shape than the contract's: named, not a KeyError.
    other = {"bucket": "b", "key": "k", "version_id": None, "celebrities": [{"name": "X"}],
             "unrecognized_faces": 0, "analyzed_at": "2026-11-26T11:29:25Z"}  # fmt: skip
    with pytest.raises(FunctionFailed, match=r"UnexpectedPayload: .*celebrities\[0\]\.id"):
        decode(_response(json.dumps(other).encode()))


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


def test_backfill_lists_image_keys_only(stack, s3):
    keys = ("a.jpg", "b.JPEG", "c.Png", "d.gif", "e.jpg.txt", "dir/")
    for key in keys:
        s3.put_object(Bucket=stack.bucket, Key=key, Body=b"")

    assert list_images(s3, stack.bucket, "") == ["a.jpg", "b.JPEG", "c.Png"]


class _RecordingStop(threading.Event):
    """A stop event that records how long each caller would wait, instead of waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waited: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(timeout or 0.0)
        return self.is_set()


def test_rate_limiter_spaces_start_slots_and_stops():
    now = [100.0]
    limiter = RateLimiter(20, clock=lambda: now[0])
    stop = _RecordingStop()

    assert all(limiter.wait(stop) for _ in range(3))
    assert stop.waited == pytest.approx([0.05, 0.10])  # the first starts at once, then one per 1/20 s
    now[0] += 10  # long after: no debt is carried over
    assert limiter.wait(stop) is True and len(stop.waited) == 2
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


def test_ctrl_c_twice_at_once_is_one_press_later_is_two(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(interrupts.time, "monotonic", lambda: now[0])
    ctrl_c = interrupts.CtrlC()

    ctrl_c(signal.SIGINT, None)
    now[0] += 0.001  # the same Ctrl-C, delivered to the process and to its group
    ctrl_c(signal.SIGINT, None)
    assert (ctrl_c.pressed, ctrl_c.pressed_again) == (True, False)
    now[0] += interrupts.SAME_PRESS_SECONDS
    ctrl_c(signal.SIGINT, None)
    assert ctrl_c.pressed_again


def test_ctrl_c_counting_restores_the_previous_handler():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.ctrl_c_counted() as ctrl_c:
        assert signal.getsignal(signal.SIGINT) is ctrl_c
    assert signal.getsignal(signal.SIGINT) is before
