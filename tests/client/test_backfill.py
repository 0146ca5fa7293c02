"""`celeb backfill`: exactly the images without a result, rate-limited, stoppable, re-runnable."""

from __future__ import annotations

import _thread
import threading
import time

import pytest
from celeb_testkit import JPEG_BYTES, PNG_BYTES, analyze, deploy, error_lines

from celeb.errors import ExitCode


@pytest.fixture
def bucket_content(fake, s3):
    """photos/ holds 6 images (2 already analyzed) and a text file; other/ one more image."""
    objects = {
        "photos/a.jpg": JPEG_BYTES,
        "photos/b.JPG": JPEG_BYTES,
        "photos/c.png": PNG_BYTES,
        "photos/d.jpeg": JPEG_BYTES,
        "photos/e.Jpeg": JPEG_BYTES,
        "photos/f.PNG": PNG_BYTES,
        "photos/notes.txt": b"not an image",
        "other/g.jpg": JPEG_BYTES,
    }
    for key, body in objects.items():
        s3.put_object(Bucket=fake.deployed.bucket, Key=key, Body=body)
    for key in ("photos/a.jpg", "photos/d.jpeg"):
        analyze(fake, key)
    fake.calls.clear()
    return objects


NEW = {"photos/b.JPG", "photos/c.png", "photos/e.Jpeg", "photos/f.PNG"}


def _count(stdout: str, label: str) -> int:
    line = next(line for line in stdout.splitlines() if f" {label} " in line)
    return int(line.strip("│ ").split("│")[-1].strip())


def test_invokes_only_images_without_result_and_rerun_invokes_nothing(cli, fake, bucket_content):
    first = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert first.exit_code == 0, first.output
    assert sorted(fake.invoked_keys()) == sorted(NEW)
    assert (_count(first.stdout, "done"), _count(first.stdout, "skipped (already had a result)")) == (4, 2)
    assert _count(first.stdout, "failed") == 0
    assert "4/6" not in first.stderr and "6/6" in first.stderr  # the progress bar's last state

    second = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert second.exit_code == 0, second.output
    assert len(fake.calls) == 4  # nothing new
    assert (_count(second.stdout, "done"), _count(second.stdout, "skipped (already had a result)")) == (0, 6)


def test_failures_are_grouped_by_error_type(cli, fake, bucket_content):
    fake.errors["photos/b.JPG"] = ("UnsupportedImageFormatError", "image smaller than 80 px")
    fake.errors["photos/f.PNG"] = ("UnsupportedImageFormatError", "image larger than 15 MB")
    fake.errors["photos/c.png"] = ("RekognitionThrottledError", "Rekognition throttled the call")

    result = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert result.exit_code == ExitCode.FAILED
    assert (_count(result.stdout, "done"), _count(result.stdout, "failed")) == (1, 3)
    out = result.stdout
    assert "RekognitionThrottledError (1)" in out and "UnsupportedImageFormatError (2)" in out
    assert out.index("RekognitionThrottledError") < out.index("UnsupportedImageFormatError")
    assert "image smaller than 80 px" in out and "image larger than 15 MB" in out
    assert error_lines(result.stderr) == ["error: 3 of 6 image(s) failed (see above)"]


def test_throttled_invocations_fail_that_image_and_are_retried_by_the_next_run(cli, fake, bucket_content):
    fake.throttle = True
    throttled = cli("backfill", "--prefix", "photos/", "--rate", "1000")

    assert throttled.exit_code == ExitCode.THROTTLED
    assert "TooManyRequestsException (4)" in throttled.stdout

    fake.throttle = False
    retried = cli("backfill", "--prefix", "photos/", "--rate", "1000")
    assert retried.exit_code == 0 and _count(retried.stdout, "done") == 4


