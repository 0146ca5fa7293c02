"""The watchlist function's environment (written by stacks/watchlist.py), parsed with the contract."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from recognizer.contract import (
    ENV_RESULTS_TABLE,
    SETTINGS_BY_KEY,
    WATCHLIST_ENV_COLLECTION,
    WATCHLIST_ENV_RETENTION_DAYS,
    WATCHLIST_ENV_THRESHOLD,
    WATCHLIST_ENV_TOPIC,
    SettingError,
)


class WatchlistConfigurationError(RuntimeError):
    """The function's environment is missing or has a bad value: a deployment problem, not an image's."""


class WatchlistSettings(NamedTuple):
    collection_id: str
    table_name: str
    threshold: float
    retention_days: int
    topic_arn: str | None
    # The celebrity function's setting and variable: both functions publish under one namespace.
    metrics_namespace: str = str(SETTINGS_BY_KEY["metrics_namespace"].default)


def load_watchlist_settings(environ: Mapping[str, str] | None = None) -> WatchlistSettings:
    env = os.environ if environ is None else environ
    missing = [
        name for name in (WATCHLIST_ENV_COLLECTION, ENV_RESULTS_TABLE) if not env.get(name, "").strip()
    ]
    if missing:
        raise WatchlistConfigurationError(f"environment variable(s) {', '.join(missing)} not set")
    parsed = {}
    for name, key in ((WATCHLIST_ENV_THRESHOLD, "watchlist_threshold"),
                      (WATCHLIST_ENV_RETENTION_DAYS, "watchlist_match_retention_days"),
                      (str(SETTINGS_BY_KEY["metrics_namespace"].env), "metrics_namespace")):  # fmt: skip
        setting = SETTINGS_BY_KEY[key]
        raw = env.get(name, "").strip()
        try:
            parsed[key] = setting.parse(raw) if raw else setting.default
        except SettingError as error:
            raise WatchlistConfigurationError(f"{name}={raw!r} is not {error.allowed}") from None
    return WatchlistSettings(
        collection_id=env[WATCHLIST_ENV_COLLECTION].strip(),
        table_name=env[ENV_RESULTS_TABLE].strip(),
        threshold=float(parsed["watchlist_threshold"]),
        retention_days=int(parsed["watchlist_match_retention_days"]),
        topic_arn=env.get(WATCHLIST_ENV_TOPIC, "").strip() or None,
        metrics_namespace=str(parsed["metrics_namespace"]),
    )
