"""The function's environment, parsed once per invocation into a frozen Settings.

Names, defaults and bounds come from the contract's SETTINGS, the same ones the stack validates
`-c key=value` with, so a value the stack accepts is one the function accepts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from recognizer.contract import ENV_RESULTS_TABLE, FUNCTION_SETTINGS, SETTINGS_BY_KEY, SettingError
from recognizer.errors import ConfigurationError


class Settings(NamedTuple):
    """One field per contract setting with an environment variable (a test checks they match)."""

    results_table_name: str | None = None
    min_confidence: float = SETTINGS_BY_KEY["min_confidence"].default
    rekognition_retry_mode: str = SETTINGS_BY_KEY["rekognition_retry_mode"].default
    rekognition_max_attempts: int = SETTINGS_BY_KEY["rekognition_max_attempts"].default
    dedup: bool = SETTINGS_BY_KEY["dedup"].default
    metrics_namespace: str = SETTINGS_BY_KEY["metrics_namespace"].default


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the function's environment; an empty value means "use the default"."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {"results_table_name": env.get(ENV_RESULTS_TABLE, "").strip() or None}
    for setting in FUNCTION_SETTINGS:
        assert setting.env is not None
        raw = env.get(setting.env, "").strip()
        if not raw:
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except SettingError as error:
            raise ConfigurationError(f"{setting.env}={raw!r} is not {error.allowed}") from None
    return Settings(**values)  # type: ignore[arg-type]
