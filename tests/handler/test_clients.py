"""Clients are built once per container with the configured retry policy."""

from __future__ import annotations

from typing import Any

import handler
from botocore.stub import Stubber

from recognizer import clients
from recognizer.settings import Settings
from tests.handler.recognizer_testkit import BUCKET, celebrities_response, expect_recognition


def test_clients_are_cached_and_reset(fresh_clients: None) -> None:
    s3 = clients.s3()
    assert clients.s3() is s3
    assert clients.dynamodb() is clients.dynamodb()
    assert clients.rekognition(Settings()) is clients.rekognition(Settings(min_confidence=50))
    clients.reset_clients(keep_session=True)
    assert clients.s3() is not s3


def test_rekognition_retry_policy_follows_the_settings() -> None:
    standard = clients.rekognition(Settings())
    adaptive = clients.rekognition(Settings(rekognition_retry_mode="adaptive", rekognition_max_attempts=7))
    assert standard.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert adaptive.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    assert clients.s3().meta.config.retries["mode"] == "standard"
    assert clients.dynamodb().meta.config.retries["mode"] == "standard"


def test_invocations_reuse_the_same_clients(images: dict[str, bytes], rekognition: Stubber) -> None:
    event = {"bucket": BUCKET, "object_name": "group.png"}
    expect_recognition(rekognition, "group.png", celebrities_response())
    handler.lambda_handler(event, None)
    built: dict[Any, Any] = dict(clients._clients)
    expect_recognition(rekognition, "group.png", celebrities_response())
    handler.lambda_handler(event, None)
    assert clients._clients == built and all(clients._clients[k] is v for k, v in built.items())
