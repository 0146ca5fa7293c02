"""The video functions' environment (names: the contract's ENV_VIDEO_*), parsed once per invocation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from recognizer.contract import (
    ENV_RESULTS_TABLE,
    ENV_VIDEO_INTERVAL_GAP_MS,
    ENV_VIDEO_JOB_TIMEOUT_MINUTES,
    ENV_VIDEO_MAX_CONCURRENT_JOBS,
    ENV_VIDEO_ROLE_ARN,
    ENV_VIDEO_START_QUEUE_URL,
    ENV_VIDEO_TIMELINES_BUCKET,
    ENV_VIDEO_TOPIC_ARN,
    SETTINGS_BY_KEY,
    SettingError,
)
from recognizer.errors import ConfigurationError
from recognizer.settings import Settings, load_settings


class VideoSettings(NamedTuple):
    common: Settings  # the image function's settings: table, min_confidence, Rekognition retries
    table: str
    topic_arn: str | None  # the start function's: where Rekognition announces completion
    role_arn: str | None
    start_queue_url: str | None  # the start function's: where a deferred start goes back
    timelines_bucket: str | None  # the completion function's
    max_concurrent_jobs: int
    job_timeout_minutes: int
    interval_gap_ms: int


_NUMBERS = {
    "max_concurrent_jobs": (ENV_VIDEO_MAX_CONCURRENT_JOBS, "video_max_concurrent_jobs"),
    "job_timeout_minutes": (ENV_VIDEO_JOB_TIMEOUT_MINUTES, "video_job_timeout_minutes"),
    "interval_gap_ms": (ENV_VIDEO_INTERVAL_GAP_MS, "video_interval_gap_ms"),
}


def load_video_settings(environ: Mapping[str, str] | None = None) -> VideoSettings:
    env = os.environ if environ is None else environ
    common = load_settings(env)
    if common.results_table_name is None:
        raise ConfigurationError(
            f"{ENV_RESULTS_TABLE} is not set: the video functions need the results table"
        )
    numbers: dict[str, int] = {}
    for field, (name, key) in _NUMBERS.items():
        setting = SETTINGS_BY_KEY[key]
        raw = env.get(name, "").strip()
        try:
            numbers[field] = setting.parse(raw) if raw else setting.default
        except SettingError as error:
            raise ConfigurationError(f"{name}={raw!r} is not {error.allowed}") from None
    return VideoSettings(
        common=common,
        table=common.results_table_name,
        topic_arn=env.get(ENV_VIDEO_TOPIC_ARN) or None,
        role_arn=env.get(ENV_VIDEO_ROLE_ARN) or None,
        start_queue_url=env.get(ENV_VIDEO_START_QUEUE_URL) or None,
        timelines_bucket=env.get(ENV_VIDEO_TIMELINES_BUCKET) or None,
        **numbers,
    )
