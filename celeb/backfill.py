"""`backfill`: analyze the images already in the bucket that have no result yet.

Safe to stop and to run again: an image counts as done once the table holds a summary item for it
(the function writes it), so a re-run skips what an earlier run finished. With `retry_failed`, an
image whose latest recorded failure may have been transient (the contract's `may_succeed_later`:
a missing or archived object, say, not unreadable bytes) is analyzed again. Ctrl-C stops handing
out new images, lets the in-flight invocations finish (unless pressed again), and reports what was
done so far.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from celeb.aws import Aws, explain
from celeb.errors import CelebError, ExitCode, FunctionFailed, Throttled, worst_exit_code
from celeb.interrupts import ctrl_c_counted
from celeb.invoke import invoke
from celeb.ratelimit import RateLimiter
from celeb.results import latest_summary
from recognizer.contract import ImageRef, is_image_key, may_succeed_later

# Errors that concern one image; any other error (access denied, function gone) would hit every
# image alike, so it stops the whole run instead of failing each image in turn.
_PER_IMAGE_ERRORS = (FunctionFailed, Throttled)


@dataclass
class Summary:
    """What a run did; updated by the worker threads under `lock`."""

    bucket: str
    prefix: str
    found: int = 0
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Images analyzed again because their recorded failure may have been transient (also in
    # `done` or `failed`, whichever the new attempt ended in).
    retried: list[str] = field(default_factory=list)
    failed: list[tuple[str, CelebError]] = field(default_factory=list)
    interrupted: bool = False
    fatal: CelebError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def not_finished(self) -> int:
        """Images a stopped run never got to (or, after a second Ctrl-C, left in flight)."""
        return self.found - len(self.done) - len(self.skipped) - len(self.failed)

    def failures_by_type(self) -> dict[str, list[tuple[str, str]]]:
        groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key, error in self.failed:
            groups[error.error_type].append((key, error.reason))
        return dict(sorted(groups.items()))

    @property
    def exit_code(self) -> ExitCode:
        if self.fatal is not None:
            return self.fatal.exit_code
        if self.interrupted:
            return ExitCode.INTERRUPTED
        return worst_exit_code([error for _, error in self.failed])


@dataclass(frozen=True)
class BackfillOptions:
    bucket: str
    function_name: str
    table: str | None
    prefix: str = ""
    rate: float = 5.0
    max_concurrency: int = 4
    # Invoke every image, also those with a result (and the only way without a results table).
    reprocess_all: bool = False
    # Also invoke images whose latest recorded failure may succeed on a new attempt.
    retry_failed: bool = False


class _NotStarted(Exception):
    """The run was stopped before this image's turn came."""


def list_images(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []) if is_image_key(item["Key"]))
    return keys


def run_backfill(
    aws: Aws,
    options: BackfillOptions,
    *,
    on_listed: Callable[[int], None] = lambda found: None,
    on_progress: Callable[[Summary], None] = lambda summary: None,
    on_stopping: Callable[[], None] = lambda: None,
) -> Summary:
    # Every client is created here, in the main thread, before the workers share them.
    s3 = aws.client("s3")
    lambda_client = aws.client("lambda")
    dynamodb = aws.client("dynamodb") if options.table else None
    check_results = options.table is not None and not options.reprocess_all

    summary = Summary(bucket=options.bucket, prefix=options.prefix)
    keys = list_images(s3, options.bucket, options.prefix)
    summary.found = len(keys)
    on_listed(summary.found)

    stop = threading.Event()
    limiter = RateLimiter(options.rate)
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for key in keys:
        pending.put(key)

    def process(key: str) -> list[str]:
        """Skip or analyze one image; returns the summary's list (done or skipped) it goes in."""
        ref = ImageRef(options.bucket, key)
        retrying = False
        if check_results:
            latest = latest_summary(dynamodb, options.table, ref)
            retrying = latest is not None and options.retry_failed and may_succeed_later(latest)
            if latest is not None and not retrying:
                return summary.skipped
        # Only invocations count against the rate: they are what reaches Rekognition.
        if not limiter.wait(stop):
            raise _NotStarted
        if retrying:
            with summary.lock:
                summary.retried.append(key)
        invoke(lambda_client, options.function_name, ref)
        return summary.done

    def record_error(key: str, error: CelebError) -> None:
        with summary.lock:
            if isinstance(error, _PER_IMAGE_ERRORS):
                summary.failed.append((key, error))
            elif summary.fatal is None:
                summary.fatal = error
                stop.set()

    def work() -> None:
        while not stop.is_set():
            try:
                key = pending.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = process(key)
            except _NotStarted:
                return
            except CelebError as exc:
                record_error(key, exc)
            except (BotoCoreError, ClientError) as exc:
                record_error(key, explain(exc))
            else:
                with summary.lock:
                    outcome.append(key)
            on_progress(summary)

    # Daemon threads: after a second Ctrl-C the calls still in flight must not hold up the exit.
    workers = [
        threading.Thread(target=work, name=f"backfill-{number}", daemon=True)
        for number in range(min(options.max_concurrency, len(keys)))
    ]
    with ctrl_c_counted() as ctrl_c:
        for worker in workers:
            worker.start()
        _wait_for(workers, unless=lambda: ctrl_c.pressed)
        if ctrl_c.pressed:
            summary.interrupted = True
            stop.set()
            on_stopping()
            # A second press means "do not wait": the calls in flight are abandoned and count as
            # not finished; a re-run sees their results.
            _wait_for(workers, unless=lambda: ctrl_c.pressed_again)
    return summary


def _wait_for(workers: list[threading.Thread], *, unless: Callable[[], bool]) -> None:
    # Polling, not Thread.join: the main thread must see Ctrl-C while the workers run.
    while any(worker.is_alive() for worker in workers) and not unless():
        time.sleep(0.05)
