"""One JSON log line per image, written to stdout so CloudWatch Logs Insights can query its fields."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from recognizer.errors import RecognitionError

SUCCEEDED = "succeeded"
DUPLICATE = "duplicate"
FAILED = "failed"
RETRY = "retry"

_LEVELS = {SUCCEEDED: logging.INFO, DUPLICATE: logging.INFO, FAILED: logging.WARNING, RETRY: logging.WARNING}


class _StdoutHandler(logging.Handler):
    # Looks sys.stdout up on each line (not once at import) so test capture and runtime swaps work.
    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


_HANDLER_NAME = "recognizer-stdout"
logger = logging.getLogger("recognizer")
if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):  # a module reload adds no second one
    _handler = _StdoutHandler()
    _handler.set_name(_HANDLER_NAME)
    logger.addHandler(_handler)
# The runtime's root handler would wrap the line in its own text prefix; ours is already structured.
logger.propagate = False
logger.setLevel(logging.INFO)  # the LOG_LEVEL default, until set_level applies the setting


def set_level(level: str) -> None:
    # setLevel clears the level cache of every logger in the process (botocore has dozens): only
    # pay for it when LOG_LEVEL actually changes, not on every invocation.
    if logger.level != logging.getLevelName(level):
        logger.setLevel(level)


def image_line(
    *,
    outcome: str,
    bucket: str | None,
    key: str | None,
    version_id: str | None,
    celebrities: int,
    duration_ms: float,
    error: Exception | None = None,
    **context: Any,
) -> dict[str, Any]:
    """The fields of one image's log line (pure, so tests can check it without capturing output)."""
    line: dict[str, Any] = {
        "level": logging.getLevelName(_level(outcome, error)),
        "message": "image analysis " + outcome,
        "bucket": bucket,
        "key": key,
        "version_id": version_id,
        "outcome": outcome,
        "celebrities": celebrities,
        "duration_ms": round(duration_ms, 1),
    }
    if error is not None:
        line["error_type"] = type(error).__name__
        line["error_message"] = str(error)
    line.update({name: value for name, value in context.items() if value is not None})
    return line


def log_image(**fields: Any) -> None:
    line = image_line(**fields)
    level = logging.getLevelName(line["level"])
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps(line, ensure_ascii=False, default=str))


def _level(outcome: str, error: Exception | None) -> int:
    if error is not None and not isinstance(error, RecognitionError):
        return logging.ERROR  # a bug, not an input or AWS problem
    return _LEVELS.get(outcome, logging.INFO)


def log_unanalysed(
    outcome: str,
    error: Exception,
    *,
    bucket: str | None = None,
    key: str | None = None,
    version_id: str | None = None,
    **context: Any,
) -> None:
    """The line for a record that never reached the analysis (malformed, or hit a bug)."""
    log_image(
        outcome=outcome,
        bucket=bucket,
        key=key,
        version_id=version_id,
        celebrities=0,
        duration_ms=0.0,
        error=error,
        **context,
    )


def log_event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    """A line about an event rather than an image (e.g. S3's test event being acknowledged)."""
    if logger.isEnabledFor(level):
        line = {"level": logging.getLevelName(level), "message": message, **fields}
        logger.log(level, json.dumps(line, ensure_ascii=False, default=str))
