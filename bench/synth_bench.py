"""Synthesis time: this app with its asset cached, against the same CLI on an empty stack, and cold.

.venv/bin/python -m bench --only synth
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.measure import ROOT, Row, median_seconds, time_command

CDK = [str(ROOT / "node_modules" / ".bin" / "cdk")]
EMPTY_APP = """
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""
TARGET_RATIO = 1.5


def run(runs: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "empty_app.py").write_text(EMPTY_APP)
        out = work / "cdk.out"
        synth_app = [*CDK, "synth", "--quiet", "--output", str(out)]
        synth_empty = [*CDK, "synth", "--quiet", "--app", f"python3 {work / 'empty_app.py'}", "--output",
                       str(work / "empty.out")]  # fmt: skip

        cold = time_command(synth_app)  # bundles the function asset into `out`
        cached = median_seconds(synth_app, runs)  # the asset folder exists: no bundling
        empty = median_seconds(synth_empty, runs)
        shutil.rmtree(out, ignore_errors=True)

    ratio = cached / empty
    return [
        Row("cdk synth, asset cached", f"{cached:.2f} s", f"{empty:.2f} s (empty stack)", f"{ratio:.2f}x",
            f"<= {TARGET_RATIO}x", ratio <= TARGET_RATIO),
        Row("cdk synth, first (bundles)", f"{cold:.2f} s", f"{empty:.2f} s (empty stack)",
            f"{cold / empty:.2f}x", "-", None),
    ]  # fmt: skip
