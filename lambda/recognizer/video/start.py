"""The start function: one upload event of a video -> limits checked -> one Rekognition job, recorded.

- A version that already has a job (or a result, or a verdict on its bytes) starts nothing.
- The limits are checked first (recognizer.video.probe): a video Rekognition would refuse is
  recorded as a failure without a call.
- At `video_max_concurrent_jobs` jobs in flight, or when Rekognition answers LimitExceeded or
  throttles, the start goes back to the queue as a new message delayed by 1, 2, 4, 8, then 15
  minutes: never a failure, and never a step towards the dead-letter queue.
- The ClientRequestToken is derived from bucket, key and version, so two deliveries racing past the
  table check still get the one job.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from recognizer import log
from recognizer.contract import FailureCause, ImageRef, ResultStatus, VideoMetricName, is_video_key
from recognizer.errors import ConfigurationError, InvalidEventError, RecognitionError
from recognizer.events import DirectInvocation, SqsBatch, UploadEvents, Work, parse_event, parse_sqs_body
from recognizer.results import utc_timestamp
from recognizer.video.errors import VideoJobLimitError
from recognizer.video.jobs import start_job
from recognizer.video.metrics import video_metrics
from recognizer.video.probe import check_video
from recognizer.video.services import VideoServices, video_services
from recognizer.video.settings import load_video_settings

DEFERRALS_ATTRIBUTE = "video_deferrals"
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
LONG_WAIT_DEFERRALS = 12  # 1 + 2 + 4 + 8 + 8 x 15 minutes: about two and a quarter hours


class StartOutcome(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"  # the version already has a job, a result or a verdict on its bytes
    FAILED = "failed"  # recorded; no job
    DEFERRED = "deferred"  # back on the queue, delayed
    RETRY = "retry"  # handed back to SQS (batch item failure)
    IGNORED = "ignored"  # not a video key, or S3's test event


def handle_start(
    event: Any, context: Any, environ: Mapping[str, str] | None = None, services: VideoServices | None = None
) -> dict[str, Any]:
    services = services or video_services(load_video_settings(environ))
    parsed = parse_event(event)
    if isinstance(parsed, DirectInvocation):
        outcome, job_id, error = start_one(parsed.image, services)
        if error is not None and outcome in (StartOutcome.FAILED, StartOutcome.RETRY):
            raise error
        return {"outcome": str(outcome), "job_id": job_id}
    if isinstance(parsed, UploadEvents):
        # An EventBridge event invoking the function directly (tests, a manual replay).
        outcomes = [_start_work(work, services) for work in parsed.records]
        return {"outcomes": [str(outcome) for outcome in outcomes]}
    assert isinstance(parsed, SqsBatch)
    raw = {record.get("messageId"): record for record in event["Records"]}
    failures = []
    for message in parsed.messages:
        if not _process_message(raw[message.message_id], services):
            failures.append({"itemIdentifier": message.message_id})
    return {"batchItemFailures": failures}


def _process_message(record: dict[str, Any], services: VideoServices) -> bool:
    """False when SQS should deliver the message again."""
    try:
        works = parse_sqs_body(record.get("body"))
    except InvalidEventError as error:
        # Handed back: after max_receive_count receives it waits in the start dead-letter queue
        # (alarm StartDeadLetters) for someone to read, never silently gone.
        log.log_event(
            "video start: unreadable message, left for the dead-letter queue",
            logging.ERROR,
            error_message=str(error),
            message_id=record.get("messageId"),
        )
        return False
    outcomes = [_start_work(work, services) for work in works]
    if StartOutcome.RETRY in outcomes:
        return False
    if StartOutcome.DEFERRED in outcomes:
        return _defer(record, services)
    return True


def _start_work(work: Work | InvalidEventError, services: VideoServices) -> StartOutcome:
    if isinstance(work, InvalidEventError):
        log.log_event("video start: malformed record dropped", logging.ERROR, error_message=str(work))
        return StartOutcome.IGNORED
    if not is_video_key(work.image.key):
        return StartOutcome.IGNORED
    return start_one(work.image, services)[0]


def start_one(
    ref: ImageRef, services: VideoServices
) -> tuple[StartOutcome, str | None, RecognitionError | None]:
    """Start `ref`'s job unless it has one; logs one record."""
    store = services.store
    settings = services.settings
    job_id: str | None = None
    try:
        # Upload events name the version: a duplicate costs one read. Otherwise the S3 read names it.
        pinned = ref.version_id is not None
        stored = store.summary(ref) if pinned else None
        if stored is not None and _settled(stored):
            return _logged(StartOutcome.DUPLICATE, ref, stored.get("job_id"))
        ref = check_video(services.s3, ref).ref
        if not pinned:
            stored = store.summary(ref)
            if stored is not None and _settled(stored):
                return _logged(StartOutcome.DUPLICATE, ref, stored.get("job_id"))
        in_flight = len(store.pending_jobs())
        if in_flight >= settings.max_concurrent_jobs:
            raise VideoJobLimitError(
                f"{in_flight} video jobs in flight, the stack's cap (video_max_concurrent_jobs) is "
                f"{settings.max_concurrent_jobs}: {ref.describe()} starts later",
                **ref.error_fields(),
            )
        if not settings.topic_arn or not settings.role_arn:
            raise ConfigurationError("the start function needs VIDEO_TOPIC_ARN and VIDEO_ROLE_ARN")
        job_id = start_job(
            services.rekognition, ref, topic_arn=settings.topic_arn, role_arn=settings.role_arn
        )
        if stored is not None and stored.get("job_id") == job_id:
            # The same token gave back the job already recorded (a failed or timed-out one): its
            # recorded state stands; IN_PROGRESS again would hide it until the next timeout.
            return _logged(StartOutcome.DUPLICATE, ref, job_id)
        store.record_started(ref, job_id, utc_timestamp(services.now()))
        return _logged(StartOutcome.STARTED, ref, job_id, services=services)
    except ConfigurationError:
        raise
    except VideoJobLimitError as error:
        return _logged(StartOutcome.DEFERRED, ref, job_id, error)
    except RecognitionError as error:
        if error.retryable:
            return _logged(StartOutcome.RETRY, ref, job_id, error)
        try:
            store.record_failure(
                ref, error.error_type, error.message, error.cause, utc_timestamp(services.now())
            )
        except RecognitionError as storage_error:
            return _logged(StartOutcome.RETRY, ref, job_id, storage_error)
        return _logged(StartOutcome.FAILED, ref, job_id, error, services=services)


