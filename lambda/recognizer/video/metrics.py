"""The video functions' figures: Embedded Metric Format on their own log lines (recognizer.metrics).

Each start or job outcome is one log line; the line of an outcome that counts carries its metric
(the contract's VideoMetricName, Count, dimension FunctionName, namespace `metrics_namespace`), as an
image's line carries the image's; `log.log_event(..., metrics=...)` keeps them when the configured
log level hides the line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from recognizer import metrics
from recognizer.contract import VideoMetricName
from recognizer.metrics import Measurement


def video_metrics(namespace: str, name: VideoMetricName, now: datetime) -> dict[str, Any]:
    """EMF fields publishing one count of `name` for this function."""
    return metrics.function_metrics(
        namespace, {str(name): Measurement(1)}, timestamp_ms=metrics.timestamp_ms(now)
    )
