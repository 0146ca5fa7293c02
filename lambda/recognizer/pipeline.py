"""One image end to end: S3 probe, checks, Rekognition, result, storage, one log line."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from recognizer import clients, log
from recognizer.errors import ConfigurationError, RecognitionError
from recognizer.events import ImageRef
from recognizer.images import check_image
from recognizer.probe import read_head
from recognizer.rekognition import recognize_celebrities
from recognizer.results import build_result, utc_timestamp
from recognizer.settings import Settings
from recognizer.store import load_success, save_failure, save_result


def utcnow() -> datetime:
    return datetime.now(UTC)


class Services(NamedTuple):
    """What one analysis needs; ``dynamodb`` is None when results are not stored."""

    settings: Settings
    s3: Any
    rekognition: Any
    dynamodb: Any | None
    clock: Callable[[], datetime] | None = None  # None: utcnow, looked up at call time

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else utcnow()


def services_for(settings: Settings) -> Services:
    """Services backed by the container's cached clients."""
    return Services(
        settings=settings,
        s3=clients.s3(),
        rekognition=clients.rekognition(settings),
        dynamodb=clients.dynamodb() if settings.results_table_name else None,
    )


class Outcome(NamedTuple):
    image: ImageRef  # carries the version S3 served once the probe succeeded
    status: str  # one of log.SUCCEEDED, DUPLICATE, FAILED, RETRY
    result: dict[str, Any] | None = None
    error: RecognitionError | None = None

    @property
    def celebrity_count(self) -> int:
        return len(self.result["celebrities"]) if self.result else 0


def process_image(ref: ImageRef, services: Services, **log_context: Any) -> Outcome:
    """Analyse ``ref`` and log one line; never raises for the image's own problems.

    ConfigurationError still propagates: a broken environment is not this image's fault and should
    fail the whole invocation rather than be recorded against every image.
    """
    started = time.perf_counter()
    outcome = analyze(ref, services)
    log.log_image(
        outcome=outcome.status,
        bucket=outcome.image.bucket,
        key=outcome.image.key,
        version_id=outcome.image.version_id,
        celebrities=outcome.celebrity_count,
        duration_ms=(time.perf_counter() - started) * 1000,
        error=outcome.error,
        **log_context,
    )
    return outcome


def analyze(ref: ImageRef, services: Services) -> Outcome:
    pinned = ref
    try:
        head = read_head(services.s3, ref)
        pinned = ref.with_version(head.version_id)
        table = services.settings.results_table_name
        storing = bool(table) and services.dynamodb is not None
        # Only a pinned version can be matched: an unversioned key may hold a new upload.
        if storing and pinned.version_id is not None:
            stored = load_success(services.dynamodb, table, pinned)
            if stored is not None:
                return Outcome(pinned, log.DUPLICATE, stored)
        check_image(pinned, head.head, head.total_size)
        response = recognize_celebrities(services.rekognition, pinned)
        result = build_result(pinned, response, services.settings.min_confidence, services.now())
        if storing and not save_result(services.dynamodb, table, result):
            return Outcome(pinned, log.DUPLICATE, result)
        return Outcome(pinned, log.SUCCEEDED, result)
    except ConfigurationError:
        raise
    except RecognitionError as error:
        if error.retryable:
            return Outcome(pinned, log.RETRY, error=error)
        return _record_failure(pinned, error, services)


def _record_failure(ref: ImageRef, error: RecognitionError, services: Services) -> Outcome:
    table = services.settings.results_table_name
    if table and services.dynamodb is not None:
        try:
            save_failure(services.dynamodb, table, ref, error, utc_timestamp(services.now()))
        except ConfigurationError:
            raise
        except RecognitionError as storage_error:
            # Unrecorded, the failure would vanish with the acknowledged message: retry instead.
            return Outcome(ref, log.RETRY, error=storage_error)
    return Outcome(ref, log.FAILED, error=error)
