"""Synthesis time: this app with its asset cached, against the same CLI on an empty stack, and cold.

.venv/bin/python -m bench --only synth
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

from bench.measure import ROOT, Row, time_command
from recognizer.contract import SETTINGS, SETTINGS_BY_KEY

CDK = [str(ROOT / "node_modules" / ".bin" / "cdk")]
EMPTY_APP = """
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""
TARGET_RATIO = 1.5
ALL_ON_TARGET_RATIO = 2.0


def all_on() -> dict[str, str]:
    """Every optional part of the stack on: each true/false setting, an alarm email, an event archive.

    Read from the contract, so an option added later is in the run without editing this file.
    """
    options = {setting.key: "true" for setting in SETTINGS if setting.kind == "bool"}
    options["event_archive_days"] = str(SETTINGS_BY_KEY["event_archive_days"].default or 7)
    options["alarm_email"] = "ops@example.com"  # its SNS topic is off by default
    return options


def run(runs: int) -> list[Row]:
    firsts, cached, everything_on, empty = [], [], [], []
    options = all_on()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "empty_app.py").write_text(EMPTY_APP)
        synth_empty = [*CDK, "synth", "--quiet", "--app", f"python3 {work / 'empty_app.py'}", "--output",
                       str(work / "empty.out")]  # fmt: skip
        # Interleaved, so that a noisy neighbour slows the figure and its floor alike.
        for attempt in range(runs):
            out = work / f"cdk.out.{attempt}"
            synth_app = [*CDK, "synth", "--quiet", "--output", str(out)]
            everything = [*synth_app, *(arg for item in options.items() for arg in ("-c", "=".join(item)))]
            firsts.append(time_command(synth_app))  # a fresh output folder: bundles the function asset
            cached.append(time_command(synth_app))  # the asset folder exists: no bundling
            time_command(everything)  # untimed: bundles the options' own assets (watchlist, video)
            everything_on.append(time_command(everything))  # every asset cached
            empty.append(time_command(synth_empty))
            shutil.rmtree(out, ignore_errors=True)

    first, cache, floor = statistics.median(firsts), statistics.median(cached), statistics.median(empty)
    everything = statistics.median(everything_on)
    ratio, all_on_ratio = cache / floor, everything / floor
    return [
        Row("cdk synth, default app, asset cached", f"{cache:.2f} s", f"{floor:.2f} s (empty stack)",
            f"{ratio:.2f}x", f"<= {TARGET_RATIO}x", ratio <= TARGET_RATIO),
        Row(f"cdk synth, every option on ({', '.join(options)}), asset cached", f"{everything:.2f} s",
            f"{floor:.2f} s (empty stack)", f"{all_on_ratio:.2f}x", f"<= {ALL_ON_TARGET_RATIO}x",
            all_on_ratio <= ALL_ON_TARGET_RATIO),
        Row("cdk synth, first (bundles)", f"{first:.2f} s", f"{floor:.2f} s (empty stack)",
            f"{first / floor:.2f}x", "-", None),
    ]  # fmt: skip
