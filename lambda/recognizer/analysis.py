"""One image end to end: S3 read, checks, content digest, stored answers, Rekognition, storage, one log
record."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from recognizer import clients, log, metrics
from recognizer.content_hash import content_sha256
from recognizer.contract import ANALYSIS_METADATA_KEY, ANALYSIS_ON_REQUEST, ImageRef
from recognizer.errors import ConfigurationError, RecognitionError
from recognizer.image_checks import check_image
from recognizer.outcome import Analysis, Outcome
from recognizer.probe import read_head
from recognizer.rekognition import recognize_celebrities
from recognizer.results import build_result, content_analysis, reuse_result, utc_timestamp
from recognizer.settings import Settings
from recognizer.store import Found, lookup, save_failure, save_result


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

    @property
    def table(self) -> str | None:
        return self.settings.results_table_name if self.dynamodb is not None else None


def services_for(settings: Settings) -> Services:
    """Services backed by the container's cached clients."""
    return Services(
        settings=settings,
        s3=clients.s3(),
        rekognition=clients.rekognition(settings),
        dynamodb=clients.dynamodb() if settings.results_table_name else None,
    )


def process_image(
    ref: ImageRef, services: Services, *, from_upload: bool = False, **context: Any
) -> Analysis:
    """Analyse ``ref`` and log one record; never raises for the image's own problems.

    ConfigurationError still propagates: a broken environment is not this image's fault and should
    fail the whole invocation rather than be recorded against every image.
    """
    started = time.perf_counter()
    analysis = analyze(ref, services, from_upload=from_upload)
    log.log_image(
        analysis.outcome,
        analysis.image,
        celebrities=analysis.celebrity_count,
        duration_ms=(time.perf_counter() - started) * 1000,
        error=analysis.error,
        metrics=image_metrics(analysis, services),
        **context,
    )
    return analysis


def image_metrics(analysis: Analysis, services: Services) -> dict[str, Any] | None:
    """The EMF fields of an image's log line, in the configured namespace."""
    return metrics.image_metrics(analysis, services.settings.metrics_namespace, services.now())


def analyze(ref: ImageRef, services: Services, *, from_upload: bool = False) -> Analysis:
    pinned = ref
    # Set once RecognizeCelebrities returned or raised: a failed or throttled call is timed too, or
    # the latency's percentiles would look best exactly when Rekognition struggles.
    rekognition_ms: float | None = None
    try:
        head = read_head(services.s3, ref)
        pinned = ref.with_version(head.version_id)
        if from_upload and head.metadata.get(ANALYSIS_METADATA_KEY) == ANALYSIS_ON_REQUEST:
            # Its uploader invokes the function for it (celeb recognize): one Rekognition call.
            return Analysis(pinned, Outcome.SKIPPED)
        # Before the digest: an image over Rekognition's 15 MB is never downloaded to be hashed.
        check_image(pinned, head.head, head.total_size)
        table = services.table
        sha256, found = None, Found()
        if table:
            sha256 = content_sha256(services.s3, pinned, head) if services.settings.dedup else None
            found = lookup(services.dynamodb, table, pinned, sha256)
            if found.stored is not None:
                return Analysis(pinned, Outcome.DUPLICATE, found.stored)
        content = None
        if found.content is not None:
            result = reuse_result(pinned, found.content, services.settings.min_confidence, services.now())
            outcome = Outcome.REUSED
        else:
            called = time.perf_counter()
            try:
                response = recognize_celebrities(services.rekognition, pinned)
            finally:
                rekognition_ms = (time.perf_counter() - called) * 1000
            result = build_result(pinned, response, services.settings.min_confidence, services.now())
            outcome = Outcome.SUCCEEDED
            # Only a pinned version is certainly the bytes that were hashed: Rekognition reads the
            # latest version of an unversioned key, which may have changed since.
            if sha256 is not None and pinned.version_id is not None:
                content = content_analysis(sha256, pinned, response, result["analyzed_at"])
        if table:
            result, committed = save_result(services.dynamodb, table, result, content)
            if not committed:
                # Another delivery stored its result first; this one's Rekognition call was still made.
                return Analysis(pinned, Outcome.DUPLICATE, result, rekognition_ms=rekognition_ms)
        return Analysis(pinned, outcome, result, rekognition_ms=rekognition_ms)
    except ConfigurationError:
        raise
    except RecognitionError as error:
        if error.retryable:
            return Analysis(pinned, Outcome.RETRY, error=error, rekognition_ms=rekognition_ms)
        return _record_failure(pinned, error, services, rekognition_ms)


def _record_failure(
    ref: ImageRef, error: RecognitionError, services: Services, rekognition_ms: float | None
) -> Analysis:
    if services.table:
        try:
            save_failure(services.dynamodb, services.table, ref, error, utc_timestamp(services.now()))
        except ConfigurationError:
            raise
        except RecognitionError as storage_error:
            # Unrecorded, the failure would vanish with the acknowledged message: retry instead.
            return Analysis(ref, Outcome.RETRY, error=storage_error, rekognition_ms=rekognition_ms)
    return Analysis(ref, Outcome.FAILED, error=error, rekognition_ms=rekognition_ms)
