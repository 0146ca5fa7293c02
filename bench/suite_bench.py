"""Wall time of the test suite as `make test` runs it (ruff, then pytest), on this machine's cores.

.venv/bin/python -m bench --only suite

A failing suite is still timed (its row says how many tests failed): the time is the figure here,
and `make test` is where failures are reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from bench.measure import ROOT, VENV_BIN, Row, env, time_command

TARGET_SECONDS = 120


def _pytest_seconds() -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(VENV_BIN / "pytest"), "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env(),
                          capture_output=True, text=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    failed = re.search(r"(\d+) (failed|error)", summary)
    return elapsed, "" if done.returncode == 0 else f" ({failed.group(0) if failed else 'pytest failed'})"


def run(runs: int) -> list[Row]:
    lint = time_command([str(VENV_BIN / "ruff"), "check", "."])
    timings = [_pytest_seconds() for _ in range(runs)]
    suite = sorted(seconds for seconds, _ in timings)[len(timings) // 2]
    failures = next((note for _, note in timings if note), "")
    total = lint + suite
    # Every run, not only the median: this machine's speed has swung by 1.7x within an hour.
    each = " / ".join(f"{lint + seconds:.1f}" for seconds, _ in timings)
    return [
        Row(f"make test (ruff + pytest, {os.cpu_count()} cores){failures}", f"{total:.1f} s",
            f"runs: {each} s", "-", f"<= {TARGET_SECONDS} s", total <= TARGET_SECONDS),
    ]  # fmt: skip
