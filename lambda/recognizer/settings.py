"""Environment variables set by the stack, parsed once per invocation into a frozen Settings."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import NamedTuple

from recognizer.errors import ConfigurationError

RETRY_MODES = ("standard", "adaptive")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Each attempt may itself wait for Rekognition; more than this only burns the Lambda timeout.
MAX_ATTEMPTS_LIMIT = 20


class Settings(NamedTuple):
    results_table_name: str | None = None
    min_confidence: float = 0.0
    retry_mode: str = "standard"
    max_attempts: int = 5
    log_level: str = "INFO"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the function's environment; an empty value means "use the default"."""
    env = os.environ if environ is None else environ
    return Settings(
        results_table_name=_text(env, "RESULTS_TABLE_NAME"),
        min_confidence=_min_confidence(env),
        retry_mode=_retry_mode(env),
        max_attempts=_max_attempts(env),
        log_level=_log_level(env),
    )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _min_confidence(env: Mapping[str, str]) -> float:
    raw = _text(env, "MIN_CONFIDENCE")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 100.0:  # also rejects nan and inf
        raise ConfigurationError(f"MIN_CONFIDENCE={raw!r} is not a number between 0 and 100")
    return value


def _retry_mode(env: Mapping[str, str]) -> str:
    return _choice(env, "REKOGNITION_RETRY_MODE", RETRY_MODES, "standard", str.lower)


def _max_attempts(env: Mapping[str, str]) -> int:
    raw = _text(env, "REKOGNITION_MAX_ATTEMPTS")
    if raw is None:
        return 5
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ATTEMPTS_LIMIT:
        raise ConfigurationError(
            f"REKOGNITION_MAX_ATTEMPTS={raw!r} is not a whole number between 1 and {MAX_ATTEMPTS_LIMIT}"
        )
    return value


def _log_level(env: Mapping[str, str]) -> str:
    return _choice(env, "LOG_LEVEL", LOG_LEVELS, "INFO", str.upper)


def _choice(
    env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str, normalize: Callable[[str], str]
) -> str:
    """A case-insensitive choice: `normalize` maps the raw value onto the spelling in `allowed`."""
    raw = _text(env, name)
    if raw is None:
        return default
    if normalize(raw) not in allowed:
        raise ConfigurationError(f"{name}={raw!r} is not one of {', '.join(allowed)}")
    return normalize(raw)
