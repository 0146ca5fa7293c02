"""Routes an invocation to the direct, S3-notification or SQS-batch path."""

from __future__ import annotations

from typing import Any

from recognizer import log
from recognizer.batch import handle_sqs_batch
from recognizer.errors import ConfigurationError, InvalidEventError, RecognitionError
from recognizer.events import DirectInvocation, ImageRef, S3Notification, SqsBatch, parse_event
from recognizer.pipeline import Services, process_image, services_for
from recognizer.settings import load_settings


def handle(event: Any, context: Any) -> dict[str, Any]:
    settings = load_settings()
    log.set_level(settings.log_level)
    parsed = parse_event(event)
    services = services_for(settings)
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(parsed, DirectInvocation):
        return handle_direct(parsed.image, services, request_id)
    if isinstance(parsed, S3Notification):
        return handle_notification(parsed.records, services, request_id)
    assert isinstance(parsed, SqsBatch)
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return handle_sqs_batch(parsed.messages, services, request_id, remaining_ms)


def handle_direct(image: ImageRef, services: Services, request_id: str | None) -> dict[str, Any]:
    """The result dict, or the named error raised so Lambda reports it as errorType."""
    outcome = process_image(image, services, request_id=request_id)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result


def handle_notification(
    records: tuple[ImageRef | InvalidEventError, ...], services: Services, request_id: str | None
) -> dict[str, Any]:
    """Every record is analysed; a retryable failure is raised afterwards so Lambda retries the event.

    The retry re-runs the records that succeeded too, which the conditional writes turn into
    duplicates rather than doubled items.
    """
    results: list[dict[str, Any]] = []
    to_raise: Exception | None = None
    for record in records:
        if isinstance(record, InvalidEventError):
            log.log_unanalysed(
                log.FAILED, record, bucket=record.bucket, key=record.key, request_id=request_id
            )
            results.append(_error_entry(record.bucket, record.key, None, record))
            continue
        try:
            outcome = process_image(record, services, request_id=request_id)
        except ConfigurationError:
            raise
        except Exception as bug:  # still analyse the other records, then fail the invocation
            log.log_unanalysed(
                log.RETRY,
                bug,
                bucket=record.bucket,
                key=record.key,
                version_id=record.version_id,
                request_id=request_id,
            )
            to_raise = to_raise or bug
            results.append(_error_entry(record.bucket, record.key, record.version_id, bug))
            continue
        if outcome.result is not None:
            results.append(outcome.result)
        else:
            assert outcome.error is not None
            image = outcome.image
            results.append(_error_entry(image.bucket, image.key, image.version_id, outcome.error))
            if outcome.status == log.RETRY:
                to_raise = to_raise or outcome.error
    if to_raise is not None:
        raise to_raise
    return {"results": results}


def _error_entry(
    bucket: str | None, key: str | None, version_id: str | None, error: Exception
) -> dict[str, Any]:
    if isinstance(error, RecognitionError):
        detail = error.to_dict()
    else:
        detail = {"type": type(error).__name__, "message": str(error)}
    return {"bucket": bucket, "key": key, "version_id": version_id, "error": detail}
