"""A moto server and a Rekognition stub on 127.0.0.1 for the whole session, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.moto_stack import moto_server
from tests.integration.rekognition_stub import RekognitionStub


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def rekognition() -> Iterator[RekognitionStub]:
    with RekognitionStub() as stub:
        yield stub
