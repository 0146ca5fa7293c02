"""Typed configuration of the pipeline, parsed from CDK context in one place.

Defaults live in cdk.json (the single source of truth); `-c key=value` overrides them and always
arrives as a string, so every parser accepts both the JSON type and its string spelling.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from aws_cdk import aws_logs as logs

# Context keys owned by CDK itself or by feature flags: never mistaken for a typo of ours.
_FOREIGN_KEY = re.compile(r"^(@|aws:|aws-cdk:|cdk[-:]|acknowledged-issue-numbers$)")

# CloudWatch Logs accepts only these retentions; jsii's Python enum carries names, not day counts.
RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}  # fmt: skip

# S3 keys may hold almost anything, but a prefix filter with these would never match a sane upload.
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/=-]*")
_OPTIONAL_EMAIL = re.compile(r"(?:[^@\s]+@[^@\s]+\.[^@\s]+)?")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


class ConfigError(ValueError):
    """A context value that cannot be used; the message names key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"context key '{key}' has value {value!r}: expected {allowed}")
        self.key = key
        self.value = value


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    stack_name: str
    env: str
    results_table: bool
    memory_size: int
    timeout_seconds: int
    log_retention_days: int
    tracing: bool
    min_confidence: float
    rekognition_retry_mode: str
    rekognition_max_attempts: int
    noncurrent_version_expiration_days: int
    upload_prefix: str
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int
    max_receive_count: int
    oldest_message_alarm_seconds: int
    alarm_email: str

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(key, value, "true or false")


def _integer(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            number = int(value)
        if number is None or not low <= number <= high:
            raise ConfigError(key, value, f"a whole number from {low} to {high}")
        return number

    return parse


def _number(low: float, high: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number != number or not low <= number <= high:
            raise ConfigError(key, value, f"a number from {low:g} to {high:g}")
        return number

    return parse


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigError(key, value, "one of " + ", ".join(allowed))
        return value

    return parse


def _pattern(regex: re.Pattern[str], allowed: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise ConfigError(key, value, allowed)
        return value

    return parse


def _retention(key: str, value: Any) -> int:
    days = _integer(1, 3653)(key, value)
    if days not in RETENTION_DAYS:
        raise ConfigError(
            key, value, "a CloudWatch Logs retention in days: " + ", ".join(map(str, RETENTION_DAYS))
        )
    return days


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "stack_name": _pattern(_STACK_NAME, "a CloudFormation stack name (a letter, then letters, digits, '-')"),
    "env": _choice("prod", "dev"),
    "results_table": _boolean,
    # Lambda's own limits.
    "memory_size": _integer(128, 10240),
    "timeout_seconds": _integer(1, 900),
    "log_retention_days": _retention,
    "tracing": _boolean,
    "min_confidence": _number(0, 100),
    "rekognition_retry_mode": _choice("standard", "adaptive"),
    "rekognition_max_attempts": _integer(1, 10),
    "noncurrent_version_expiration_days": _integer(1, 3650),
    "upload_prefix": _pattern(_PREFIX, "an S3 key prefix of letters, digits and !_.*'()/=- (or empty)"),
    # SQS event source limits: batch 1-10 without a window, up to 10000 with one; window 0-300 s.
    "batch_size": _integer(1, 10000),
    "max_batching_window_seconds": _integer(0, 300),
    "max_concurrency": _integer(2, 1000),
    "max_receive_count": _integer(1, 1000),
    "oldest_message_alarm_seconds": _integer(60, 1209600),
    "alarm_email": _pattern(_OPTIONAL_EMAIL, "an email address, or empty for no topic"),
}

assert set(_PARSERS) == {f.name for f in fields(PipelineConfig)}


def _reject_typos(context: Mapping[str, Any]) -> None:
    for key in context:
        if key in _PARSERS or _FOREIGN_KEY.match(key):
            continue
        close = difflib.get_close_matches(key, _PARSERS, n=1, cutoff=0.75)
        if close:
            raise ConfigError(key, context[key], f"a known key; did you mean '{close[0]}'?")


def load_config(context: Mapping[str, Any]) -> PipelineConfig:
    """Parse every setting; raises ConfigError on the first bad or missing value."""
    _reject_typos(context)
    values: dict[str, Any] = {}
    for key, parse in _PARSERS.items():
        if key not in context:
            raise ConfigError(key, None, "a value (its default belongs in cdk.json)")
        values[key] = parse(key, context[key])
    config = PipelineConfig(**values)
    if config.batch_size > 10 and config.max_batching_window_seconds == 0:
        raise ConfigError(
            "batch_size", config.batch_size, "at most 10 unless max_batching_window_seconds is at least 1"
        )
    return config
