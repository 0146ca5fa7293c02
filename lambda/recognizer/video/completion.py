"""The completion function: Rekognition's notices (SNS -> SQS) and the periodic sweep of lost jobs.

A notice names a job; its results are paged from GetCelebrityRecognition (1,000 a page, sorted
by timestamp), aggregated per celebrity, written as a full timeline to the timelines bucket and
as a summary plus index items to the results table. A FAILED job is recorded with its
StatusMessage. The schedule rule puts a `Scheduled Event` into the same queue every few minutes:
the sweep then asks Rekognition about every job pending longer than `video_job_timeout_minutes`
and records what it learns: the results, the failure, or a timeout (a completion that arrives
after a timeout still records the results). Nothing waits forever in silence.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from recognizer import log
from recognizer.contract import (
    ANALYZED_AT_FORMAT,
    ContractError,
    FailureCause,
    ImageRef,
    VideoMetricName,
    VideoResult,
    pending_job_of,
)
from recognizer.errors import ConfigurationError, InvalidEventError, RecognitionError
from recognizer.results import utc_timestamp
from recognizer.video.errors import VideoJobFailedError, VideoJobNotFoundError, VideoJobTimeoutError
from recognizer.video.jobs import JobPage, job_pages
from recognizer.video.metrics import video_metrics
from recognizer.video.services import VideoServices, video_services
from recognizer.video.settings import load_video_settings
from recognizer.video.timeline import appearances, detection

SCHEDULED_EVENT = "Scheduled Event"
REKOGNITION_API = "StartCelebrityRecognition"


class JobOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # results recorded
    FAILED = "failed"  # Rekognition's failure recorded
    TIMED_OUT = "timed_out"  # still running past the timeout: recorded as VideoJobTimeoutError
    RUNNING = "running"  # nothing to record yet
    UNKNOWN = "unknown"  # neither the table nor Rekognition names the video: logged, dropped
    RETRY = "retry"  # a transient error: the message comes back


def handle_results(
    event: Any, context: Any, environ: Mapping[str, str] | None = None, services: VideoServices | None = None
) -> dict[str, Any]:
    services = services or video_services(load_video_settings(environ))
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        # A direct invocation: {"JobId": ...} collects one job, a scheduled event sweeps.
        return {"outcomes": _handle_document(event, services)}
    failures = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, dict) else None
        try:
            document = _json(record.get("body") if isinstance(record, dict) else record, "SQS body")
            if _is_scheduled(document):
                # A job the sweep could not settle now is swept again in SWEEP_MINUTES: handing the
                # scheduled event back would only walk it towards the dead-letter queue.
                sweep(services)
                continue
            outcomes = _handle_document(document, services)
        except InvalidEventError as error:
            # Handed back: after max_receive_count receives it waits in the completion dead-letter
            # queue (alarm CompletionDeadLetters) for someone to read, never silently gone.
            log.log_event(
                "video results: unreadable message, left for the dead-letter queue",
                logging.ERROR,
                error_type=error.error_type,
                error_message=error.message,
                message_id=message_id,
            )
            outcomes = [str(JobOutcome.RETRY)]
        if JobOutcome.RETRY in outcomes and message_id:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def _json(text: Any, what: str) -> Any:
    """The JSON document in `text`; InvalidEventError when it is no JSON string."""
    if not isinstance(text, str):
        raise InvalidEventError(f"{what} is {type(text).__name__}, expected a JSON string")
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidEventError(f"{what} is not JSON: {text!r:.200}") from None


def _handle_document(document: Any, services: VideoServices) -> list[str]:
    """The outcomes of one notice or scheduled event; InvalidEventError when it is neither."""
    if isinstance(document, dict) and document.get("Type") == "Notification":
        # An SNS envelope (a subscription without raw message delivery): the notice is inside.
        document = _json(document.get("Message"), "the SNS notification's Message")
    if _is_scheduled(document):
        return [str(outcome) for outcome in sweep(services)]
    if isinstance(document, dict) and isinstance(document.get("JobId"), str):
        if document.get("API", REKOGNITION_API) != REKOGNITION_API:
            log.log_event(
                "video results: notice of another API ignored", logging.WARNING, api=document["API"]
            )
            return []
        return [str(collect(document["JobId"], services))]
    raise InvalidEventError(
        f"not a Rekognition notice {{'JobId', 'Status', 'API', ...}} nor a scheduled event: {document!r:.200}"
    )


def _is_scheduled(document: Any) -> bool:
    return isinstance(document, dict) and document.get("detail-type") == SCHEDULED_EVENT


def sweep(services: VideoServices) -> list[JobOutcome]:
    """Ask Rekognition about every job pending longer than the timeout; record what it says."""
    now = services.now()
    limit = timedelta(minutes=services.settings.job_timeout_minutes)
    outcomes = []
    for item in services.store.pending_jobs():
        try:
            ref, job_id, started_at = pending_job_of(item)
            started = datetime.strptime(started_at, ANALYZED_AT_FORMAT).replace(tzinfo=now.tzinfo)
        except (ContractError, ValueError) as error:
            log.log_event("video sweep: unreadable pending item", logging.ERROR, error_message=str(error))
            continue
        if now - started >= limit:
            outcomes.append(collect(job_id, services, overdue=True, ref=ref))
    log.log_event("video sweep", overdue=len(outcomes), outcomes=[str(o) for o in outcomes])
    return outcomes


def collect(
    job_id: str,
    services: VideoServices,
    *,
    overdue: bool = False,
    ref: ImageRef | None = None,
) -> JobOutcome:
    """Record the job's state: results, failure, or (when `overdue`) a timeout."""
    store = services.store
    try:
        if ref is None and (pending := store.pending_job(job_id)) is not None:
            ref = pending_job_of(pending)[0]
        pages = job_pages(services.rekognition, job_id, ref)
        first = next(pages)
        # Without a pending item (a completion after a timeout, or a duplicate notice), Rekognition's
        # own answer names the version.
        ref = ref or first.video
        if ref is None:
            return _logged(JobOutcome.UNKNOWN, job_id, None)
        if first.status == "SUCCEEDED":
            store.record_result(_result(job_id, ref, first, pages, services))
            return _logged(JobOutcome.SUCCEEDED, job_id, ref, services=services)
        if first.status == "FAILED":
            error = VideoJobFailedError(
                f"Rekognition's job {job_id} for {ref.describe()} failed: "
                f"{first.status_message or 'no reason given'}",
                **ref.error_fields(),
            )
            return _record(JobOutcome.FAILED, error, job_id, ref, services)
        if not overdue:
            return _logged(JobOutcome.RETRY, job_id, ref)  # a notice that ran ahead of the job's state
        error = VideoJobTimeoutError(
            f"Rekognition's job {job_id} for {ref.describe()} still runs after "
            f"{services.settings.job_timeout_minutes} minutes (video_job_timeout_minutes); a later "
            "completion still records the results",
            **ref.error_fields(),
        )
        return _record(JobOutcome.TIMED_OUT, error, job_id, ref, services)
    except ConfigurationError:
        raise
    except (VideoJobNotFoundError, ContractError) as error:
        if ref is None:
            return _logged(JobOutcome.UNKNOWN, job_id, None, error)
        named = error if isinstance(error, RecognitionError) else VideoJobNotFoundError(str(error))
        return _record(JobOutcome.FAILED, named, job_id, ref, services)
    except RecognitionError as error:
        if error.retryable or ref is None:
            return _logged(JobOutcome.RETRY, job_id, ref, error)
        return _record(JobOutcome.FAILED, error, job_id, ref, services)


