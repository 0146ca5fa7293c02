"""Zipped size and contents of the function packages, as CDK uploads them.

.venv/bin/python -m bench --only asset
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from bench.measure import ROOT, Row, time_command
from stacks.bundling import LocalPipBundling
from stacks.recognition_function import ARCHITECTURE, RUNTIME, SOURCE
from stacks.watchlist import INCLUDE, REQUIREMENTS

TARGET_BYTES = 1_000_000
# Pillow's arm64 wheel is most of it; Lambda takes up to 50 MB zipped.
WATCHLIST_TARGET_BYTES = 10_000_000


def bundle(out: Path) -> Path:
    time_command([str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--output", str(out)])
    template = json.loads(next(out.glob("*.template.json")).read_text())
    [function] = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "handler.lambda_handler"
    ]  # fmt: skip
    key = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return out / f"asset.{key}"


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return buffer.getvalue()


def contents(folder: Path) -> list[str]:
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())


def measure(folder: Path) -> tuple[list[Row], list[str]]:
    # One bundle is the figure: its size does not vary between runs.
    size = len(zipped(folder))
    # The celebrity function's asset, which the stored-video functions share (one upload); the
    # watchlist function has its own (below).
    row = Row("celebrity (and stored-video) functions' package (zipped)", f"{size / 1000:.1f} kB", "-", "-",
              f"< {TARGET_BYTES / 1e6:g} MB", size < TARGET_BYTES)  # fmt: skip
    return [row], contents(folder)


def watchlist_rows(scratch: Path) -> list[Row]:
    """The watchlist function's package (only with -c watchlist=true), bundled as CDK bundles it."""
    folder = scratch / "watchlist-asset"
    bundling = LocalPipBundling(SOURCE, RUNTIME, ARCHITECTURE, requirements=REQUIREMENTS, include=INCLUDE)
    if not bundling.try_bundle(str(folder)):
        raise RuntimeError("bundling the watchlist function failed (see above)")
    size = len(zipped(folder))
    return [Row("watchlist function package (zipped, Pillow included)", f"{size / 1e6:.2f} MB", "-", "-",
                f"< {WATCHLIST_TARGET_BYTES / 1e6:g} MB", size < WATCHLIST_TARGET_BYTES)]  # fmt: skip
