"""What the video functions call: clients, settings and the clock, in one value tests can build."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from recognizer import clients
from recognizer.video.settings import VideoSettings
from recognizer.video.store import VideoStore


class VideoServices(NamedTuple):
    settings: VideoSettings
    s3: Any
    rekognition: Any
    dynamodb: Any
    sqs: Any = None
    clock: Callable[[], datetime] | None = None

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    @property
    def store(self) -> VideoStore:
        return VideoStore(self.dynamodb, self.settings.table, self.s3, self.settings.timelines_bucket)


def video_services(settings: VideoSettings) -> VideoServices:
    """Services backed by the container's cached clients."""
    return VideoServices(
        settings=settings,
        s3=clients.s3(),
        rekognition=clients.rekognition(settings.common),
        dynamodb=clients.dynamodb(),
        sqs=clients.sqs() if settings.start_queue_url else None,
    )
