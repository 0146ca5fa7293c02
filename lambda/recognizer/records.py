"""The per-record loop, shared by upload events invoking the function and SQS messages."""

from __future__ import annotations

from typing import Any

from recognizer import log
from recognizer.analysis import Services, process_image
from recognizer.errors import ConfigurationError, InvalidEventError
from recognizer.events import Records
from recognizer.outcome import Analysis, Outcome


def analyze_records(records: Records, services: Services, **context: Any) -> list[Analysis]:
    """One Analysis per record, in order: a malformed record is a FAILED one (nothing to retry), a
    bug while analysing a record is a RETRY one; the other records still run."""
    analyses: list[Analysis] = []
    for record in records:
        if isinstance(record, InvalidEventError):
            log.log_image(Outcome.FAILED, None, error=record, **context)
            analyses.append(Analysis(None, Outcome.FAILED, error=record))
            continue
        try:
            analysis = process_image(record.image, services, from_upload=record.from_upload, **context)
        except ConfigurationError:
            raise
        except Exception as bug:  # one bad record must not sink the others
            log.log_image(Outcome.RETRY, record.image, error=bug, **context)
            analysis = Analysis(record.image, Outcome.RETRY, error=bug)
        analyses.append(analysis)
    return analyses
