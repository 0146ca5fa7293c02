"""Ctrl-C as state the main thread polls, instead of a KeyboardInterrupt raised wherever it lands.

While backfill's workers run, the main thread only waits for them; a KeyboardInterrupt could still
land inside the code that handles the previous one (one Ctrl-C often arrives twice, microseconds
apart: `timeout` and some shells signal both the process and its group), and escape it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# A second SIGINT this soon after the first is the same Ctrl-C; a later one is a second press.
SAME_PRESS_SECONDS = 0.5


class CtrlC:
    def __init__(self) -> None:
        self._first: float | None = None
        self._pressed_again = False

    @property
    def pressed(self) -> bool:
        return self._first is not None

    @property
    def pressed_again(self) -> bool:
        return self._pressed_again

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
        elif now - self._first > SAME_PRESS_SECONDS:
            self._pressed_again = True


@contextmanager
def ctrl_c_counted() -> Iterator[CtrlC]:
    """SIGINT is recorded in the yielded CtrlC for the duration, then handled as before."""
    ctrl_c = CtrlC()
    if threading.current_thread() is not threading.main_thread():
        yield ctrl_c  # only the main thread receives signals (and may set their handlers)
        return
    previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield ctrl_c
    finally:
        signal.signal(signal.SIGINT, previous)
