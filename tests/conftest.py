"""Session-wide fixtures: each stack variant is synthesized once and shared by every test module."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parent.parent

# The variants users deploy: production defaults, without the table, a dev stack with alarm email, and
# the watchlist with its alerts.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no_table": {"results_table": "false"},
    "dev_with_email": {"deployment": "dev", "alarm_email": "ops@example.com", "upload_prefix": "incoming/"},
    "watchlist": {
        "watchlist": "true",
        "watchlist_alert_email": "security@example.com",
        "alarm_email": "ops@example.com",
    },
}
# Every numeric setting away from its default, in one synthesis, for the tests that follow context.
CUSTOM = {
    "memory_size": "1024",
    "timeout_seconds": "120",
    "tracing": "false",
    "batch_size": "100",
    "max_batching_window_seconds": "20",
    "max_concurrency": "12",
    "max_receive_count": "7",
    "backfill_batch_size": "250",
    "backfill_max_concurrency": "7",
    "backfill_tolerated_failure_percentage": "12.5",
}


def pytest_report_header() -> str:
    """Which Python the bundled function's integration tests run on (Lambda runs python3.14)."""
    from tests.integration.moto_stack import function_python

    version = subprocess.run(
        [function_python(), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return f"bundled function runs on Python {version or '?'} ({function_python()}); Lambda runs 3.14"


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk-out")


@pytest.fixture(scope="session")
def synth_template(synth_dir: Path) -> Callable[..., dict[str, Any]]:
    """Synthesizes a context once (bundling skipped) and returns its CloudFormation template as a dict."""
    from stacks.app import create_app

    cache: dict[str, dict[str, Any]] = {}

    def synth(**context: Any) -> dict[str, Any]:
        key = json.dumps(context, sort_keys=True)
        if key not in cache:
            outdir = synth_dir / f"variant-{len(cache)}"
            app = create_app({"aws:cdk:bundling-stacks": [], **context}, outdir=str(outdir))
            cache[key] = app.synth().stacks[0].template
        return cache[key]

    return synth


@pytest.fixture(scope="session", params=list(VARIANTS))
def any_template(
    request: pytest.FixtureRequest, synth_template: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """Every deployable variant, for checks that must hold for all of them."""
    return synth_template(**VARIANTS[request.param])


@pytest.fixture(scope="session")
def bundled_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real synthesis with local bundling: the cloud assembly folder, as `cdk synth` would write it."""
    from stacks.app import create_app

    outdir = tmp_path_factory.mktemp("cdk-out-bundled")
    create_app({"aws:cdk:enable-asset-metadata": True}, outdir=str(outdir)).synth()
    yield outdir


@pytest.fixture(scope="session")
def bundled_function_dir(bundled_assembly: Path) -> Path:
    """The function's bundled asset folder (what Lambda runs), found through the template's asset metadata."""
    template = json.loads(next(bundled_assembly.glob("*.template.json")).read_text())
    functions = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "handler.lambda_handler"
    ]  # fmt: skip
    assert len(functions) == 1
    return bundled_assembly / functions[0]["Metadata"]["aws:asset:path"]
