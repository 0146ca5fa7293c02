"""Timing helpers shared by the benchmarks: medians of whole-command runs."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


@dataclass(frozen=True)
class Row:
    """One line of the results table: a figure, its floor measured in the same run, and the target."""

    name: str
    value: str
    floor: str
    ratio: str
    target: str
    met: bool | None


def env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }


def time_command(command: Sequence[str], *, cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def median_seconds(command: Sequence[str], runs: int, *, cwd: Path = ROOT) -> float:
    return statistics.median(time_command(command, cwd=cwd) for _ in range(runs))
