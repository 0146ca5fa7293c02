"""Fixtures for the Lambda function's tests: fake AWS environment, moto, Stubber.

The `recognizer` package is installed from lambda/ (pyproject.toml); `handler.py` is the function's
entry point beside it and not part of the package, so lambda/ goes on sys.path for `import handler`.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from moto import mock_aws  # noqa: E402

from recognizer import clients  # noqa: E402
from recognizer.contract import ENV_RESULTS_TABLE, FUNCTION_SETTINGS  # noqa: E402
from recognizer.settings import load_settings  # noqa: E402
from tests.handler import moto_transactions  # noqa: E402
from tests.handler.recognizer_testkit import (  # noqa: E402
    BUCKET,
    TABLE,
    AwsAnswers,
    FakeHttp,
    create_results_table,
    jpeg_bytes,
    png_bytes,
)

# moto copies a whole table for every transaction; the function writes with one per image.
moto_transactions.install()

# Every variable the stack gives the function, and Lambda's own log level.
FUNCTION_ENV = (ENV_RESULTS_TABLE, *(s.env for s in FUNCTION_SETTINGS if s.env), "AWS_LAMBDA_LOG_LEVEL")


@pytest.fixture(scope="session", autouse=True)
def fresh_client_cache() -> Iterator[None]:
    """Clients built elsewhere in the same pytest process (other settings, endpoints) are not reused."""
    clients.reset_clients()
    yield
    clients.reset_clients()


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real credentials, profiles or endpoints can leak in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", *FUNCTION_ENV):
        monkeypatch.delenv(name, raising=False)
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Clients are kept across tests, as in a warm container: building one costs ~0.1 s. Tests
    # attach Stubbers, FakeHttp and AwsAnswers only through context managers/fixtures that detach them.
    yield


@pytest.fixture
def aws() -> Iterator[None]:
    # moto answers every client's requests while active (its hook is on all clients), and the
    # credentials are fake, so clients built before the mock started are safe to reuse.
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    client = clients.s3()  # the handler's own client: building a second S3 client costs ~0.1 s
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def images(s3: Any) -> dict[str, bytes]:
    """Objects in BUCKET by key: valid images, a too-small one, a non-image and an empty object."""
    objects = {
        "group.png": png_bytes(100, 100),
        "portrait.jpg": jpeg_bytes(640, 480),
        "tiny.png": png_bytes(40, 40),
        "tiny.jpg": jpeg_bytes(40, 40),
        "notes.txt": b"just some text, not an image\n",
        "empty.jpg": b"",
        "deep-sof.jpg": jpeg_bytes(40, 40, exif_padding=70_000),
    }
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return objects


@pytest.fixture
def versioned(s3: Any) -> Any:
    """BUCKET with versioning on, as the stack creates it; the S3 client."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The results table with the contract's keys and index, and RESULTS_TABLE_NAME pointing at it."""
    create_results_table(clients.dynamodb())
    monkeypatch.setenv(ENV_RESULTS_TABLE, TABLE)
    return _resource().Table(TABLE)


@pytest.fixture
def fresh_clients() -> Iterator[None]:
    """For tests about client creation itself, or that build clients with unusual settings."""
    clients.reset_clients(keep_session=True)
    yield
    clients.reset_clients(keep_session=True)


@functools.cache
def _resource() -> Any:
    return boto3.resource("dynamodb")


@pytest.fixture
def fake_http() -> Iterator[Callable[[Any], FakeHttp]]:
    """Attach a FakeHttp to a client for one test."""
    attached: list[FakeHttp] = []

    def attach(client: Any) -> FakeHttp:
        attached.append(FakeHttp(client))
        return attached[-1]

    yield attach
    for fake in attached:
        fake.detach()


@pytest.fixture
def s3_answers(aws: None) -> Iterator[AwsAnswers]:
    """Chosen answers for the handler's S3 client; every other call reaches moto."""
    with AwsAnswers(clients.s3()) as answers:
        yield answers


@pytest.fixture
def dynamodb_answers(aws: None) -> Iterator[AwsAnswers]:
    """Chosen answers for the handler's DynamoDB client; every other call reaches moto."""
    with AwsAnswers(clients.dynamodb()) as answers:
        yield answers


@pytest.fixture
def rekognition(aws: None) -> Iterator[Stubber]:
    """A Stubber on the exact client the handler will use; nothing queued means "must not be called"."""
    stubber = Stubber(clients.rekognition(load_settings()))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry backoff, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", delays.append)
    # Adaptive mode also waits on its client-side token bucket after a throttle; skip that wait.
    monkeypatch.setattr(
        "botocore.retries.bucket.TokenBucket.acquire", lambda self, amount=1, block=True: True
    )
    return delays
