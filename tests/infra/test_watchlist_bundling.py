"""The watchlist function's package: its code, the shared contract and Pillow for Lambda's arm64; the
celebrity function's package gains none of it."""

from __future__ import annotations

import struct
from pathlib import Path

from stacks.bundling import LocalPipBundling
from stacks.recognition_function import ARCHITECTURE, RUNTIME, SOURCE
from stacks.watchlist import INCLUDE, REQUIREMENTS

_ELF_MACHINE_AARCH64 = 183


def test_watchlist_package_holds_its_code_the_contract_and_pillow_for_arm64(tmp_path: Path) -> None:
    out = tmp_path / "asset"
    bundling = LocalPipBundling(SOURCE, RUNTIME, ARCHITECTURE, requirements=REQUIREMENTS, include=INCLUDE)
    assert bundling.try_bundle(str(out), None)
    assert (out / "watchlist" / "handler.py").read_bytes() == (
        SOURCE / "watchlist" / "handler.py"
    ).read_bytes()
    assert sorted(path.name for path in (out / "recognizer").iterdir()) == [
        "__init__.py",
        "contract.py",
        "errors.py",
        "metrics.py",
        "outcome.py",
    ]
    assert not (out / "handler.py").exists() and not (out / "imagesize").exists()
    wheel = (out / "pillow-13.0.0.dist-info" / "WHEEL").read_text()
    assert "cp314" in wheel and "aarch64" in wheel and "manylinux" in wheel
    [core] = list((out / "PIL").glob("_imaging.*.so"))
    header = core.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and struct.unpack("<H", header[18:20])[0] == _ELF_MACHINE_AARCH64
    assert not list(out.rglob("__pycache__"))


def test_celebrity_package_has_no_watchlist_code_nor_pillow(bundled_function_dir: Path) -> None:
    assert not (bundled_function_dir / "watchlist").exists()
    assert not (bundled_function_dir / "PIL").exists()
    assert (bundled_function_dir / "recognizer" / "contract.py").exists()
