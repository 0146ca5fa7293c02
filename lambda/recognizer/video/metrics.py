"""The video functions' figures: Embedded Metric Format on their own log lines (recognizer.metrics).

Each start or job outcome is one log line; the line of an outcome that counts carries its metric
(the contract's VideoMetricName, Count, dimension FunctionName, namespace `metrics_namespace`), as an
image's line carries the image's. When the configured log level hides the line, a short line at
the lowest level still kept carries the metric, so the figures stay whole.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from recognizer import metrics
from recognizer.contract import VideoMetricName
from recognizer.log import logger
from recognizer.metrics import Measurement


def video_metrics(namespace: str, name: VideoMetricName, now: datetime) -> dict[str, Any]:
    """EMF fields publishing one count of `name` for this function."""
    return metrics.function_metrics(
        namespace, {str(name): Measurement(1)}, timestamp_ms=metrics.timestamp_ms(now)
    )


def log_with_metrics(message: str, level: int, figures: dict[str, Any] | None, **fields: Any) -> None:
    """`log.log_event`, plus the line's metrics, which survive a log level that hides the line."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={**fields, **(figures or {})})
    elif figures:
        logger.log(
            max(logger.getEffectiveLevel(), logging.DEBUG),
            f"{message} (metrics)",
            extra={"outcome": fields.get("outcome"), **figures},
        )
