"""A burst of uploads through a real (moto) SQS queue, drained in batches by the bundled function.

Some uploads fail permanently, some are throttled once (botocore's retry absorbs it), some are
throttled past every retry (the queue redelivers them), some notifications arrive twice, and S3's
test event is in the mix. Every image must end with exactly one result or one recorded failure.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.handler.recognizer_testkit import jpeg_bytes, png_bytes
from tests.integration.pipeline_harness import Pipeline, provision, start_drainers, wait_for
from tests.integration.rekognition_stub import RekognitionStub

pytestmark = pytest.mark.integration

GOOD, NO_FACE, THROTTLED_ONCE, THROTTLED_HARD = 440, 20, 20, 5
NOT_AN_IMAGE, TOO_SMALL, MISSING = 10, 10, 5
DUPLICATES = 30


def build_burst(pipeline: Pipeline) -> tuple[dict[str, str], list[str]]:
    """Uploads the images; returns {key: expected status} and the notification bodies to send."""
    image = png_bytes(100, 100)
    uploads: list[tuple[str, bytes | None, str]] = [
        *((f"burst/good {i}.png", image, "SUCCEEDED") for i in range(GOOD)),
        *((f"burst/noface-{i}.png", image, "SUCCEEDED") for i in range(NO_FACE)),
        *((f"burst/throttle-once-{i}.png", image, "SUCCEEDED") for i in range(THROTTLED_ONCE)),
        *((f"burst/throttle-hard-{i}.png", image, "SUCCEEDED") for i in range(THROTTLED_HARD)),
        *((f"burst/text-{i}.jpg", b"not a picture", "FAILED") for i in range(NOT_AN_IMAGE)),
        *((f"burst/small-{i}.jpg", jpeg_bytes(50, 50), "FAILED") for i in range(TOO_SMALL)),
        *((f"burst/missing-{i}.jpg", None, "FAILED") for i in range(MISSING)),
    ]

    def upload(key: str, body: bytes | None) -> str:
        version = pipeline.upload(key, body) if body is not None else None
        return pipeline.notification(key, version)

    with ThreadPoolExecutor(max_workers=8) as pool:  # boto3 clients are thread-safe
        bodies = list(pool.map(upload, [key for key, _, _ in uploads], [body for _, body, _ in uploads]))
    bodies += bodies[:DUPLICATES]  # at-least-once delivery
    bodies.append(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": pipeline.bucket}))
    return {key: status for key, _, status in uploads}, bodies


def test_burst_ends_with_one_result_per_image(
    moto_url: str, rekognition: RekognitionStub, bundled_assembly: Path, bundled_function_dir: Path
) -> None:
    template = json.loads(next(bundled_assembly.glob("*.template.json")).read_text())
    # A batch of 10 takes about half a second here, well inside 4 s; messages handed back for
    # retry come back after it (the drainers wait that long before they stop).
    pipeline = provision(moto_url, rekognition.url, template, visibility_timeout=4)
    expected, bodies = build_burst(pipeline)
    assert len(expected) >= 500

    pipeline.send(bodies)
    started = time.monotonic()
    stats = wait_for(start_drainers(pipeline, bundled_function_dir, processes=2, batch_size=10))
    elapsed = time.monotonic() - started

    summaries: dict[str, list[dict[str, Any]]] = {}
    celebrity_items = 0
    for item in pipeline.items():
        key = item["pk"]["S"].removeprefix(f"IMAGE#{pipeline.bucket}/")
        if "#CELEBRITY#" in item["sk"]["S"]:
            celebrity_items += 1
        else:
            summaries.setdefault(key, []).append(item)

    assert set(summaries) == set(expected), "an image has no result, or a result belongs to no image"
    doubled = {k: len(v) for k, v in summaries.items() if len(v) != 1}
    assert doubled == {}, "duplicate deliveries created second results"
    assert {k: v[0]["status"]["S"] for k, v in summaries.items()} == expected
    recognized = GOOD + THROTTLED_ONCE + THROTTLED_HARD
    assert celebrity_items == 2 * recognized
    assert pipeline.queue_depth(pipeline.queue_url) == 0
    assert pipeline.queue_depth(pipeline.dead_letter_queue_url) == 0, "retryable failures must not be lost"

    # Only the hard-throttled images came back in batchItemFailures, each until it succeeded.
    returned = sum(s["returned"] for s in stats)
    max_attempts = int(pipeline.function_environment()["REKOGNITION_MAX_ATTEMPTS"])
    # Receives in which every one of the function's attempts was throttled.
    lost_receives = -(-rekognition.hard_throttles // max_attempts)
    assert returned == THROTTLED_HARD * lost_receives
    assert all(rekognition.calls[f"burst/throttle-once-{i}.png"] == 2 for i in range(THROTTLED_ONCE))
    assert all(rekognition.calls[f"burst/text-{i}.jpg"] == 0 for i in range(NOT_AN_IMAGE))

    processed = sum(s["messages"] for s in stats)
    busy = max(s["last"] for s in stats) - min(s["first"] for s in stats)
    print(
        f"\nburst: {len(expected)} images, {len(bodies)} messages, {processed} received, "
        f"{returned} returned for retry, {elapsed:.1f} s wall, {len(expected) / busy:.0f} images/s while busy"
    )
