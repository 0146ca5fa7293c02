"""Docker-free bundling: the asset is lambda/ plus its pinned packages, for Lambda's platform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_

from stacks.bundling import LocalPipBundling
from stacks.recognition_function import ARCHITECTURE, RUNTIME, SOURCE


def _pinned(requirements: Path) -> dict[str, str]:
    lines = [line.strip() for line in requirements.read_text().splitlines()]
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_asset_holds_the_handler_source_and_pinned_packages(bundled_function_dir: Path) -> None:
    assert (bundled_function_dir / "handler.py").read_bytes() == (SOURCE / "handler.py").read_bytes()
    for module in (SOURCE / "recognizer").glob("*.py"):
        assert (bundled_function_dir / "recognizer" / module.name).read_bytes() == module.read_bytes()
    pinned = _pinned(SOURCE / "requirements.txt")
    assert pinned, "lambda/requirements.txt pins nothing"
    for name, version in pinned.items():
        assert (bundled_function_dir / f"{name}-{version}.dist-info").is_dir(), f"{name}=={version} missing"


def test_asset_has_no_caches_or_tests(bundled_function_dir: Path) -> None:
    assert not list(bundled_function_dir.rglob("__pycache__"))
    assert not list(bundled_function_dir.rglob("*.pyc"))


def test_bundled_and_unbundled_synthesis_give_the_same_asset_hash(
    bundled_assembly: Path, synth_template: Any
) -> None:
    bundled = json.loads(next(bundled_assembly.glob("*.template.json")).read_text())

    def key(template: dict[str, Any]) -> str:
        [fn] = [
            r
            for r in template["Resources"].values()
            if r["Properties"].get("Handler") == "handler.lambda_handler"
        ]
        return fn["Properties"]["Code"]["S3Key"]

    assert key(bundled) == key(synth_template())


def test_pip_targets_lambdas_platform_and_python() -> None:
    command = LocalPipBundling(SOURCE, RUNTIME, ARCHITECTURE).pip_command("/out")
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.14"
    assert "--only-binary=:all:" in command
    x86 = LocalPipBundling(SOURCE, lambda_.Runtime.PYTHON_3_13, lambda_.Architecture.X86_64).pip_command(
        "/out"
    )
    assert x86[x86.index("--platform") + 1] == "manylinux2014_x86_64"
    assert x86[x86.index("--python-version") + 1] == "3.13"


def test_local_bundling_reports_failure_so_cdk_can_fall_back_to_docker(tmp_path: Path) -> None:
    broken = tmp_path / "src"
    broken.mkdir()
    (broken / "requirements.txt").write_text("this-package-does-not-exist-anywhere==0.0.0\n")
    assert LocalPipBundling(broken, RUNTIME, ARCHITECTURE).try_bundle(str(tmp_path / "out"), None) is False
