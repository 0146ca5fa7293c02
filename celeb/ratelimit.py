"""A rate limit shared by worker threads, so backfill stays under the Rekognition TPS quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Hands out evenly spaced start times: at most `per_second` calls start in any second."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._next_slot = float("-inf")
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """Block until this caller's slot; False when `stop` was set meanwhile (do not start)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        delay = slot - now
        if delay <= 0:
            return not stop.is_set()
        # Waiting on the event rather than sleeping lets Ctrl-C stop the waiters at once.
        return not stop.wait(delay)
