"""Wall time of the test suite as `make test` runs it (ruff, then pytest), on this machine's cores.

.venv/bin/python -m bench --only suite
"""

from __future__ import annotations

import os

from bench.measure import VENV_BIN, Row, median_seconds, time_command

TARGET_SECONDS = 90


def run(runs: int) -> list[Row]:
    lint = time_command([str(VENV_BIN / "ruff"), "check", "."])
    suite = median_seconds([str(VENV_BIN / "pytest"), "-q", "-p", "no:cacheprovider"], runs)
    total = lint + suite
    return [
        Row(f"make test (ruff + pytest, {os.cpu_count()} cores)", f"{total:.1f} s", "-", "-",
            f"< {TARGET_SECONDS} s", total < TARGET_SECONDS),
    ]  # fmt: skip
