"""`recognize` for videos: upload, ask for the start, then follow the job's state in the results table.

A video is not analyzed by invoking a function: the client puts a start request for the exact
version on the stack's video start queue (after uploading a local file, and for an `s3://` URI), and
the job's outcome lands in the results table under the version's summary item (recognizer.contract:
IN_PROGRESS, then SUCCEEDED or FAILED). The upload event may start the same job too (when the key
is under the stack's `upload_prefix`): the start function's idempotent ClientRequestToken makes the
two requests one job. The client polls that one item, until a deadline: the stack's
video_job_timeout_minutes plus a margin (recognizer.contract.video_wait_minutes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from celeb.errors import CelebError, ConfigProblem, UsageProblem
from celeb.stack import StackOutputs
from recognizer.contract import (
    LEADING_BOXES,
    PARTITION_KEY,
    SETTINGS_BY_KEY,
    SORT_KEY,
    VIDEO_CONTENT_TYPES,
    ImageRef,
    ResultStatus,
    StackOutput,
    from_decimals,
    image_pk,
    summary_sk,
    video_wait_minutes,
)

POLL_SECONDS = 5.0
# One PUT takes up to 5 GB; larger videos (Rekognition takes up to 10 GB) go in parts.
SINGLE_PUT_BYTES = 256 * 1024 * 1024
PART_BYTES = 64 * 1024 * 1024
_deserializer = TypeDeserializer()


class VideoFailed(CelebError):
    """Rekognition (or the limit checks before it) recorded a failure for the video."""


class VideoWaitTimedOut(CelebError):
    """No settled result before the wait's deadline (exit status 1): the job, if any, goes on."""


@dataclass(frozen=True)
class LocalVideo:
    path: Path

    @property
    def content_type(self) -> str:
        return VIDEO_CONTENT_TYPES.get(self.path.suffix.lower(), "application/octet-stream")


def check_local_video(text: str) -> LocalVideo:
    """An MP4/MOV file by its first box; codec, size and duration are the start function's to check."""
    path = Path(text)
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except FileNotFoundError:
        raise UsageProblem(f"{text}: no such file") from None
    except IsADirectoryError:
        raise UsageProblem(f"{text}: is a directory, not a video file") from None
    except OSError as exc:
        raise UsageProblem(f"{text}: cannot read: {exc.strerror}") from None
    if len(head) < 8 or head[4:8].decode("latin-1") not in LEADING_BOXES:
        raise UsageProblem(
            f"{text}: not an MP4 or MOV file (bytes 4-8: {head[4:8].hex(' ') or 'none'}, expected 'ftyp')"
        )
    return LocalVideo(path)


def require_video(outputs: StackOutputs) -> str:
    """The results table, once the stack says it handles videos."""
    if StackOutput.VIDEO_START_QUEUE_URL not in outputs.values:
        raise ConfigProblem(
            f"stack {outputs.stack_name!r} has no {StackOutput.VIDEO_START_QUEUE_URL} output: it was "
            "deployed without video recognition (deploy with -c video=true)"
        )
    return outputs.require(StackOutput.RESULTS_TABLE)


def wait_minutes(outputs: StackOutputs) -> float:
    """The default wait for a video: the stack's video_job_timeout_minutes (its output), plus the margin."""
    raw = outputs.values.get(StackOutput.VIDEO_JOB_TIMEOUT_MINUTES)
    setting = SETTINGS_BY_KEY["video_job_timeout_minutes"]
    try:
        # A stack deployed before the output existed: the setting's default (--wait-minutes overrides).
        timeout = int(raw) if raw is not None else int(setting.default)
    except ValueError:
        raise ConfigProblem(
            f"stack {outputs.stack_name!r} output {StackOutput.VIDEO_JOB_TIMEOUT_MINUTES}={raw!r}: "
            "expected a whole number of minutes"
        ) from None
    return float(video_wait_minutes(timeout))


