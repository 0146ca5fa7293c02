"""Routes an invocation to the direct, upload-event or SQS-batch path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recognizer.analysis import Services, process_image, services_for
from recognizer.batch import handle_sqs_batch
from recognizer.contract import ImageRef, RecognitionResult
from recognizer.errors import RecognitionError
from recognizer.events import DirectInvocation, Records, SqsBatch, UploadEvents, parse_event
from recognizer.outcome import Analysis, Outcome
from recognizer.records import analyze_records
from recognizer.settings import load_settings


def handle(event: Any, context: Any, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole handler; ``environ`` stands in for the function's environment (None: os.environ)."""
    settings = load_settings(environ)
    parsed = parse_event(event)
    services = services_for(settings)
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(parsed, DirectInvocation):
        return dict(handle_direct(parsed.image, services, request_id))
    if isinstance(parsed, UploadEvents):
        return handle_upload_events(parsed.records, services, request_id)
    assert isinstance(parsed, SqsBatch)
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return handle_sqs_batch(parsed.messages, services, request_id, remaining_ms)


def handle_direct(image: ImageRef, services: Services, request_id: str | None) -> RecognitionResult:
    """The result, or the named error raised so Lambda reports it as errorType."""
    analysis = process_image(image, services, request_id=request_id)
    if analysis.error is not None:
        raise analysis.error
    assert analysis.result is not None
    return analysis.result


def handle_upload_events(records: Records, services: Services, request_id: str | None) -> dict[str, Any]:
    """Every record is analysed; a retryable failure is raised afterwards so Lambda retries the event.

    The retry re-runs the records that succeeded too, which the table answers as duplicates.
    """
    analyses = analyze_records(records, services, request_id=request_id)
    retry = next((a.error for a in analyses if a.outcome == Outcome.RETRY), None)
    if retry is not None:
        raise retry
    return {"results": [_entry(analysis) for analysis in analyses]}


def _entry(analysis: Analysis) -> dict[str, Any]:
    if analysis.result is not None:
        return dict(analysis.result)
    error = analysis.error
    image = analysis.image
    return {
        "bucket": image.bucket if image else getattr(error, "bucket", None),
        "key": image.key if image else getattr(error, "key", None),
        "version_id": image.version_id if image else None,
        "outcome": str(analysis.outcome),
        **({"error": error.to_dict()} if isinstance(error, RecognitionError) else {}),
    }
