"""The per-record loop, shared by upload events invoking the function and SQS messages."""

from __future__ import annotations

from typing import Any

from recognizer import log
from recognizer.analysis import Services, image_metrics, process_image
from recognizer.errors import ConfigurationError, InvalidEventError
from recognizer.events import Records
from recognizer.outcome import Analysis, Outcome


def analyze_records(records: Records, services: Services, **context: Any) -> list[Analysis]:
    """One Analysis per record, in order: a malformed record is a FAILED one (nothing to retry), a
    bug while analysing a record is a RETRY one; the other records still run."""
    analyses: list[Analysis] = []
    for record in records:
        if isinstance(record, InvalidEventError):
            failed = Analysis(None, Outcome.FAILED, error=record)
            log.log_image(
                Outcome.FAILED, None, error=record, metrics=image_metrics(failed, services), **context
            )
            analyses.append(failed)
            continue
        try:
            analysis = process_image(record.image, services, from_upload=record.from_upload, **context)
        except ConfigurationError:
            raise
        except Exception as bug:  # one bad record must not sink the others
            analysis = Analysis(record.image, Outcome.RETRY, error=bug)
            log.log_image(Outcome.RETRY, record.image, error=bug, metrics=image_metrics(analysis, services),
                          **context)  # fmt: skip
        analyses.append(analysis)
    return analyses
