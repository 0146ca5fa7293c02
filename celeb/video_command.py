"""`celeb recognize` for videos: ask for each job (upload, start queue), follow it, print its timeline."""

from __future__ import annotations

import time
from typing import Any

import typer

from celeb import render
from celeb.aws import Aws
from celeb.errors import CelebError, UsageProblem
from celeb.stack import StackOutputs
from celeb.targets import Target
from celeb.video import (
    VideoWaitTimedOut,
    describe_state,
    failure,
    read_summary,
    request_start,
    require_video,
    upload_video,
    wait_for_video,
)
from celeb.video import wait_minutes as stack_wait_minutes
from recognizer.contract import ImageRef, ResultStatus, video_result_of


def recognize_videos(
    aws: Aws,
    outputs: StackOutputs,
    videos: list[Target],
    *,
    wait: bool,
    as_json: bool,
    wait_minutes: float | None = None,
) -> list[CelebError]:
    """Start every video first (their jobs run side by side), then follow them one after another.

    `wait_minutes` (default: the stack's video_job_timeout_minutes plus the contract's margin) bounds
    the whole wait: a video without a settled result by then is a VideoWaitTimedOut (exit status 1).
    """
    table = require_video(outputs)
    for target in videos:
        if target.bucket is not None and target.bucket != outputs.bucket:
            # The start function may read the stack's images bucket only (least privilege).
            raise UsageProblem(
                f"{target.source}: videos are analyzed in the stack's images bucket s3://{outputs.bucket}/ "
                "only: copy it there, or give the local file"
            )
    minutes = stack_wait_minutes(outputs) if wait_minutes is None else wait_minutes
    s3, sqs, dynamodb = aws.client("s3"), aws.client("sqs"), aws.client("dynamodb")
    started: list[tuple[Target, ImageRef]] = []
    for target in videos:
        ref = target.ref(outputs.bucket if target.video is not None else "")
        if target.video is not None:
            ref = upload_video(s3, target.video, ref)
        # Also after an upload: its event reaches the start queue only under the stack's upload_prefix.
        started.append((target, request_start(s3, sqs, outputs, ref)))
    if not wait:
        _print_references(dynamodb, table, started, as_json=as_json)
        return []
    deadline = time.monotonic() + minutes * 60
    errors: list[CelebError] = []
    documents = []
    console = render.stdout_console()
    for target, ref in started:
        try:
            with render.video_progress(render.stderr_console(), target.source) as show:
                item = wait_for_video(dynamodb, table, ref, deadline=deadline, on_state=show)
        except KeyboardInterrupt:
            typer.echo(f"stopped watching; the job goes on: celeb results --image {ref.uri}", err=True)
            raise
        except VideoWaitTimedOut as timed_out:
            error = VideoWaitTimedOut(f"gave up waiting after {minutes:g} minutes: {timed_out.message}")
            errors.append(error)
            typer.echo(f"error: {target.source}: {error.message}", err=True)
            documents.append({"source": target.source, **_reference(ref), "error": error.message})
            continue
        if item["status"] == ResultStatus.FAILED:
            error = failure(item)
            errors.append(error)
            typer.echo(f"error: {target.source}: {error.message}", err=True)
            documents.append({"source": target.source, **item})
            continue
        result = video_result_of(item)
        documents.append({"source": target.source, "status": str(ResultStatus.SUCCEEDED), **result})
        if not as_json:
            render.print_video_result(console, result)
    if as_json:
        render.print_json({"videos": documents})
    return errors


def _reference(ref: ImageRef) -> dict[str, Any]:
    return {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id}


def _print_references(
    dynamodb: Any, table: str, started: list[tuple[Target, ImageRef]], *, as_json: bool
) -> None:
    """--no-wait: each video's version, its job id once the start function has started it, its state."""
    references = []
    for target, ref in started:
        item = read_summary(dynamodb, table, ref)
        references.append({
            "source": target.source,
            **_reference(ref),
            "job_id": (item or {}).get("job_id"),
            "status": (item or {}).get("status"),
            "state": describe_state(item),
        })  # fmt: skip
    if as_json:
        render.print_json({"videos": references})
        return
    for reference in references:
        job = f"job {reference['job_id']}" if reference["job_id"] else "no job yet (start requested)"
        typer.echo(
            f"{reference['source']}: s3://{reference['bucket']}/{reference['key']} version "
            f"{reference['version_id']}: {job}: {reference['state']}"
        )
        typer.echo(
            f"  see it later with: celeb results --image s3://{reference['bucket']}/{reference['key']}"
        )
