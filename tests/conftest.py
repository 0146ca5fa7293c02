"""Session-wide fixtures: each stack variant is synthesized once and shared by every test module."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _one_model_loader_per_data_path() -> None:
    # Speed only: every botocore session parses the service models it uses from disk again, and
    # moto's mock_aws starts each test with a new default session: one test's few clients spent a
    # quarter second or more in json.loads. Sessions of this process share one loader per data path
    # (its cache is what a single session already shares between its clients); subprocesses keep their own.
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.session.create_loader)


_one_model_loader_per_data_path()

ROOT = Path(__file__).resolve().parent.parent

# The variants users deploy: production defaults, without the table, a dev stack with alarm email, and
# the watchlist with its alerts, and stored video.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no_table": {"results_table": "false"},
    "dev_with_email": {"deployment": "dev", "alarm_email": "ops@example.com", "upload_prefix": "incoming/"},
    "watchlist": {
        "watchlist": "true",
        "watchlist_alert_email": "security@example.com",
        "alarm_email": "ops@example.com",
    },
    "video": {"video": "true", "video_max_concurrent_jobs": "7", "alarm_email": "ops@example.com"},
}
# Settings away from their defaults, in one synthesis (each costs seconds), for the tests that check
# that the stack follows its context.
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
    "log_level": "debug",
    "event_archive_days": "30",
    "dedup": "false",
    "dashboard": "false",
    "metrics_namespace": "Team/Celebs 1",
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
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this run shares (the run's own folder without -n)."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is <the run's basetemp>/popen-gwN.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def once_per_run(shared: Path, name: str) -> Iterator[bool]:
    """Serializes workers on `name`; yields whether `name` still has to be made (its marker is absent)."""
    done = shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield not done.exists()
        done.touch()


@pytest.fixture(scope="session")
def synth_template(shared_dir: Path) -> Callable[..., dict[str, Any]]:
    """Synthesizes a context once per run (bundling skipped), whichever worker asks first, and returns
    its CloudFormation template as a dict; each synthesis costs seconds of CPU."""
    from stacks.app import create_app

    cache: dict[str, dict[str, Any]] = {}

    def synth(**context: Any) -> dict[str, Any]:
        key = json.dumps(context, sort_keys=True)
        if key not in cache:
            name = "synth-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            saved = shared_dir / f"{name}.template.json"
            with once_per_run(shared_dir, name) as missing:
                if missing:
                    context = {"aws:cdk:bundling-stacks": [], **context}
                    app = create_app(context, outdir=str(shared_dir / name))
                    saved.write_text(json.dumps(app.synth().stacks[0].template))
            cache[key] = json.loads(saved.read_text())
        return cache[key]

    return synth


@pytest.fixture(scope="session", params=list(VARIANTS))
def any_template(
    request: pytest.FixtureRequest, synth_template: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """Every deployable variant, for checks that must hold for all of them."""
    return synth_template(**VARIANTS[request.param])


@pytest.fixture(scope="session")
def bundled_assembly(shared_dir: Path) -> Path:
    """A real synthesis with local bundling, once per run: the cloud assembly folder, as `cdk synth`
    would write it."""
    from stacks.app import create_app

    outdir = shared_dir / "cdk-out-bundled"
    with once_per_run(shared_dir, "cdk-out-bundled") as missing:
        if missing:
            create_app({"aws:cdk:enable-asset-metadata": True}, outdir=str(outdir)).synth()
    return outdir


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


# The longest test files first, so that under pytest-xdist they do not start last and leave one
# core idle at the end (pyproject.toml turns off xdist's own reordering, by number of tests, which
# put the one-test burst last): the burst, whose worker makes the bundled assembly meanwhile, then
# the synthesized templates on the other worker, then the other integration tests (the assembly is
# made by then), then the client's longest files.
_FIRST = (
    "tests/integration/test_burst.py",
    "tests/infra/test_backfill.py",
    "tests/infra/test_video.py",
    "tests/infra/",
    "tests/integration/",
    "tests/client/test_cloud_backfill.py",
    "tests/client/test_recognize.py",
    "tests/client/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(_FIRST) if item.nodeid.startswith(prefix)), len(_FIRST))

    items.sort(key=rank)  # stable: the order within each file stays
