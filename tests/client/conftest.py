"""Fixtures of the client tests: a moto server and the Rekognition stub in this process, the stack in
moto, and the real function behind a local Lambda endpoint.

Nothing here reaches AWS: every AWS_* variable of the developer's environment is removed, the
config files point nowhere, the metadata service is off, AWS_ENDPOINT_URL sends every client (the
CLI's and the function's) to the moto server on 127.0.0.1, and AWS_ENDPOINT_URL_REKOGNITION sends
the function's Rekognition client to the stub.
"""

from __future__ import annotations

import logging
import os
import threading
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
from celeb import render
from celeb.cli import app
from tests.client.celeb_testkit import (
    JPEG_BYTES,
    KEYNOTE_FACES,
    PNG_BYTES,
    Deployed,
    aws_client,
    deploy,
    function_environment,
)
from tests.client.local_lambda import FunctionProcess, LocalLambda, install_before_send
from tests.integration.rekognition_stub import RekognitionStub


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


@pytest.fixture(scope="session")
def rekognition_stub() -> Iterator[RekognitionStub]:
    with RekognitionStub(celebrities=KEYNOTE_FACES) as stub:
        yield stub


@pytest.fixture(autouse=True)
def aws_env(
    moto_endpoint: str, rekognition_stub: RekognitionStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """Fake credentials pointed at moto and the stub, both emptied of the previous test's state."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "CELEB_STACK":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", rekognition_stub.url)
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
    rekognition_stub.reset()
    return moto_endpoint


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep botocore's real retry decisions (which errors, how many attempts) but not its sleeps:
    # the CLI's and the function's clients alike.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def stack() -> Deployed:
    return deploy()


@pytest.fixture(scope="session")
def model_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


SessionHook = Callable[[boto3.Session], None]


@pytest.fixture(autouse=True)
def cli_sessions(monkeypatch: pytest.MonkeyPatch, model_loader: botocore.loaders.Loader) -> list[SessionHook]:
    """Hooks run on every session the CLI opens (seam: celeb.aws.open_session)."""
    hooks: list[SessionHook] = []
    original = celeb_aws.open_session

    def open_hooked_session(profile: str | None, region: str | None) -> boto3.Session:
        session = original(profile, region)
        # Speed only: every run opens a new session, which would parse the service models (a
        # quarter second) again; one loader caches them for the whole test session.
        session._session.register_component("data_loader", model_loader)
        for hook in hooks:
            hook(session)
        return session

    monkeypatch.setattr(celeb_aws, "open_session", open_hooked_session)
    return hooks


@pytest.fixture(scope="module")
def function_process(model_loader: botocore.loaders.Loader) -> Iterator[FunctionProcess]:
    """The function's clients, shared by a module's tests (building them costs more than most tests)."""
    session = boto3.Session()
    # Speed only: the service models are parsed once per test session.
    session._session.register_component("data_loader", model_loader)
    process = FunctionProcess(session)
    yield process
    process.stop()


@pytest.fixture
def function(
    stack: Deployed, cli_sessions: list[SessionHook], function_process: FunctionProcess
) -> Iterator[LocalLambda]:
    """The real function of `stack`, behind the Lambda endpoint the CLI's Invoke calls reach."""
    local = LocalLambda(stack.function_name, stack.function_arn, function_environment(stack.table))
    # Here, not in the module fixture: the clients must see this test's AWS_* environment.
    function_process.start(local.environ)
    cli_sessions.append(lambda session: install_before_send(session, local))
    with local.running():
        yield local


@pytest.fixture
def ctrl_c_seen(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once backfill has taken a Ctrl-C and waits for the invocations in flight."""
    seen = threading.Event()
    original = render.BackfillProgress.stopping

    def stopping(self: render.BackfillProgress) -> None:
        original(self)
        seen.set()

    monkeypatch.setattr(render.BackfillProgress, "stopping", stopping)
    return seen


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Runs `celeb ARGS...` in this process; stdout and stderr apart."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), prog_name="celeb")

    return run


@pytest.fixture
def s3():
    return aws_client("s3")


@pytest.fixture
def images(tmp_path: Path) -> Callable[..., Path]:
    """Writes local image files: `images("a.jpg", "b.png")` -> their folder (JPEG or PNG by suffix)."""
    folder = tmp_path / "images"
    folder.mkdir()

    def make(*names: str, content: bytes | None = None) -> Path:
        for name in names:
            data = content if content is not None else (PNG_BYTES if name.endswith(".png") else JPEG_BYTES)
            (folder / name).write_bytes(data)
        return folder

    return make
