"""`celeb recognize` for videos: start each job (upload or start queue), follow it, print its timeline."""

from __future__ import annotations

import typer

from celeb import render
from celeb.aws import Aws
from celeb.errors import CelebError, UsageProblem
from celeb.stack import StackOutputs
from celeb.targets import Target
from celeb.video import (
    describe_state,
    failure,
    read_summary,
    request_start,
    require_video,
    upload_video,
    wait_for_video,
)
from recognizer.contract import ImageRef, ResultStatus, video_result_of


def recognize_videos(
    aws: Aws,
    outputs: StackOutputs,
    videos: list[Target],
    *,
    wait: bool,
    as_json: bool,
) -> list[CelebError]:
    """Start every video first (their jobs run side by side), then follow them one after another."""
    table = require_video(outputs)
    for target in videos:
        if target.bucket is not None and target.bucket != outputs.bucket:
            # The start function may read the stack's images bucket only (least privilege).
            raise UsageProblem(
                f"{target.source}: videos are analyzed in the stack's images bucket s3://{outputs.bucket}/ "
                "only: copy it there, or give the local file"
            )
    s3, sqs, dynamodb = aws.client("s3"), aws.client("sqs"), aws.client("dynamodb")
    started: list[tuple[Target, ImageRef]] = []
    for target in videos:
        ref = target.ref(outputs.bucket if target.video is not None else "")
        if target.video is not None:
            ref = upload_video(s3, target.video, ref)  # its upload event starts the job
        else:
            ref = request_start(s3, sqs, outputs, ref)
        started.append((target, ref))
    if not wait:
        references = [
            {
                "source": t.source,
                "bucket": r.bucket,
                "key": r.key,
                "version_id": r.version_id,
                "state": describe_state(read_summary(dynamodb, table, r)),
            }
            for t, r in started
        ]
        if as_json:
            render.print_json({"videos": references})
        for reference in references:
            if not as_json:
                typer.echo(
                    f"{reference['source']}: s3://{reference['bucket']}/{reference['key']} version "
                    f"{reference['version_id']}: {reference['state']}"
                )
                typer.echo(
                    f"  see it later with: celeb results --image s3://{reference['bucket']}/{reference['key']}"
                )
        return []
    errors: list[CelebError] = []
    documents = []
    console = render.stdout_console()
    for target, ref in started:
        try:
            with render.video_progress(render.stderr_console(), target.source) as show:
                item = wait_for_video(dynamodb, table, ref, on_state=show)
        except KeyboardInterrupt:
            typer.echo(f"stopped watching; the job goes on: celeb results --image {ref.uri}", err=True)
            raise
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
