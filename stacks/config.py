"""Typed configuration of the app, parsed from CDK context in one place.

Every setting (key, default, bounds, help) is defined once, in `recognizer.contract.SETTINGS`;
`-c key=value` overrides the default and always arrives as a string, so every parser accepts both
the JSON type and its string spelling. cdk.json holds only CDK's feature flags.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from aws_cdk import aws_logs as logs

from recognizer.contract import RENAMED_SETTINGS, SETTINGS, SettingError

# Context keys owned by CDK itself or by feature flags: never mistaken for a typo of ours.
_FOREIGN_KEY = re.compile(r"^(@|aws:|aws-cdk:|cdk[-:]|acknowledged-issue-numbers$)")


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention enum member for a number of days (the contract's allowed values)."""
    return next(member for member in logs.RetentionDays if _days(member) == days)


def _days(member: logs.RetentionDays) -> int | None:
    # jsii's Python enum carries names (ONE_WEEK), not day counts: ask CloudFormation's value.
    return {
        "ONE_DAY": 1, "THREE_DAYS": 3, "FIVE_DAYS": 5, "ONE_WEEK": 7, "TWO_WEEKS": 14, "ONE_MONTH": 30,
        "TWO_MONTHS": 60, "THREE_MONTHS": 90, "FOUR_MONTHS": 120, "FIVE_MONTHS": 150, "SIX_MONTHS": 180,
        "ONE_YEAR": 365, "THIRTEEN_MONTHS": 400, "EIGHTEEN_MONTHS": 545, "TWO_YEARS": 731,
        "THREE_YEARS": 1096, "FIVE_YEARS": 1827, "SIX_YEARS": 2192, "SEVEN_YEARS": 2557,
        "EIGHT_YEARS": 2922, "NINE_YEARS": 3288, "TEN_YEARS": 3653,
    }.get(member.name)  # fmt: skip


class ConfigError(ValueError):
    """A context value that cannot be used; the message names key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"context key '{key}' has value {value!r}: expected {allowed}")
        self.key = key
        self.value = value


_DEFAULTS = {setting.key: setting.default for setting in SETTINGS}


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    """One typed field per setting of the contract (a test checks that they match)."""

    stack_name: str
    deployment: str
    results_table: bool
    dedup: bool
    memory_size: int
    timeout_seconds: int
    log_retention_days: int
    log_level: str
    tracing: bool
    min_confidence: float
    rekognition_retry_mode: str
    rekognition_max_attempts: int
    noncurrent_version_expiration_days: int
    upload_prefix: str
    event_archive_days: int
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int
    max_receive_count: int
    oldest_message_alarm_seconds: int
    alarm_email: str
    # The cloud backfill's settings carry the contract's defaults here as well (not a copy: read from
    # SETTINGS), so an AppConfig spelled out without them, as some tests do, still compares equal.
    cloud_backfill: bool = _DEFAULTS["cloud_backfill"]
    backfill_batch_size: int = _DEFAULTS["backfill_batch_size"]
    backfill_max_concurrency: int = _DEFAULTS["backfill_max_concurrency"]
    backfill_tolerated_failure_percentage: float = _DEFAULTS["backfill_tolerated_failure_percentage"]
    # metrics and dashboard (stacks/dashboard.py, recognizer/metrics.py)
    metrics_namespace: str = _DEFAULTS["metrics_namespace"]
    dashboard: bool = _DEFAULTS["dashboard"]
    watchlist: bool = _DEFAULTS["watchlist"]
    watchlist_threshold: float = _DEFAULTS["watchlist_threshold"]
    watchlist_alert_email: str = _DEFAULTS["watchlist_alert_email"]
    watchlist_match_retention_days: int = _DEFAULTS["watchlist_match_retention_days"]
    # Stored video (stacks/video.py), defaults from the contract as above.
    video: bool = _DEFAULTS["video"]
    video_job_timeout_minutes: int = _DEFAULTS["video_job_timeout_minutes"]
    video_max_concurrent_jobs: int = _DEFAULTS["video_max_concurrent_jobs"]
    video_interval_gap_ms: int = _DEFAULTS["video_interval_gap_ms"]

    @property
    def is_dev(self) -> bool:
        return self.deployment == "dev"

    def function_environment(self) -> dict[str, str]:
        """The environment variables of every setting the function reads, as the stack writes them."""
        return {
            setting.env: setting.to_env(getattr(self, setting.key)) for setting in SETTINGS if setting.env
        }


assert [setting.key for setting in SETTINGS] == [field.name for field in fields(AppConfig)]


def _reject_unknown(context: Mapping[str, Any]) -> None:
    known = [setting.key for setting in SETTINGS]
    for key in context:
        if key in RENAMED_SETTINGS:
            raise ConfigError(key, context[key], f"the new key '{RENAMED_SETTINGS[key]}' (renamed)")
        if key in known or _FOREIGN_KEY.match(key):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            raise ConfigError(key, context[key], f"a known key; did you mean '{close[0]}'?")


def load_config(context: Mapping[str, Any]) -> AppConfig:
    """Parse every setting (its contract default when absent); raises ConfigError on the first bad one."""
    _reject_unknown(context)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = context.get(setting.key, setting.default)
        try:
            values[setting.key] = setting.parse(value)
        except SettingError as error:
            raise ConfigError(setting.key, value, error.allowed) from None
    config = AppConfig(**values)
    if config.batch_size > 10 and config.max_batching_window_seconds == 0:
        raise ConfigError(
            "batch_size", config.batch_size, "at most 10 unless max_batching_window_seconds is at least 1"
        )
    if config.watchlist and not config.results_table:
        # The watchlist's matches (and the per-person index `celeb results --person` reads) live there.
        raise ConfigError("watchlist", config.watchlist, "false when results_table is false: the "
                          "watchlist stores its matches in the results table")  # fmt: skip
    if config.video and not config.results_table:
        # The video path records jobs in flight and their results in the table; without it a
        # finished job would have nowhere to go and no one to notice it.
        raise ConfigError(
            "video",
            config.video,
            "false when results_table is false: stored-video recognition keeps "
            "its jobs and results in the results table (deploy with -c results_table=true)",
        )
    return config
