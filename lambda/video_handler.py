"""Lambda entry points of the stored-video functions; the code lives in recognizer.video."""

from __future__ import annotations

from typing import Any

from recognizer.video.completion import handle_results
from recognizer.video.start import handle_start


def start(event: Any, context: Any) -> dict[str, Any]:
    """The start queue's consumer: `video_handler.start`."""
    return handle_start(event, context)


def results(event: Any, context: Any) -> dict[str, Any]:
    """The completion queue's consumer (Rekognition's notices and the sweep): `video_handler.results`."""
    return handle_results(event, context)
