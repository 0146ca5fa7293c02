"""Fixtures of the client tests: a moto server in this process, the stack in it, the function faked.

Nothing here reaches AWS: every AWS_* variable of the developer's environment is removed, the
config files point nowhere, the metadata service is off, and AWS_ENDPOINT_URL sends every client
to the moto server on 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import botocore.loaders
import pytest
from botocore.retries import standard
from click.testing import Result
from typer.testing import CliRunner

from celeb import aws as celeb_aws
from celeb.cli import app

# The fakes are shared with the script that records docs/client-session.md; with pytest's importlib
# mode this folder is not on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from celeb_testkit import JPEG_BYTES, PNG_BYTES, Deployed, FakeFunction, deploy, install_before_send


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request to stderr; the tests read stderr.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Fake credentials pointed at moto, and a moto emptied of the previous test's resources."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "CELEB_STACK":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    # Without credentials botocore would ask the EC2 metadata service: never leave this machine.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Wide enough that rich tables do not wrap the values the tests look for.
    monkeypatch.setenv("COLUMNS", "200")
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    return moto_endpoint


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep botocore's real retry decisions (which errors, how many attempts) but not its sleeps.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def stack() -> Deployed:
    return deploy()


@pytest.fixture(scope="session")
def model_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@pytest.fixture
def fake(
    stack: Deployed, monkeypatch: pytest.MonkeyPatch, model_loader: botocore.loaders.Loader
) -> FakeFunction:
    """The function of `stack`, answering the client's invocations (seam: celeb.aws.open_session)."""
    function = FakeFunction(stack)
    original = celeb_aws.open_session

    def open_stubbed_session(profile: str | None, region: str | None) -> boto3.Session:
        session = original(profile, region)
        # Speed only: every run opens a new session, which would parse the service models (a
        # quarter second) again; one loader caches them for the whole test session.
        session._session.register_component("data_loader", model_loader)
        install_before_send(session, function)
        return session

    monkeypatch.setattr(celeb_aws, "open_session", open_stubbed_session)
    return function


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Runs `celeb ARGS...` in this process; stdout and stderr apart."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), prog_name="celeb")

    return run


@pytest.fixture
def s3():
    return boto3.client("s3")


@pytest.fixture
def images(tmp_path: Path) -> Callable[..., Path]:
    """Writes local image files: `images("a.jpg", "b.png")` -> their folder."""
    folder = tmp_path / "images"
    folder.mkdir()

    def make(*names: str, content: bytes | None = None) -> Path:
        for name in names:
            data = content if content is not None else (PNG_BYTES if name.endswith(".png") else JPEG_BYTES)
            (folder / name).write_bytes(data)
        return folder

    return make