def upload_video(s3: Any, video: LocalVideo, ref: ImageRef) -> ImageRef:
    """Upload the file; `ref` pinned to the new version (request_start then asks for its job)."""
    size = video.path.stat().st_size
    extra = {"ContentType": video.content_type}
    if size <= SINGLE_PUT_BYTES:
        with video.path.open("rb") as body:
            response = s3.put_object(Bucket=ref.bucket, Key=ref.key, Body=body, **extra)
        return ref.with_version(response.get("VersionId"))
    # In parts, by hand: boto3's managed transfer does not say which version it created.
    upload_id = s3.create_multipart_upload(Bucket=ref.bucket, Key=ref.key, **extra)["UploadId"]
    try:
        parts = []
        with video.path.open("rb") as file:
            for number in range(1, 10_001):
                chunk = file.read(PART_BYTES)
                if not chunk:
                    break
                part = s3.upload_part(
                    Bucket=ref.bucket, Key=ref.key, UploadId=upload_id, PartNumber=number, Body=chunk
                )
                parts.append({"ETag": part["ETag"], "PartNumber": number})
        response = s3.complete_multipart_upload(
            Bucket=ref.bucket, Key=ref.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=ref.bucket, Key=ref.key, UploadId=upload_id)
        raise
    return ref.with_version(response.get("VersionId"))


def request_start(s3: Any, sqs: Any, outputs: StackOutputs, ref: ImageRef) -> ImageRef:
    """Ask the start queue for the job of `ref`'s version (its current one when `ref` names none).

    Whatever the stack's upload_prefix: the start function takes direct requests for any video key
    of the images bucket, and a second request for a version (its upload event) is the same job.
    """
    if ref.version_id is None:
        ref = ref.with_version(s3.head_object(Bucket=ref.bucket, Key=ref.key).get("VersionId"))
    payload = {"bucket": ref.bucket, "object_name": ref.key}
    if ref.version_id:
        payload["version_id"] = ref.version_id
    sqs.send_message(
        QueueUrl=outputs.require(StackOutput.VIDEO_START_QUEUE_URL), MessageBody=json.dumps(payload)
    )
    return ref


def read_summary(dynamodb: Any, table: str, ref: ImageRef) -> dict[str, Any] | None:
    key = {PARTITION_KEY: {"S": image_pk(ref.bucket, ref.key)}, SORT_KEY: {"S": summary_sk(ref.version_id)}}
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if not item:
        return None
    return from_decimals({name: _deserializer.deserialize(value) for name, value in item.items()})


def describe_state(item: dict[str, Any] | None) -> str:
    """What the progress line says about the job."""
    if item is None:
        return "waiting for the job to start (limit checks, the account's concurrent-job quota)"
    if item.get("status") == ResultStatus.IN_PROGRESS:
        return f"Rekognition job {item.get('job_id')}: in progress since {item.get('started_at')}"
    return f"job {item.get('job_id', '-')}: {str(item.get('status')).lower()}"


def wait_for_video(
    dynamodb: Any,
    table: str,
    ref: ImageRef,
    *,
    deadline: float,
    on_state: Callable[[str], None] = lambda state: None,
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, Any]:
    """The version's settled summary item (SUCCEEDED or FAILED), read every `poll_seconds`.

    `deadline` is a time.monotonic() value. The stack's sweep records a job that outlives
    video_job_timeout_minutes (as a VideoJobTimeoutError), which settles the item; a start that never
    ran (its request in the start dead-letter queue) settles nothing, so past the deadline this
    raises VideoWaitTimedOut. Ctrl-C, as the deadline, stops the watching, not the job.
    """
    while True:
        item = read_summary(dynamodb, table, ref)
        state = describe_state(item)
        on_state(state)
        if item is not None and item.get("status") in (ResultStatus.SUCCEEDED, ResultStatus.FAILED):
            return item
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise VideoWaitTimedOut(
                f"no result for {ref.describe()} before the wait's deadline ({state}); if a job runs it "
                f"goes on: see it later with celeb results --image {ref.uri} (a start that never ran "
                "waits in the start dead-letter queue, output VideoDeadLetterQueueUrl)"
            )
        time.sleep(min(poll_seconds, remaining))


def failure(item: dict[str, Any]) -> VideoFailed:
    return VideoFailed(
        f"{item.get('error_type')}: {item.get('error_message')}", error_type=item.get("error_type")
    )
