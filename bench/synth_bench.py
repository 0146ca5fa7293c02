"""Synthesis time: this app with its asset cached, against the same CLI on an empty stack, and cold.

.venv/bin/python -m bench --only synth
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

from bench.measure import ROOT, Row, time_command

CDK = [str(ROOT / "node_modules" / ".bin" / "cdk")]
EMPTY_APP = """
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""
TARGET_RATIO = 1.5


def run(runs: int) -> list[Row]:
    firsts, cached, empty = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "empty_app.py").write_text(EMPTY_APP)
        synth_empty = [*CDK, "synth", "--quiet", "--app", f"python3 {work / 'empty_app.py'}", "--output",
                       str(work / "empty.out")]  # fmt: skip
        # Interleaved, so that a noisy neighbour slows the figure and its floor alike.
        for attempt in range(runs):
            out = work / f"cdk.out.{attempt}"
            synth_app = [*CDK, "synth", "--quiet", "--output", str(out)]
            firsts.append(time_command(synth_app))  # a fresh output folder: bundles the function asset
            cached.append(time_command(synth_app))  # the asset folder exists: no bundling
            empty.append(time_command(synth_empty))
            shutil.rmtree(out, ignore_errors=True)

    first, cache, floor = statistics.median(firsts), statistics.median(cached), statistics.median(empty)
    ratio = cache / floor
    return [
        Row("cdk synth, asset cached", f"{cache:.2f} s", f"{floor:.2f} s (empty stack)", f"{ratio:.2f}x",
            f"<= {TARGET_RATIO}x", ratio <= TARGET_RATIO),
        Row("cdk synth, first (bundles)", f"{first:.2f} s", f"{floor:.2f} s (empty stack)",
            f"{first / floor:.2f}x", "-", None),
    ]  # fmt: skip
