"""`backfill` in the cloud: start the stack's backfill state machine, follow its Map Run, read its report.

The state machine (stacks/backfill.py) lists the bucket itself and queues every image version without
a result for the function, so nothing here touches an image: this module starts an execution, polls
DescribeExecution and the Map Run's item counts (ListMapRuns, DescribeMapRun) for a progress bar, and
once the execution has ended sums the counts its batches wrote to the ResultWriter report. Stopping
the client (Ctrl-C) leaves the execution running; `--status` attaches to it again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celeb import render
from celeb.aws import Aws
from celeb.errors import CelebError, ConfigProblem, ExitCode, UsageProblem
from celeb.interrupts import ctrl_c_counted
from celeb.stack import StackOutputs
from recognizer.contract import BackfillCount, BackfillInput

# Seconds between two looks at the execution: three cheap API calls each time, and a Map Run's
# counts move by whole batches anyway.
POLL_SECONDS = 2.0
# Failed batches shown with their error; the report holds them all.
SHOWN_FAILURES = 5
RUNNING = "RUNNING"


class BackfillFailed(CelebError):
    """The execution ended without success (FAILED, TIMED_OUT, ABORTED), or batches of it failed."""

    exit_code = ExitCode.FAILED


class StoppedWatching(CelebError):
    """Ctrl-C stopped the client, not the execution."""

    exit_code = ExitCode.INTERRUPTED


@dataclass(frozen=True)
class CloudOptions:
    prefix: str = ""
    retry_failed: bool = False
    dry_run: bool = False
    reprocess_all: bool = False  # --all: only meaningful without a results table
    attach: bool = False  # --status: follow an execution instead of starting one
    execution: str | None = None  # with attach: its name or ARN (default: the newest)


def run(aws: Aws, outputs: StackOutputs, state_machine_arn: str, options: CloudOptions) -> None:
    """Start (or attach to) a backfill execution, show its progress, then its report; raises on failure."""
    sfn = aws.client("stepfunctions")
    stderr = render.stderr_console()
    if options.execution is not None and not options.attach:
        raise UsageProblem("EXECUTION names a backfill to follow: use it with --status")
    if options.attach:
        execution = execution_arn(sfn, state_machine_arn, options.execution)
        where = execution.rsplit(":", 1)[-1]
    else:
        check_options(has_table=outputs.results_table is not None, reprocess_all=options.reprocess_all)
        backfill_input: BackfillInput = {
            "prefix": options.prefix,
            "retry_failed": options.retry_failed,
            "dry_run": options.dry_run,
        }
        execution = start(sfn, state_machine_arn, backfill_input)
        stderr.print(f"started {execution}")
        where = f"s3://{outputs.bucket}/{options.prefix}"
    with render.cloud_backfill_progress(stderr, where) as bar:
        ended = follow(sfn, execution, bar.update)
    if ended is None:
        for line in how_to_watch(execution):
            stderr.print(line)
        raise StoppedWatching("stopped watching (the backfill was not stopped)")
    report = read_report(sfn, aws.client("s3"), execution)
    render.print_cloud_backfill_summary(render.stdout_console(), report, outputs.bucket)
    if report.error is not None:
        raise BackfillFailed(
            f"the backfill ended {report.status} ({report.error}); once the cause is fixed, "
            f"`aws stepfunctions redrive-execution --execution-arn {execution}` runs its unfinished "
            "batches again"
        )
    if report.failed_objects:
        raise BackfillFailed(
            f"{report.failed_objects} of {report.listed} object(s) were in batches that failed (see above); "
            "run `celeb backfill` again to queue those without a result"
        )


@dataclass(frozen=True)
class ExecutionProgress:
    """One look at an execution: its status and its Map Run's item counts (objects, not batches)."""

    execution_arn: str
    status: str
    listed: int = 0  # objects the listing has given the Map Run so far
    finished: int = 0  # objects in batches that have ended, whatever their end
    failed: int = 0  # objects in batches that failed, timed out or were aborted
    map_run_arn: str | None = None

    @property
    def running(self) -> bool:
        return self.status == RUNNING


@dataclass
class Report:
    """What the batches of one execution reported (the ResultWriter's files), summed."""

    execution_arn: str
    status: str
    options: BackfillInput
    counts: dict[BackfillCount, int] = field(default_factory=lambda: dict.fromkeys(BackfillCount, 0))
    failed_objects: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (error, cause) of failed batches
    location: str | None = None  # s3://bucket/key of the report's manifest
    error: str | None = None  # why the execution itself did not succeed

    @property
    def listed(self) -> int:
        return sum(self.counts.values()) + self.failed_objects

    @property
    def sent(self) -> int:
        return (
            0
            if self.options["dry_run"]
            else self.counts[BackfillCount.QUEUED] + self.counts[BackfillCount.RETRIED]
        )


def start(sfn: Any, state_machine_arn: str, options: BackfillInput) -> str:
    """Start an execution; its name says when it started, for the console's list."""
    name = f"backfill-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(options))
    return str(response["executionArn"])