def _settled(item: dict[str, Any]) -> bool:
    """A job runs or ran for this version, or its bytes were judged: nothing to start."""
    status = item.get("status")
    return status in (ResultStatus.IN_PROGRESS, ResultStatus.SUCCEEDED) or (
        status == ResultStatus.FAILED and item.get("failure_cause") == FailureCause.IMAGE
    )


def _defer(record: dict[str, Any], services: VideoServices) -> bool:
    """Send the start again, delayed; True once sent (the original message is then done)."""
    deferrals = deferrals_of(record)
    # 1, 2, 4, 8, then 15 minutes, with jitter so that deferred starts do not return in step.
    delay = min(MAX_DELAY_SECONDS, 60 * 2 ** min(deferrals, 4)) - random.randint(0, 30)
    if services.sqs is None or not services.settings.start_queue_url:
        return False  # no way to delay: let SQS redeliver after the visibility timeout
    try:
        services.sqs.send_message(
            QueueUrl=services.settings.start_queue_url,
            MessageBody=record["body"],
            DelaySeconds=delay,
            MessageAttributes={
                DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals + 1)}
            },
        )
    except Exception as error:  # any failure: SQS redelivers the original instead
        log.log_event(
            "video start: could not defer, SQS will redeliver",
            logging.WARNING,
            error_message=str(error),
            message_id=record.get("messageId"),
        )
        return False
    log.log_event(
        "video start deferred",
        # After about two hours of waiting someone should look at the account's video jobs.
        logging.WARNING if deferrals + 1 >= LONG_WAIT_DEFERRALS else logging.INFO,
        metrics=video_metrics(
            services.settings.common.metrics_namespace, VideoMetricName.STARTS_DEFERRED, services.now()
        ),
        message_id=record.get("messageId"),
        delay_seconds=delay,
        deferrals=deferrals + 1,
    )
    return True


def deferrals_of(record: dict[str, Any]) -> int:
    """How often the start was deferred already: the message's `video_deferrals` attribute.

    Our own messages carry a whole number; anything else (someone's hand-sent message, an attribute
    of another shape) counts as 0, logged: the start is delayed from the shortest step again rather
    than dropped.
    """
    attributes = record.get("messageAttributes")
    attribute = attributes.get(DEFERRALS_ATTRIBUTE) if isinstance(attributes, dict) else None
    if attribute is None:
        return 0
    raw = attribute.get("stringValue") if isinstance(attribute, dict) else attribute
    text = raw.strip() if isinstance(raw, str) else ""
    if text.isascii() and text.isdigit():  # not int()'s other digits ("²" is a digit, not a number)
        return int(text)
    log.log_event(
        "video start: unreadable deferral count, counted as 0",
        logging.WARNING,
        error_message=f"message attribute {DEFERRALS_ATTRIBUTE}={raw!r:.80}: expected a whole number "
        "of deferrals (a Number attribute)",
        message_id=record.get("messageId"),
    )
    return 0


_COUNTED = {
    StartOutcome.STARTED: VideoMetricName.JOBS_STARTED,
    StartOutcome.FAILED: VideoMetricName.JOBS_FAILED,
}


def _logged(
    outcome: StartOutcome,
    ref: ImageRef,
    job_id: str | None,
    error: RecognitionError | None = None,
    *,
    services: VideoServices | None = None,
) -> tuple[StartOutcome, str | None, RecognitionError | None]:
    """One line per start; a started job's and a recorded failure's carry their metric (`services`)."""
    level = logging.WARNING if outcome in (StartOutcome.FAILED, StartOutcome.RETRY) else logging.INFO
    fields: dict[str, Any] = {"outcome": str(outcome), "job_id": job_id, **ref.error_fields()}
    if error is not None:
        fields |= {"error_type": error.error_type, "error_message": error.message}
    figures = None
    if services is not None and outcome in _COUNTED:
        figures = video_metrics(services.settings.common.metrics_namespace, _COUNTED[outcome], services.now())
    log.log_event(f"video start {outcome}", level, metrics=figures, **fields)
    return outcome, job_id, error
