"""CloudWatch metrics in the function's own log lines, in the Embedded Metric Format (EMF).

The stack runs the function with Lambda's JSON log format: the runtime writes each record's `extra`
fields as top-level members of the line's JSON object (log.py). CloudWatch Logs extracts metrics from
a Lambda log event that is a JSON object with an `_aws` member holding EMF directives, and ignores
the members the specification does not know. So each image's line carries its own metrics: no
extra line, no PutMetricData call, no cloudwatch permission, nothing added to the invocation's time.

`emf_fields` builds the document from a mapping of measurements and validates it against the
specification's limits; `function_metrics` is the entry point for any other part of the function
(watchlist, video) that wants to publish figures of its own under the same namespace and dimension.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from recognizer.contract import (
    METRIC_ERROR_TYPE_DIMENSION,
    METRIC_FUNCTION_DIMENSION,
    METRIC_INTERNAL_ERROR,
    MetricName,
)
from recognizer.errors import RecognitionError
from recognizer.outcome import Analysis, Outcome

# CloudWatch's units (the EMF specification allows exactly these; a test compares them with botocore's
# StandardUnit).
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})  # fmt: skip
COUNT = "Count"
MILLISECONDS = "Milliseconds"
# The specification's limits: per document, per dimension set, per metric's array of values.
MAX_METRICS = 100
MAX_DIMENSIONS = 30
MAX_VALUES = 100
# Lambda sets it in every function's environment; tests and local runs have none.
FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"
LOCAL_FUNCTION_NAME = "local"


class MetricsError(ValueError):
    """A metric document the EMF specification (or CloudWatch) would reject: a bug in the caller."""


class Measurement(NamedTuple):
    value: float | Sequence[float]  # a list publishes several values of one metric in one line
    unit: str = COUNT


class MetricGroup(NamedTuple):
    """One EMF directive: each metric is published once per dimension set."""

    metrics: Mapping[str, Measurement]
    dimension_sets: Sequence[Sequence[str]]


def emf_fields(
    namespace: str, groups: Sequence[MetricGroup], dimensions: Mapping[str, str], timestamp_ms: int
) -> dict[str, Any]:
    """The top-level members that make a JSON log line an EMF document (pure; raises MetricsError)."""
    if not 1 <= len(namespace) <= 255:
        raise MetricsError(f"namespace {namespace!r}: expected 1-255 characters")
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int) or timestamp_ms < 0:
        raise MetricsError(f"timestamp {timestamp_ms!r}: expected whole milliseconds since the epoch")
    values: dict[str, Any] = {}
    directives = []
    for group in groups:
        for dimension_set in group.dimension_sets:
            _check_dimension_set(dimension_set, dimensions)
        for name, measurement in group.metrics.items():
            _check_metric(name, measurement, dimensions)
            values[name] = _value(name, measurement.value)
        directives.append({
            "Namespace": namespace,
            "Dimensions": [list(dimension_set) for dimension_set in group.dimension_sets],
            "Metrics": [{"Name": name, "Unit": m.unit} for name, m in group.metrics.items()],
        })  # fmt: skip
    if len(values) > MAX_METRICS:
        raise MetricsError(f"{len(values)} metrics in one document: expected at most {MAX_METRICS}")
    used = {key for group in groups for dimension_set in group.dimension_sets for key in dimension_set}
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives},
        **{key: dimensions[key] for key in dimensions if key in used},
        **values,
    }


def function_metrics(
    namespace: str,
    metrics: Mapping[str, Measurement],
    *,
    timestamp_ms: int,
    by: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """EMF fields publishing `metrics` per function, and also per function and `by` when given.

    The extension point: e.g. `function_metrics(ns, {"WatchlistMatches": Measurement(2)}, timestamp_ms=t)`
    merged into a record's `extra`. `by` must stay low-cardinality (a closed set of values).
    """
    dimensions = {METRIC_FUNCTION_DIMENSION: function_name(), **(by or {})}
    sets: list[tuple[str, ...]] = [(METRIC_FUNCTION_DIMENSION,)]
    if by:
        sets.append((METRIC_FUNCTION_DIMENSION, *by))
    return emf_fields(namespace, [MetricGroup(metrics, sets)], dimensions, timestamp_ms)


def image_metrics(analysis: Analysis, namespace: str, now: datetime) -> dict[str, Any] | None:
    """The EMF fields of one image's line; None for a skipped upload (nothing was analyzed).

    Zeros are published too, so that a metric's Average is a rate: Failures' is the failure rate,
    AnsweredFromTable's the share of answers that cost no Rekognition call.
    """
    if analysis.outcome == Outcome.SKIPPED:
        return None
    failed = analysis.outcome in (Outcome.FAILED, Outcome.RETRY)
    answered: dict[str, Measurement] = {MetricName.IMAGES_ANALYZED: Measurement(0 if failed else 1)}
    if analysis.result is not None:
        answered[MetricName.CELEBRITIES_FOUND] = Measurement(len(analysis.result["celebrities"]))
        answered[MetricName.UNRECOGNIZED_FACES] = Measurement(analysis.result["unrecognized_faces"])
        from_table = (
            analysis.outcome in (Outcome.DUPLICATE, Outcome.REUSED) and analysis.rekognition_ms is None
        )
        answered[MetricName.ANSWERED_FROM_TABLE] = Measurement(1 if from_table else 0)
    if analysis.rekognition_ms is not None:
        answered[MetricName.REKOGNITION_LATENCY] = Measurement(
            round(analysis.rekognition_ms, 1), MILLISECONDS
        )
    per_function = [(METRIC_FUNCTION_DIMENSION,)]
    dimensions = {METRIC_FUNCTION_DIMENSION: function_name()}
    if not failed:
        answered[MetricName.FAILURES] = Measurement(0)
        return emf_fields(namespace, [MetricGroup(answered, per_function)], dimensions, timestamp_ms(now))
    dimensions[METRIC_ERROR_TYPE_DIMENSION] = error_type(analysis.error)
    groups = [
        MetricGroup(answered, per_function),
        # A directive of its own: only Failures is split by ErrorType (each split is a custom metric).
        MetricGroup(
            {MetricName.FAILURES: Measurement(1)},
            [*per_function, (METRIC_FUNCTION_DIMENSION, METRIC_ERROR_TYPE_DIMENSION)],
        ),
    ]
    return emf_fields(namespace, groups, dimensions, timestamp_ms(now))


def error_type(error: BaseException | None) -> str:
    """A failure's ErrorType: the function's named error class, else InternalError (a closed set)."""
    return type(error).__name__ if isinstance(error, RecognitionError) else METRIC_INTERNAL_ERROR


def function_name() -> str:
    return os.environ.get(FUNCTION_NAME_ENV) or LOCAL_FUNCTION_NAME


def timestamp_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _check_dimension_set(dimension_set: Sequence[str], dimensions: Mapping[str, str]) -> None:
    if not 1 <= len(dimension_set) <= MAX_DIMENSIONS:
        raise MetricsError(f"dimension set {list(dimension_set)}: expected 1-{MAX_DIMENSIONS} dimensions")
    for key in dimension_set:
        value = dimensions.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= 1024:
            raise MetricsError(
                f"dimension {key!r} has value {value!r}: expected a string of 1-1024 characters"
            )


def _check_metric(name: str, measurement: Measurement, dimensions: Mapping[str, str]) -> None:
    if not 1 <= len(name) <= 255 or name in dimensions or name == "_aws":
        raise MetricsError(f"metric name {name!r}: expected 1-255 characters, not a dimension's name")
    if measurement.unit not in UNITS:
        raise MetricsError(f"metric {name!r} has unit {measurement.unit!r}: expected a CloudWatch unit")


def _value(name: str, value: float | Sequence[float]) -> float | list[float]:
    numbers = list(value) if isinstance(value, Sequence) else [value]
    if not 1 <= len(numbers) <= MAX_VALUES or not all(_finite(number) for number in numbers):
        raise MetricsError(f"metric {name!r} has value {value!r}: expected 1-{MAX_VALUES} finite numbers")
    return numbers if isinstance(value, Sequence) else value


def _finite(number: Any) -> bool:
    return isinstance(number, int | float) and not isinstance(number, bool) and math.isfinite(number)