def execution_arn(sfn: Any, state_machine_arn: str, execution: str | None) -> str:
    """The ARN of `execution` (an ARN or a name of this state machine), or of the newest execution."""
    if execution and execution.startswith("arn:"):
        return execution
    if execution:
        # arn:aws:states:region:account:stateMachine:NAME -> ...:execution:NAME:EXECUTION
        return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{execution}"
    newest = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1)["executions"]
    if not newest:
        raise UsageProblem("no backfill has run on this stack yet: start one with `celeb backfill`")
    return str(newest[0]["executionArn"])


def look(sfn: Any, execution: str) -> ExecutionProgress:
    status = str(sfn.describe_execution(executionArn=execution)["status"])
    runs = sfn.list_map_runs(executionArn=execution).get("mapRuns", [])
    if not runs:  # still validating its input, or it failed before listing anything
        return ExecutionProgress(execution, status)
    map_run_arn = str(runs[0]["mapRunArn"])
    counts = sfn.describe_map_run(mapRunArn=map_run_arn)["itemCounts"]
    failed = sum(int(counts.get(name, 0)) for name in ("failed", "timedOut", "aborted"))
    return ExecutionProgress(
        execution,
        status,
        listed=int(counts.get("total", 0)),
        finished=int(counts.get("succeeded", 0)) + failed,
        failed=failed,
        map_run_arn=map_run_arn,
    )


def follow(
    sfn: Any, execution: str, on_progress: Callable[[ExecutionProgress], None]
) -> ExecutionProgress | None:
    """Look at the execution until it ends; None when Ctrl-C stopped the watching (not the execution)."""
    with ctrl_c_counted() as ctrl_c:
        while True:
            progress = look(sfn, execution)
            on_progress(progress)
            if not progress.running:
                return progress
            deadline = time.monotonic() + POLL_SECONDS
            while time.monotonic() < deadline:
                if ctrl_c.pressed:
                    return None
                time.sleep(0.05)
            if ctrl_c.pressed:
                return None


def read_report(sfn: Any, s3: Any, execution: str) -> Report:
    """The ended execution's input, end and report (the manifest and result files the ResultWriter wrote)."""
    described = sfn.describe_execution(executionArn=execution)
    report = Report(execution, str(described["status"]), _options(described.get("input")))
    if described["status"] != "SUCCEEDED":
        report.error = (
            f"{described.get('error') or described['status']}: {described.get('cause') or 'no cause given'}"
        )
    output = json.loads(described.get("output") or "{}")
    details = (output.get("report") or {}).get("ResultWriterDetails") if isinstance(output, dict) else None
    if not details:
        return report
    bucket, key = details["Bucket"], details["Key"]
    report.location = f"s3://{bucket}/{key}"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    files = manifest.get("ResultFiles", {})
    for entry in files.get("SUCCEEDED", []):
        for counts in _records(s3, bucket, entry["Key"]):
            for count in BackfillCount:
                report.counts[count] += int(counts.get(count.value, 0))
    for status in ("FAILED", "PENDING"):
        for entry in files.get(status, []):
            for record in _records(s3, bucket, entry["Key"]):
                _add_failure(report, record)
    return report


def _options(raw: str | None) -> BackfillInput:
    given = json.loads(raw or "{}")
    return {
        "prefix": str(given.get("prefix", "")),
        "retry_failed": bool(given.get("retry_failed", False)),
        "dry_run": bool(given.get("dry_run", False)),
    }


def _records(s3: Any, bucket: str, key: str) -> Iterator[dict[str, Any]]:
    """A result file's records: JSON Lines (the stack's WriterConfig), or one JSON array."""
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    if text.lstrip().startswith("["):
        yield from json.loads(text)
        return
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def _add_failure(report: Report, record: dict[str, Any]) -> None:
    # A failed child workflow is written whole: its input holds the batch's objects.
    try:
        batch = json.loads(record.get("Input") or "{}").get("Items", [])
    except ValueError:
        batch = []
    report.failed_objects += len(batch)
    if len(report.failures) < SHOWN_FAILURES:
        report.failures.append(
            (str(record.get("Error") or record.get("Status") or "?"), str(record.get("Cause") or ""))
        )


def how_to_watch(execution: str) -> list[str]:
    """What to tell someone who stopped watching: the execution goes on without the client."""
    return [
        "the backfill goes on in the cloud; to watch it again:",
        f"  celeb backfill --status {execution}",
        "to stop it:",
        f"  aws stepfunctions stop-execution --execution-arn {execution}",
    ]


def check_options(*, has_table: bool, reprocess_all: bool) -> None:
    """The cloud backfill skips analyzed versions by the table; without one it can only send all."""
    if has_table and reprocess_all:
        raise UsageProblem(
            "the cloud backfill always skips versions that have a result; to analyze every image "
            "again, use --local --all"
        )
    if not has_table and not reprocess_all:
        raise ConfigProblem(
            "the stack has no results table, so there is no way to know which images are done; pass "
            "--all to queue every image"
        )