def _result(job_id: str, ref: ImageRef, first: JobPage, rest: Any, services: VideoServices) -> VideoResult:
    min_confidence = services.settings.common.min_confidence
    found = []
    for page in (first, *rest):
        for entry in page.celebrities:
            shaped = detection(entry)
            if shaped is not None and shaped["confidence"] >= min_confidence:
                found.append(shaped)
    celebrities = appearances(found, gap_ms=services.settings.interval_gap_ms)
    analyzed_at = utc_timestamp(services.now())
    timeline = services.store.write_timeline(
        job_id,
        {
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": ref.version_id,
            "job_id": job_id,
            "analyzed_at": analyzed_at,
            "duration_ms": first.duration_ms,
            "celebrities": celebrities,
            "detections": found,
        },
    )
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "job_id": job_id,
        "celebrities": celebrities,
        "detections": len(found),
        "duration_ms": first.duration_ms,
        "timeline": timeline,
        "analyzed_at": analyzed_at,
    }


def _record(
    outcome: JobOutcome, error: RecognitionError, job_id: str, ref: ImageRef, services: VideoServices
) -> JobOutcome:
    cause = FailureCause.ENVIRONMENT
    try:
        services.store.record_failure(
            ref, error.error_type, error.message, cause, utc_timestamp(services.now()), job_id
        )
    except RecognitionError as storage_error:
        return _logged(JobOutcome.RETRY, job_id, ref, storage_error)
    return _logged(outcome, job_id, ref, error, services=services)


_COUNTED = {
    JobOutcome.SUCCEEDED: VideoMetricName.JOBS_SUCCEEDED,
    JobOutcome.FAILED: VideoMetricName.JOBS_FAILED,
    JobOutcome.TIMED_OUT: VideoMetricName.JOBS_FAILED,
}


def _logged(
    outcome: JobOutcome,
    job_id: str,
    ref: ImageRef | None,
    error: Exception | None = None,
    *,
    services: VideoServices | None = None,
) -> JobOutcome:
    """One line per job outcome; a recorded result's or failure's carries its metric (`services`)."""
    level = logging.INFO if outcome in (JobOutcome.SUCCEEDED, JobOutcome.RUNNING) else logging.WARNING
    fields: dict[str, Any] = {
        "outcome": str(outcome),
        "job_id": job_id,
        **(ref.error_fields() if ref else {}),
    }
    if error is not None:
        fields |= {"error_type": type(error).__name__, "error_message": str(error)}
    figures = None
    if services is not None and outcome in _COUNTED:
        figures = video_metrics(services.settings.common.metrics_namespace, _COUNTED[outcome], services.now())
    log.log_event(f"video job {outcome}", level, metrics=figures, **fields)
    return outcome