def test_rate_limit_spaces_the_invocations(cli, fake, bucket_content):
    starts: list[float] = []
    fake.on_invoke = lambda call: starts.append(time.monotonic())

    result = cli("backfill", "--prefix", "photos/", "--rate", "10", "--max-concurrency", "4")

    assert result.exit_code == 0, result.output
    assert len(starts) == 4
    # 4 calls at 10 per second: the last starts 0.3 s after the first, though 4 threads are free.
    # (The limiter spaces the start slots; the fake sees each call a few ms after its slot.)
    assert starts[-1] - starts[0] >= 0.3 - 0.03


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes_the_rest(cli, fake, bucket_content):
    def press_ctrl_c_during_second_call(call) -> None:
        if len(fake.calls) == 2:
            _thread.interrupt_main()  # what the terminal's SIGINT does to the main thread
            time.sleep(1.0)  # the call is still in flight when the main thread sees Ctrl-C

    fake.on_invoke = press_ctrl_c_during_second_call
    interrupted = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")

    assert interrupted.exit_code == ExitCode.INTERRUPTED
    first_run = fake.invoked_keys()
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

    fake.on_invoke = None
    rerun = cli("backfill", "--prefix", "photos/", "--rate", "100")

    assert rerun.exit_code == 0, rerun.output
    second_run = fake.invoked_keys()[len(first_run) :]
    assert set(first_run).isdisjoint(second_run)
    assert sorted(first_run + second_run) == sorted(NEW)


def test_ctrl_c_delivered_twice_at_once_still_waits_for_the_call_in_flight(cli, fake, bucket_content):
    def press_ctrl_c_twice(call) -> None:
        if len(fake.calls) == 1:
            # `timeout` and some shells signal the process and its group: one Ctrl-C, two SIGINTs.
            _thread.interrupt_main()
            time.sleep(0.1)
            _thread.interrupt_main()
            time.sleep(0.8)

    fake.on_invoke = press_ctrl_c_twice
    result = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")

    assert result.exit_code == ExitCode.INTERRUPTED
    assert _count(result.stdout, "done") == 1  # the call in flight was waited for


def test_second_ctrl_c_later_stops_waiting_and_still_reports(cli, fake, bucket_content):
    abandoned_call_over = threading.Event()
    second_press: list[float] = []

    def press_ctrl_c_then_again(call) -> None:
        if len(fake.calls) == 1:
            _thread.interrupt_main()
            time.sleep(0.8)
            second_press.append(time.monotonic())
            _thread.interrupt_main()  # "don't wait"
            time.sleep(1.0)
            abandoned_call_over.set()

    fake.on_invoke = press_ctrl_c_then_again
    result = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")
    returned = time.monotonic()
    abandoned_call_over.wait(5)  # let the abandoned call end before the next test resets moto

    assert result.exit_code == ExitCode.INTERRUPTED
    assert returned - second_press[0] < 0.5  # did not wait for the call's remaining second
    assert _count(result.stdout, "done") == 0
    assert _count(result.stdout, "not finished") == 5
    assert error_lines(result.stderr) == [
        "error: interrupted: 5 image(s) not finished; run again to continue"
    ]


def test_without_table_refuses_unless_all(cli, fake, s3):
    fake.deployed = deploy("NoTable", with_table=False)
    for key in ("x.jpg", "y.png"):
        s3.put_object(Bucket=fake.deployed.bucket, Key=key, Body=JPEG_BYTES)

    refused = cli("--stack", "NoTable", "backfill")
    forced = cli("--stack", "NoTable", "backfill", "--all", "--rate", "100")

    assert refused.exit_code == ExitCode.CONFIG
    assert error_lines(refused.stderr) == [
        "error: stack 'NoTable' has no ResultsTableName output (deployed without the results table), "
        "so there is no way to know which images are done; pass --all to analyze every image"
    ]
    assert forced.exit_code == 0, forced.output
    assert sorted(fake.invoked_keys()) == ["x.jpg", "y.png"]


def test_all_reprocesses_images_with_results(cli, fake, bucket_content):
    result = cli("backfill", "--prefix", "photos/", "--all", "--rate", "100")

    assert result.exit_code == 0, result.output
    assert len(fake.calls) == 6


def test_error_that_concerns_every_image_stops_the_run(cli, fake, bucket_content):
    fake.deployed = deploy("Other")  # the stack's function is gone: the fake answers 404
    fake.on_invoke = lambda call: None

    result = cli("backfill", "--prefix", "photos/", "--rate", "100", "--max-concurrency", "1")

    assert result.exit_code == ExitCode.CONFIG
    assert len(fake.calls) == 1
    [line] = error_lines(result.stderr)
    assert "not found: is the stack fully deployed?" in line


def test_no_worker_thread_is_left_behind(cli, fake, bucket_content):
    cli("backfill", "--prefix", "photos/", "--rate", "100")
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("backfill-")] == []
