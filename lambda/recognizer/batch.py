"""SQS batches of upload events and redriven requests, answered with partial batch failures.

Only retryable failures are handed back (``batchItemFailures``): permanent ones are recorded and
logged, and retrying them would only loop them into the dead-letter queue. Messages there is no
longer time to analyse are handed back unstarted, so SQS redelivers just those instead of the
whole batch timing out (after which the finished messages would come back too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from recognizer import log
from recognizer.analysis import Services, image_metrics
from recognizer.clients import REKOGNITION_TIMEOUTS
from recognizer.errors import InvalidEventError
from recognizer.events import SqsMessage, parse_sqs_body
from recognizer.outcome import Analysis, Outcome
from recognizer.records import analyze_records

# A message is started only while this much of the invocation is left: one RecognizeCelebrities
# attempt that uses all of its connect and read timeouts, the slowest call that can still succeed
# without a retry (the S3 probe and DynamoDB writes take milliseconds when healthy). An image that
# needs retries on top can outlast any margin short of the whole timeout.
MESSAGE_MARGIN_MS = sum(REKOGNITION_TIMEOUTS.values()) * 1000


def handle_sqs_batch(
    messages: tuple[SqsMessage, ...],
    services: Services,
    request_id: str | None,
    remaining_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """``remaining_ms``: the context's get_remaining_time_in_millis; None (tests, direct calls): no guard."""
    failures: list[dict[str, str]] = []
    # With a short function timeout the full margin would leave room for one message per batch,
    # and each deferral counts towards the queue's maxReceiveCount: never reserve over half.
    margin = min(MESSAGE_MARGIN_MS, remaining_ms() // 2) if remaining_ms is not None else 0
    for index, message in enumerate(messages):
        # The first message always starts: if the margin exceeds the whole timeout, deferring it
        # would hand every batch back untouched until its messages reach the dead-letter queue.
        if index and remaining_ms is not None and (left := remaining_ms()) < margin:
            deferred = [m.message_id for m in messages[index:]]
            log.log_event(
                "messages deferred: too little time left to start them",
                logging.WARNING,
                message_ids=deferred,
                remaining_ms=left,
                margin_ms=margin,
                request_id=request_id,
            )
            failures += [{"itemIdentifier": message_id} for message_id in deferred]
            break
        if not process_message(message, services, request_id):
            failures.append({"itemIdentifier": message.message_id})
    return {"batchItemFailures": failures}


def process_message(message: SqsMessage, services: Services, request_id: str | None) -> bool:
    """False when the message should come back (some image in it failed retryably)."""
    context = {"message_id": message.message_id, "request_id": request_id}
    try:
        records = parse_sqs_body(message.body)
    except InvalidEventError as error:
        failed = Analysis(None, Outcome.FAILED, error=error)
        log.log_image(Outcome.FAILED, None, error=error, metrics=image_metrics(failed, services), **context)
        return True
    if not records:
        log.log_event("S3 test event acknowledged", **context)
        return True
    return all(
        analysis.outcome != Outcome.RETRY for analysis in analyze_records(records, services, **context)
    )
