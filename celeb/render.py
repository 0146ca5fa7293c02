"""Everything `celeb` shows: rich tables and progress on the terminal, or one JSON document."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from celeb.backfill import Summary
from celeb.recognize import TargetResult
from celeb.stack import StackOutputs
from recognizer.contract import (
    ANSWERED_FROM_TABLE,
    BackfillCount,
    BoundingBox,
    Celebrity,
    ImageRef,
    ResultStatus,
    VideoResult,
    failure_of,
    is_video_item,
    result_of,
    video_result_of,
)

if TYPE_CHECKING:  # cloud_backfill draws with this module
    from celeb.cloud_backfill import ExecutionProgress, Report


def stdout_console() -> Console:
    # Keys, names and error messages are data: with markup on, a key like "a[/b].jpg" would be
    # read as rich markup (and fail); highlighting would colour numbers in them at random.
    return Console(markup=False, highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, markup=False, highlight=False)


def print_json(document: Any) -> None:
    # Plain print, not rich: JSON must not be wrapped or coloured when it is piped into jq.
    print(json.dumps(document, indent=2, ensure_ascii=False), file=sys.stdout)


def _version(version_id: Any) -> str:
    return "-" if version_id in (None, "", "null") else str(version_id)


def _count(number: int, thing: str) -> str:
    plural = thing[:-1] + "ies" if thing.endswith("y") else thing + "s"
    return f"{number} {thing if number == 1 else plural}"


def _percent(value: Any) -> str:
    if value is None:
        return "-"
    # Truncated, not rounded: a 99.998 match must not read as a certain 100%.
    return f"{math.floor(float(value) * 100) / 100:.2f}%"


def _when(iso: Any) -> str:
    """An ISO timestamp to the second, for tables (JSON keeps the stored value)."""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso or "")
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M:%SZ")
    return moment.strftime("%Y-%m-%d %H:%M:%S%z")


def _locate(items: list[dict[str, Any]]) -> tuple[str, Callable[[dict[str, Any]], str]]:
    """Where the rows' images are, for the title, and each row's image: the bare key when all
    rows share one bucket (the usual case), which keeps the table narrow."""
    buckets = {item.get("bucket") for item in items}
    if len(buckets) == 1:
        return f" in s3://{buckets.pop()}/", lambda item: str(item.get("key"))
    return "", lambda item: f"s3://{item.get('bucket')}/{item.get('key')}"


def _short_version(version_id: Any) -> str:
    # Like a short git hash: enough to tell versions apart in a list; --image shows them whole.
    version = _version(version_id)
    return version if len(version) <= 10 else version[:8] + "…"


def _box(box: BoundingBox | Any) -> str:
    # Ratios of the image's size, as Rekognition reports them; a box without them (Rekognition may
    # omit any of its fields) says what it lacks instead of failing the whole table.
    if not isinstance(box, Mapping):
        return "no box"
    sides = ("left", "top", "width", "height")
    missing = [side for side in sides if not isinstance(box.get(side), int | float)]
    if missing:
        return f"box without {', '.join(missing)}"
    return f"left {box['left']:.3f}, top {box['top']:.3f}\n{box['width']:.3f} x {box['height']:.3f}"


# recognize


def recognition_document(results: list[TargetResult]) -> dict[str, Any]:
    """One JSON document for all images: each result as the function returned it, or its error."""
    entries = []
    for done in results:
        entry: dict[str, Any] = {"source": done.target.source, "bucket": done.ref.bucket, "key": done.ref.key}
        if done.result is not None:
            entry["status"] = str(ResultStatus.SUCCEEDED)
            entry.update(done.result)
        elif done.error is not None:
            # The field names and values of a FAILED item in the results table.
            error = done.error
            entry.update(
                status=str(ResultStatus.FAILED), error_type=error.error_type, error_message=error.reason
            )
        entries.append(entry)
    return {"results": entries}


def print_recognition(console: Console, done: TargetResult) -> None:
    result = done.result
    if result is None:
        return
    # Title and details as plain lines: a table's title and caption wrap to the table's width.
    console.print(f"{done.ref.uri}  (version {_version(result['version_id'])})", style="bold")
    details = (
        f"analyzed at {_when(result['analyzed_at'])} · {_count(len(result['celebrities']), 'celebrity')}"
        f" · {_count(result['unrecognized_faces'], 'unrecognized face')}"
    )
    if result.get("answered_from") == ANSWERED_FROM_TABLE:
        details += " · stored result, no new analysis"
    console.print(details)
    if not result["celebrities"]:
        console.print("no celebrity recognized")
        return
    table = Table()
    table.add_column("Name", style="bold")
    table.add_column("Confidence", justify="right")
    table.add_column("Bounding box (ratios)")
    table.add_column("URLs", overflow="fold")
    for celebrity in result["celebrities"]:
        table.add_row(*_celebrity_row(celebrity))
    console.print(table)


def _celebrity_row(celebrity: Celebrity) -> tuple[str, str, str, str]:
    return (
        celebrity["name"],
        _percent(celebrity["confidence"]),
        _box(celebrity.get("bounding_box")),
        "\n".join(celebrity["urls"]) or "-",
    )


# results


def _celebrities_or_error(item: dict[str, Any]) -> str:
    """A summary item's cell; items come checked by celeb.results, so the readers accept them."""
    if item["status"] == ResultStatus.IN_PROGRESS:
        return f"video job {item.get('job_id')} running since {_when(item.get('started_at'))}"
    if item["status"] == ResultStatus.SUCCEEDED and is_video_item(item):
        video = video_result_of(item)["celebrities"]
        lines = (
            f"{c['name']} ({_percent(c['confidence'])}, {_clock(c['first_seen_ms'])}-"
            f"{_clock(c['last_seen_ms'])})"
            for c in video
        )
        return "\n".join(lines) or "-"
    if item["status"] != ResultStatus.SUCCEEDED:
        failure = failure_of(item)
        return f"{failure['error_type']}: {failure['error_message']}"
    celebrities = result_of(item)["celebrities"]
    return "\n".join(f"{c['name']} ({_percent(c['confidence'])})" for c in celebrities) or "-"


