"""One log record per image, through the standard `logging` module.

The stack runs the function with Lambda's JSON log format: the runtime writes every record as one
JSON object with `timestamp`, `level`, `message`, `logger` and `requestId`, plus the record's
`extra` fields at the top level, so CloudWatch Logs Insights can query `outcome`, `bucket`,
`key`, `error_type`, `duration_ms`, ... directly. Lambda also filters by the configured level.
An image's line also carries its metrics in the Embedded Metric Format (recognizer/metrics.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from recognizer.contract import ImageRef
from recognizer.errors import DeploymentError, RecognitionError
from recognizer.outcome import Outcome

logger = logging.getLogger("recognizer")
# Lambda names the application log level in AWS_LAMBDA_LOG_LEVEL (and sets the root logger to it);
# setting it here too keeps image lines when the root logger is left at its WARNING default.
_LAMBDA_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
                  "WARN": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}  # fmt: skip
logger.setLevel(_LAMBDA_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper(), logging.INFO))

_LEVELS = {
    Outcome.SUCCEEDED: logging.INFO,
    Outcome.DUPLICATE: logging.INFO,
    Outcome.REUSED: logging.INFO,
    Outcome.SKIPPED: logging.INFO,
    Outcome.FAILED: logging.WARNING,
    Outcome.RETRY: logging.WARNING,
}


def image_fields(
    *,
    outcome: Outcome,
    image: ImageRef | None,
    celebrities: int,
    duration_ms: float,
    error: Exception | None = None,
    **context: Any,
) -> dict[str, Any]:
    """The fields of one image's record (pure, so tests can check them without capturing logs)."""
    fields: dict[str, Any] = {
        "outcome": str(outcome),
        "bucket": image.bucket if image else getattr(error, "bucket", None),
        "key": image.key if image else getattr(error, "key", None),
        "version_id": image.version_id if image else None,
        "celebrities": celebrities,
        "duration_ms": round(duration_ms, 1),
    }
    if error is not None:
        fields["error_type"] = type(error).__name__
        fields["error_message"] = str(error)
    fields.update({name: value for name, value in context.items() if value is not None})
    return fields


def level_of(outcome: Outcome, error: Exception | None) -> int:
    if error is not None and (not isinstance(error, RecognitionError) or isinstance(error, DeploymentError)):
        return logging.ERROR  # a bug, or a deployment that cannot work: an operator must act
    return _LEVELS[outcome]


def log_image(
    outcome: Outcome,
    image: ImageRef | None,
    *,
    celebrities: int = 0,
    duration_ms: float = 0.0,
    error: Exception | None = None,
    metrics: Mapping[str, Any] | None = None,
    **context: Any,
) -> None:
    """``metrics``: the image's Embedded Metric Format fields (recognizer.metrics), merged into its line."""
    level = level_of(outcome, error)
    if logger.isEnabledFor(level):
        fields = image_fields(
            outcome=outcome,
            image=image,
            celebrities=celebrities,
            duration_ms=duration_ms,
            error=error,
            **context,
        )
        logger.log(level, "image analysis %s", outcome, extra={**fields, **(metrics or {})})
    elif metrics:
        _metrics_only(f"image metrics {outcome}", outcome, metrics)


def log_event(
    message: str, level: int = logging.INFO, *, metrics: Mapping[str, Any] | None = None, **fields: Any
) -> None:
    """A record about an event rather than an image (e.g. S3's test event being acknowledged);
    ``metrics``: its Embedded Metric Format fields, kept when the log level hides the record."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={**fields, **(metrics or {})})
    elif metrics:
        _metrics_only(f"{message} (metrics)", fields.get("outcome"), metrics)


def _metrics_only(message: str, outcome: Any, metrics: Mapping[str, Any]) -> None:
    # The log level filters the record out (e.g. log_level=WARN hides successes), and Lambda would
    # drop its metrics with it: a short line at the lowest level still kept carries them.
    kept = {"outcome": None if outcome is None else str(outcome), **metrics}
    logger.log(logger.getEffectiveLevel(), message, extra=kept)
