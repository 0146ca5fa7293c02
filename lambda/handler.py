"""Lambda entry point (``handler.lambda_handler``): everything else lives in the recognizer package."""

from __future__ import annotations

from typing import Any

from recognizer.dispatch import handle


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(event, context)