def _limited(count: int, limit: int) -> str | None:
    return f"first {limit} shown: raise --limit to see more" if count >= limit else None


def print_history(console: Console, ref: ImageRef, items: list[dict[str, Any]], *, limit: int) -> None:
    if not items:
        console.print(f"no result for {ref.uri}")
        return
    table = Table(title=ref.uri, title_justify="left", caption=_limited(len(items), limit))
    table.add_column("Analyzed at", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Celebrities or error", overflow="fold", min_width=20)
    for item in items:
        details = _celebrities_or_error(item)
        if item.get("unrecognized_faces"):
            details += f"\n+ {_count(int(item['unrecognized_faces']), 'unrecognized face')}"
        table.add_row(
            _when(item.get("analyzed_at")),
            _version(item.get("version_id")),
            str(item.get("status", "?")),
            details,
        )
    console.print(table)
    # A video's timeline, for its latest analyzed version (the history above lists the others).
    videos = [item for item in items if item.get("status") == ResultStatus.SUCCEEDED and is_video_item(item)]
    if videos:
        print_video_result(console, video_result_of(videos[-1]))


def print_appearances(console: Console, name: str, items: list[dict[str, Any]], *, limit: int) -> None:
    if not items:
        console.print(f"no image with {name!r} (names match exactly, e.g. 'Jeff Bezos')")
        return
    where, image = _locate(items)
    table = Table(
        title=f"Images with {name}{where}", title_justify="left", caption=_limited(len(items), limit)
    )
    # Keys stay whole; the celebrities or error column is the one that wraps.
    table.add_column("Image", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Confidence", justify="right")
    table.add_column("Analyzed at", no_wrap=True)
    for item in items:
        where = image(item)
        if is_video_item(item):  # when, in the video (index items of videos carry it)
            first, last = _clock(item.get("first_seen_ms", 0)), _clock(item.get("last_seen_ms", 0))
            where += f"\nvideo: {first}-{last}, {_count(int(item.get('appearances', 0)), 'appearance')}"
        table.add_row(
            where,
            _short_version(item.get("version_id")),
            _percent(item.get("confidence")),
            _when(item.get("analyzed_at")),
        )
    console.print(table)


def print_summaries(console: Console, items: list[dict[str, Any]], *, limit: int) -> None:
    if not items:
        console.print("no results in the table yet")
        return
    where, image = _locate(items)
    table = Table(title=f"Results{where}", title_justify="left", caption=_limited(len(items), limit))
    # Keys stay whole; the celebrities or error column is the one that wraps. No version column
    # here, for width: versions of one image differ by analysis time, and --image lists them.
    table.add_column("Image", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Celebrities or error", overflow="fold")
    table.add_column("Analyzed at", no_wrap=True)
    for item in items:
        table.add_row(
            image(item),
            str(item.get("status", "?")),
            _celebrities_or_error(item),
            _when(item.get("analyzed_at")),
        )
    console.print(table)


# video


def _clock(ms: Any) -> str:
    """Milliseconds into a video as h:mm:ss.s (m:ss.s under an hour)."""
    tenths = int(ms) // 100
    hours, rest = divmod(tenths, 36_000)
    minutes, rest = divmod(rest, 600)
    seconds = f"{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{minutes:02d}:{seconds}" if hours else f"{minutes}:{seconds}"


INTERVALS_SHOWN = 6


def _intervals(intervals: list[list[int]], total: int) -> str:
    shown = ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in intervals[:INTERVALS_SHOWN])
    more = total - min(len(intervals), INTERVALS_SHOWN)
    return shown + (f", … {more} more" if more > 0 else "")


def print_video_result(console: Console, result: VideoResult) -> None:
    """One table row per celebrity: when they appear in the video (the timeline, summarized)."""
    console.print(
        f"s3://{result['bucket']}/{result['key']}  (version {_version(result['version_id'])})", style="bold"
    )
    details = [
        f"analyzed at {_when(result['analyzed_at'])}",
        _count(result.get("celebrity_count", len(result["celebrities"])), "celebrity"),
        _count(result["detections"], "detection"),
    ]
    if result.get("duration_ms"):
        details.append(f"duration {_clock(result['duration_ms'])}")
    console.print(" · ".join(details))
    if result.get("timeline"):
        console.print(f"full timeline: {result['timeline']}")
    shown = len(result["celebrities"])
    if result.get("celebrity_count", shown) > shown:
        console.print(f"the {shown} seen most often below; every one in the full timeline")
    if not result["celebrities"]:
        console.print("no celebrity recognized")
        return
    table = Table()
    table.add_column("Name", style="bold")
    table.add_column("Confidence", justify="right")
    table.add_column("First seen", justify="right")
    table.add_column("Last seen", justify="right")
    table.add_column("Appearances", justify="right")
    table.add_column("Intervals", overflow="fold")
    table.add_column("Box at best frame")
    for celebrity in result["celebrities"]:
        table.add_row(
            celebrity["name"],
            _percent(celebrity["confidence"]),
            _clock(celebrity["first_seen_ms"]),
            _clock(celebrity["last_seen_ms"]),
            str(celebrity["appearances"]),
            _intervals(
                celebrity["intervals"], int(celebrity.get("interval_count", len(celebrity["intervals"])))
            ),
            f"at {_clock(celebrity.get('best_ms', 0))}\n{_box(celebrity.get('bounding_box'))}",
        )
    console.print(table)


@contextmanager
def video_progress(console: Console, label: str) -> Iterator[Callable[[str], None]]:
    """Yields a callback that shows the job's state; a spinner and the elapsed time on a terminal."""
    if not console.is_terminal:
        yield lambda state: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(label)
        yield lambda state: progress.update(task, description=f"{label}: {state}")


# backfill


class BackfillProgress:
    """A rich progress bar fed from the worker threads (rich's Progress is thread-safe)."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def listed(self, found: int) -> None:
        self._progress.update(self._task, total=found, description="analyzing")

    def advance(self, summary: Summary) -> None:
        with summary.lock:
            done, skipped, failed = len(summary.done), len(summary.skipped), len(summary.failed)
        counts = f"done {done} · skipped {skipped} · failed {failed}"
        finished = done + skipped + failed
        self._progress.update(self._task, completed=finished, counts=counts)

    def stopping(self) -> None:
        self._progress.console.print("stopping: waiting for the invocations in flight to finish…")


def _backfill_bar(console: Console, *timing: ProgressColumn) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # holds the user's prefix
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        *timing,
        TextColumn("{task.fields[counts]}"),
        console=console,
    )


@contextmanager
def backfill_progress(console: Console, location: str) -> Iterator[BackfillProgress]:
    progress = _backfill_bar(console, TextColumn("eta"), TimeRemainingColumn())
    with progress:
        # No total while listing: the bar pulses until the number of images is known.
        task = progress.add_task(f"listing {location}", total=None, counts="")
        yield BackfillProgress(progress, task)


def print_backfill_summary(console: Console, summary: Summary) -> None:
    state = " (interrupted)" if summary.interrupted else ""
    # A plain line, not a table title: a title wraps to the width of this narrow table.
    console.print(f"Backfill of s3://{summary.bucket}/{summary.prefix}{state}")
    counts = Table(show_header=False)
    counts.add_column("what")
    counts.add_column("count", justify="right")
    counts.add_row("images found", str(summary.found))
    counts.add_row("done", str(len(summary.done)))
    counts.add_row("skipped (already had a result)", str(len(summary.skipped)))
    counts.add_row("failed", str(len(summary.failed)))
    if summary.retried:
        counts.add_row("retried after a failure that may pass", str(len(summary.retried)))
    if summary.not_finished:
        counts.add_row("not finished", str(summary.not_finished))
    console.print(counts)
    groups = summary.failures_by_type()
    if not groups:
        return
    failures = Table(title="Failures by error type", title_justify="left")
    for column in ("Error type", "Image", "Reason"):
        failures.add_column(column, overflow="fold")
    for error_type, entries in groups.items():
        for number, (key, reason) in enumerate(sorted(entries)):
            failures.add_row(f"{error_type} ({len(entries)})" if number == 0 else "", key, reason)
    console.print(failures)


class CloudBackfillProgress:
    """The Map Run's item counts on a bar: objects listed so far, and those in finished batches."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def update(self, seen: ExecutionProgress) -> None:
        if seen.map_run_arn is None:
            return
        # The listing grows while batches run: the total is what has been listed so far.
        failed = f"failed {seen.failed}" if seen.failed else ""
        update = {"total": seen.listed or None, "completed": seen.finished, "counts": failed}
        self._progress.update(self._task, description="checking", **update)


@contextmanager
def cloud_backfill_progress(console: Console, location: str) -> Iterator[CloudBackfillProgress]:
    # No time remaining: the listing grows while batches run, so an estimate would jump about.
    progress = _backfill_bar(console)
    with progress:
        task = progress.add_task(f"listing {location}", total=None, counts="")
        yield CloudBackfillProgress(progress, task)


def print_cloud_backfill_summary(console: Console, report: Report, bucket: str) -> None:
    options = report.options
    flags = [name for name in ("retry_failed", "dry_run") if options[name]]
    state = f" ({', '.join(flags).replace('_', ' ')})" if flags else ""
    console.print(f"Backfill of s3://{bucket}/{options['prefix']} in the cloud{state}: {report.status}")
    counts = Table(show_header=False)
    counts.add_column("what")
    counts.add_column("count", justify="right")
    would = "would be " if options["dry_run"] else ""
    counts.add_row("objects listed", str(report.listed))
    counts.add_row(f"{would}queued (no result yet)", str(report.counts[BackfillCount.QUEUED]))
    if options["retry_failed"]:
        retried = report.counts[BackfillCount.RETRIED]
        counts.add_row(f"{would}queued again (failure that may pass)", str(retried))
    counts.add_row("skipped (already had a result)", str(report.counts[BackfillCount.ANALYZED]))
    counts.add_row("skipped (not an image)", str(report.counts[BackfillCount.NOT_IMAGE]))
    if report.counts[BackfillCount.GONE]:
        counts.add_row("skipped (deleted since the listing)", str(report.counts[BackfillCount.GONE]))
    if report.failed_objects:
        counts.add_row("in failed batches", str(report.failed_objects))
    console.print(counts)
    if report.failures:
        failures = Table(title="Failed batches", title_justify="left")
        for column in ("Error", "Cause"):
            failures.add_column(column, overflow="fold")
        for error, cause in report.failures:
            failures.add_row(error, cause)
        console.print(failures)
    if report.location:
        console.print(f"report: {report.location}")
    if report.sent:
        console.print(f"{report.sent} image(s) are in the upload queue: the function analyzes them at the "
                      "pace of its max_concurrency")  # fmt: skip


@contextmanager
def recognize_progress(console: Console, total: int) -> Iterator[Any]:
    """Yields a callback to count finished images; a bar only on a terminal, gone when done."""
    if not console.is_terminal:
        # Off a terminal a transient bar would leave a blank line behind and show nothing useful.
        yield lambda done: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("analyzing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("analyzing", total=total)
        yield lambda done: progress.advance(task)


def print_outputs(console: Console, outputs: StackOutputs) -> None:
    title = f"Stack {outputs.stack_name} ({outputs.region}, {outputs.status})"
    table = Table(title=title, title_justify="left")
    table.add_column("Output")
    table.add_column("Value", overflow="fold")
    for key, value in sorted(outputs.values.items()):
        table.add_row(key, value)
    console.print(table)
