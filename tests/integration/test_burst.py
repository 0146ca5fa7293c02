"""A burst of uploads to moto S3, through moto's EventBridge and the template's rule into a real
(moto) SQS queue, drained in batches by the bundled function.

Some uploads fail permanently, some are throttled once (botocore's retry absorbs it), some are
throttled past every retry (the queue redelivers them), some events arrive twice, some uploads
also arrive as S3 notifications (the shape that a stack moved to EventBridge still has queued, and
S3's test event), and some objects are deleted before their event is read. Every image must end
with exactly one result or one recorded failure.
"""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.handler.recognizer_testkit import jpeg_bytes
from tests.integration.moto_stack import Pipeline, provision, start_drainers, unique_png, wait_for
from tests.integration.rekognition_stub import RekognitionStub

pytestmark = pytest.mark.integration

GOOD, NO_FACE, THROTTLED_ONCE, THROTTLED_HARD = 440, 20, 20, 5
NOT_AN_IMAGE, TOO_SMALL, MISSING = 10, 10, 5
DUPLICATES, OLD_NOTIFICATIONS = 30, 15


def _uploads() -> list[tuple[str, bytes, str]]:
    """(key, body, expected status) of every upload."""
    # Distinct bytes: the function reuses the analysis of identical bytes under another key,
    # which would spare the Rekognition calls counted below.
    image = (unique_png(n) for n in itertools.count())
    return [
        *((f"burst/good {i}.png", next(image), "SUCCEEDED") for i in range(GOOD)),
        *((f"burst/noface-{i}.PNG", next(image), "SUCCEEDED") for i in range(NO_FACE)),
        *((f"burst/throttle-once-{i}.png", next(image), "SUCCEEDED") for i in range(THROTTLED_ONCE)),
        *((f"burst/throttle-hard-{i}.png", next(image), "SUCCEEDED") for i in range(THROTTLED_HARD)),
        *((f"burst/text-{i}.jpg", b"not a picture", "FAILED") for i in range(NOT_AN_IMAGE)),
        *((f"burst/small-{i}.Jpg", jpeg_bytes(50, 50), "FAILED") for i in range(TOO_SMALL)),
        *((f"burst/missing-{i}.jpg", next(image), "FAILED") for i in range(MISSING)),
    ]


def _upload_all(pipeline: Pipeline, uploads: list[tuple[str, bytes, str]]) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=8) as pool:  # boto3 clients are thread-safe
        versions = pool.map(pipeline.upload, [key for key, _, _ in uploads], [body for _, body, _ in uploads])
    return dict(zip([key for key, _, _ in uploads], versions, strict=True))


def test_burst_ends_with_one_result_per_image(
    moto_url: str,
    rekognition: RekognitionStub,
    bundled_assembly: Path,
    bundled_function_dir: Path,
    tmp_path: Path,
) -> None:
    template = json.loads(next(bundled_assembly.glob("*.template.json")).read_text())
    # A batch of 10 takes under a second here, and a few on a busy 2-core machine: well inside 12 s,
    # so no message comes back while it is being analyzed. Messages handed back for retry come back
    # after 12 s, which is the shortest this test can take.
    pipeline = provision(moto_url, rekognition.url, template, visibility_timeout=12)
    uploads = _uploads()
    expected = {key: status for key, _, status in uploads}
    assert len(expected) >= 500

    # Before any drainer runs: uploads whose events must be queued before they are read.
    twice = [u for u in uploads if u[0].startswith("burst/missing-")] + uploads[:DUPLICATES]
    version_of = _upload_all(pipeline, twice)
    assert pipeline.queue_depth(pipeline.queue_url) == len(twice), "one event per upload"
    missing = [key for key in version_of if key.startswith("burst/missing-")]
    for key in missing:  # deleted for good before anyone reads its event
        pipeline.client("s3").delete_object(Bucket=pipeline.bucket, Key=key, VersionId=version_of[key])
    delivered_twice = pipeline.take_bodies(len(twice))
    # Read first, so that their retries come back while the rest is being analyzed.
    hard = [u for u in uploads if u[0].startswith("burst/throttle-hard-")]
    version_of |= _upload_all(pipeline, hard)
    early = twice + hard

    # The rest arrives while the function drains the queue, as uploads do; moto's SQS scans the
    # whole queue on every call, so a queue kept short keeps the test fast too.
    uploads_done = tmp_path / "uploads-done"
    started = time.monotonic()
    drainers = start_drainers(pipeline, bundled_function_dir, processes=2, batch_size=10, until=uploads_done)
    version_of |= _upload_all(pipeline, [u for u in uploads if u not in early])
    # Late repeats of uploads read long ago, which the table answers: EventBridge delivering some
    # uploads a second time (at-least-once), and the same uploads in the S3 notification
    # shape, which a stack moved to EventBridge may still hold in its queues, with S3's test event.
    pipeline.send(delivered_twice)
    old = [key for key, _, _ in uploads if key.startswith("burst/good ")][
        DUPLICATES : DUPLICATES + OLD_NOTIFICATIONS
    ]
    pipeline.send([pipeline.notification(key, version_of[key]) for key in old + missing])
    pipeline.send([json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": pipeline.bucket})])
    uploads_done.touch()
    stats = wait_for(drainers)
    elapsed = time.monotonic() - started

    # One scan of the table for both checks: moto takes seconds for each scan of a burst's items.
    items = pipeline.items()
    summaries = pipeline.summaries(items)

    assert set(summaries) == set(expected), "an image has no result, or a result belongs to no image"
    doubled = {k: len(v) for k, v in summaries.items() if len(v) != 1}
    assert doubled == {}, "duplicate deliveries created second results"
    assert {k: v[0]["status"]["S"] for k, v in summaries.items()} == expected
    assert {summaries[key][0]["error_type"]["S"] for key in missing} == {"ImageNotFoundError"}
    recognized = GOOD + THROTTLED_ONCE + THROTTLED_HARD
    assert len(pipeline.celebrity_items(items)) == 2 * recognized
    assert pipeline.queue_depth(pipeline.queue_url) == 0
    assert pipeline.queue_depth(pipeline.dead_letter_queue_url) == 0, "retryable failures must not be lost"
    assert pipeline.queue_depth(pipeline.delivery_dead_letter_queue_url) == 0

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
        f"\nburst: {len(expected)} images, {processed} messages received, "
        f"{returned} returned for retry, {elapsed:.1f} s wall, {len(expected) / busy:.0f} images/s while busy"
    )
