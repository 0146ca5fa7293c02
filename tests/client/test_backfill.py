"""`celeb backfill`: exactly the images without a result, rate-limited, stoppable, re-runnable."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from celeb import backfill as backfill_module
from celeb.errors import ExitCode
from celeb.ratelimit import RateLimiter
from recognizer.contract import FailureCause, ImageRef, failure_item
from tests.client.celeb_testkit import (
    GIF_BYTES,
    JPEG_BYTES,
    PNG_BYTES,
    TOO_SMALL_JPEG,
    deploy,
    error_lines,
    put_item,
    serve_stack,
)

NEW = {"photos/b.JPG", "photos/c.png", "photos/e.Jpeg", "photos/f.PNG"}


def _put(s3, bucket: str, objects: dict[str, bytes]) -> dict[str, str]:
    return {
        key: s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"] for key, body in objects.items()
    }


@pytest.fixture
def bucket_content(function, stack, s3):
    """photos/ holds 6 images (2 analyzed by their upload's event) and a text file; other/ one more."""
    versions = _put(
        s3,
        stack.bucket,
        {
            "photos/a.jpg": JPEG_BYTES,
            "photos/b.JPG": JPEG_BYTES,
            "photos/c.png": PNG_BYTES,
            "photos/d.jpeg": JPEG_BYTES,
            "photos/e.Jpeg": JPEG_BYTES,
            "photos/f.PNG": PNG_BYTES,
            "photos/notes.txt": b"not an image",
            "other/g.jpg": JPEG_BYTES,
        },
    )
    for key in ("photos/a.jpg", "photos/d.jpeg"):
        function.deliver_upload(stack.bucket, key, versions[key])
    return versions


def _count(stdout: str, label: str) -> int:
    line = next(line for line in stdout.splitlines() if f" {label} " in line)
    return int(line.strip("│ ").split("│")[-1].strip())


def test_invokes_only_images_without_result_and_rerun_invokes_nothing(cli, function, bucket_content):
    first = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert first.exit_code == 0, first.output
    assert sorted(function.invoked_keys()) == sorted(NEW)
    assert (_count(first.stdout, "done"), _count(first.stdout, "skipped (already had a result)")) == (4, 2)
    assert _count(first.stdout, "failed") == 0
    assert "4/6" not in first.stderr and "6/6" in first.stderr  # the progress bar's last state

    second = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert second.exit_code == 0, second.output
    assert len(function.calls) == 4  # nothing new
    assert (_count(second.stdout, "done"), _count(second.stdout, "skipped (already had a result)")) == (0, 6)


def test_failures_are_grouped_by_error_type(cli, function, stack, s3):
    _put(
        s3,
        stack.bucket,
        {
            "mixed/ok.jpg": JPEG_BYTES,
            "mixed/small.JPG": TOO_SMALL_JPEG,
            "mixed/thumb.jpeg": TOO_SMALL_JPEG,
            "mixed/anim.png": GIF_BYTES,
            "mixed/throttle-hard.png": PNG_BYTES,  # Rekognition throttles it past the function's retries
        },
    )

    result = cli("backfill", "--prefix", "mixed/", "--rate", "100")

    assert result.exit_code == ExitCode.FAILED
    assert (_count(result.stdout, "done"), _count(result.stdout, "failed")) == (1, 4)
    out = result.stdout
    groups = ["ImageTooSmallError (2)", "RekognitionThrottledError (1)", "UnsupportedImageFormatError (1)"]
    assert all(group in out for group in groups), out
    assert [out.index(group) for group in groups] == sorted(out.index(group) for group in groups)
    assert "40x40" in out
    assert error_lines(result.stderr) == ["error: 4 of 5 image(s) failed (see above)"]


def test_throttled_invocations_fail_that_image_and_are_retried_by_the_next_run(cli, function, bucket_content):
    function.throttle = True
    throttled = cli("backfill", "--prefix", "photos/", "--rate", "1000")

    assert throttled.exit_code == ExitCode.THROTTLED
    assert "TooManyRequestsException (4)" in throttled.stdout

    function.throttle = False
    retried = cli("backfill", "--prefix", "photos/", "--rate", "1000")
    assert retried.exit_code == 0 and _count(retried.stdout, "done") == 4


def test_rate_applies_to_invocations_only(cli, function, bucket_content, monkeypatch):
    limiters: list[RecordingLimiter] = []

    class RecordingLimiter(RateLimiter):
        def __init__(self, per_second: float) -> None:
            super().__init__(per_second)
            self.per_second = per_second
            self.waits: list[bool] = []
            limiters.append(self)

        def wait(self, stop: threading.Event) -> bool:
            started = super().wait(stop)
            self.waits.append(started)  # list.append is atomic: the workers share this limiter
            return started

    monkeypatch.setattr(backfill_module, "RateLimiter", RecordingLimiter)

    result = cli("backfill", "--prefix", "photos/", "--rate", "10", "--max-concurrency", "4")

    assert result.exit_code == 0, result.output
    [limiter] = limiters
    # The 4 images without a result waited for a slot; the 2 skipped ones did not.
    assert (limiter.per_second, limiter.waits) == (10, [True] * 4)


def test_retry_failed_reruns_failures_that_may_pass_not_bad_images(
    cli, function, stack, s3, rekognition_stub
):
    # Asked for before its upload was there: the function records ImageNotFoundError (may pass later).
    early = cli("recognize", f"s3://{stack.bucket}/retry/late.jpg")
    assert early.exit_code == ExitCode.FAILED and "ImageNotFoundError" in early.stderr
    versions = _put(
        s3,
        stack.bucket,
        {"retry/late.jpg": JPEG_BYTES, "retry/small.jpg": TOO_SMALL_JPEG, "retry/fine.jpg": JPEG_BYTES},
    )
    for key in ("retry/small.jpg", "retry/fine.jpg"):
        function.deliver_upload(stack.bucket, key, versions[key])
    # A failure recorded before failure causes were: it may pass too.
    _put(s3, stack.bucket, {"retry/old.png": PNG_BYTES})
    old = failure_item(ImageRef(stack.bucket, "retry/old.png"), "ServiceUnavailableError", "S3 kept failing",
                       FailureCause.ENVIRONMENT, "2026-01-02T03:04:05Z")  # fmt: skip
    del old["failure_cause"]
    put_item(stack.table, old)
    function.calls.clear()

    plain = cli("backfill", "--prefix", "retry/", "--rate", "100")
    retried = cli("backfill", "--prefix", "retry/", "--retry-failed", "--rate", "100")
    again = cli("backfill", "--prefix", "retry/", "--retry-failed", "--rate", "100")

    assert plain.exit_code == 0 and _count(plain.stdout, "skipped (already had a result)") == 4
    assert retried.exit_code == 0, retried.output
    assert sorted(function.invoked_keys()) == ["retry/late.jpg", "retry/old.png"]
    assert (_count(retried.stdout, "done"), _count(retried.stdout, "skipped (already had a result)")) == (
        2,
        2,
    )
    assert _count(retried.stdout, "retried after a failure that may pass") == 2
    assert rekognition_stub.calls["retry/small.jpg"] == 0
    assert again.exit_code == 0 and _count(again.stdout, "skipped (already had a result)") == 4
    assert len(function.calls) == 2


def test_retry_failed_is_documented_in_the_help(cli):
    result = cli("backfill", "--help")

    assert "--retry-failed" in result.stdout and "transient" in result.stdout


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes_the_rest(cli, function, bucket_content, ctrl_c_seen):
    def press_ctrl_c_during_second_call(call) -> None:
        if len(function.calls) == 2:
            _thread.interrupt_main()  # what the terminal's SIGINT does to the main thread
            assert ctrl_c_seen.wait(30)  # the call is still in flight when the main thread sees Ctrl-C

    function.on_invoke = press_ctrl_c_during_second_call
    interrupted = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")

    assert interrupted.exit_code == ExitCode.INTERRUPTED
    first_run = function.invoked_keys()
    assert len(first_run) == 2  # the call in flight finished; no new one started
    assert "(interrupted)" in interrupted.stdout
    assert _count(interrupted.stdout, "done") == len(first_run)
    # Listed in key order: a.jpg skipped, b.JPG done, c.png in flight; d, e, f never looked at.
    assert _count(interrupted.stdout, "skipped (already had a result)") == 1
    assert _count(interrupted.stdout, "not finished") == 3
    assert "stopping: waiting for the invocations in flight" in interrupted.stderr
    assert error_lines(interrupted.stderr) == [
        "error: interrupted: 3 image(s) not finished; run again to continue"
    ]

    function.on_invoke = None
    rerun = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert rerun.exit_code == 0, rerun.output
    second_run = function.invoked_keys()[len(first_run) :]
    assert set(first_run).isdisjoint(second_run)
    assert sorted(first_run + second_run) == sorted(NEW)


def test_ctrl_c_delivered_twice_at_once_still_waits_for_the_call_in_flight(
    cli, function, bucket_content, ctrl_c_seen
):
    def press_ctrl_c_twice(call) -> None:
        if len(function.calls) == 1:
            # `timeout` and some shells signal the process and its group: one Ctrl-C, two SIGINTs.
            _thread.interrupt_main()
            assert ctrl_c_seen.wait(30)
            _thread.interrupt_main()
            time.sleep(0.2)  # the main thread (polling every 50 ms) takes the second one meanwhile

    function.on_invoke = press_ctrl_c_twice
    result = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")

    assert result.exit_code == ExitCode.INTERRUPTED
    assert _count(result.stdout, "done") == 1  # the call in flight was waited for


def test_second_ctrl_c_later_stops_waiting_and_still_reports(cli, function, bucket_content, ctrl_c_seen):
    release = threading.Event()
    call_over = threading.Event()

    def press_ctrl_c_then_again(call) -> None:
        if len(function.calls) == 1:
            _thread.interrupt_main()
            assert ctrl_c_seen.wait(30)
            time.sleep(0.6)  # "later": past the half second in which a second SIGINT is the same Ctrl-C
            _thread.interrupt_main()  # "don't wait"
            release.wait(30)  # the call stays in flight until the test has seen the command return
            call_over.set()

    function.on_invoke = press_ctrl_c_then_again
    result = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")
    returned_while_in_flight = not call_over.is_set()
    release.set()

    assert returned_while_in_flight
    assert result.exit_code == ExitCode.INTERRUPTED
    assert _count(result.stdout, "done") == 0
    assert _count(result.stdout, "not finished") == 5
    assert error_lines(result.stderr) == [
        "error: interrupted: 5 image(s) not finished; run again to continue"
    ]


def test_without_table_refuses_unless_all(cli, function, s3):
    no_table = deploy("NoTable", with_table=False)
    serve_stack(function, no_table)
    _put(s3, no_table.bucket, {"x.jpg": JPEG_BYTES, "y.png": PNG_BYTES})

    refused = cli("--stack", "NoTable", "backfill")
    forced = cli("--stack", "NoTable", "backfill", "--all", "--rate", "100")

    assert refused.exit_code == ExitCode.CONFIG
    assert error_lines(refused.stderr) == [
        "error: stack 'NoTable' has no ResultsTableName output (deployed without the results table), "
        "so there is no way to know which images are done; pass --all to analyze every image"
    ]
    assert forced.exit_code == 0, forced.output
    assert sorted(function.invoked_keys()) == ["x.jpg", "y.png"]


def test_all_reinvokes_images_with_results_which_the_table_answers(
    cli, function, bucket_content, rekognition_stub
):
    analyzed_before = {key: rekognition_stub.calls[key] for key in ("photos/a.jpg", "photos/d.jpeg")}

    result = cli("backfill", "--prefix", "photos/", "--all", "--rate", "100")

    assert result.exit_code == 0, result.output
    assert len(function.calls) == 6
    # The two analyzed before were answered from their stored result: no further Rekognition call.
    assert {key: rekognition_stub.calls[key] for key in analyzed_before} == analyzed_before


def test_error_that_concerns_every_image_stops_the_run(cli, function, bucket_content):
    function.function_name = function.function_arn = "another-function"  # the stack's function is gone: 404

    result = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")

    assert result.exit_code == ExitCode.CONFIG
    assert len(function.calls) == 1
    [line] = error_lines(result.stderr)
    assert "not found: is the stack fully deployed?" in line


def test_no_worker_thread_is_left_behind(cli, function, bucket_content):
    cli("backfill", "--prefix", "photos/", "--rate", "100")
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("backfill-")] == []
