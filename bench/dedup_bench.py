"""Content deduplication: Rekognition calls per 1,000 uploads, and what a content digest costs.

    .venv/bin/python -m bench --only dedup

1. Calls: the real handler, in-process, drains SQS batches of S3's EventBridge upload events against
   moto S3 (versioned, as the stack's bucket) and moto DynamoDB (the contract's table), with
   RecognizeCelebrities answered and counted at botocore's `before-call`. 1,000 uploads with 0%,
   30% and 90% duplicate content; the copies land under new keys and, one in five, as new versions
   of a key that already holds the same bytes; the uploads take turns between a SHA-256 checksum
   (as `celeb` uploads), botocore's default CRC32 and a CRC32 image larger than the probe's 64 KB
   (the three ways the digest is had). Target: one call per distinct content. The same 90% run
   with `dedup=false` shows what deduplication saves.
2. Digest cost, worst case: a 15 MB image without a SHA-256 checksum is read again in full and
   hashed. Timed here (SHA-256 alone, and the extra GET plus hashing on in-process moto, which
   has no network), and priced with the README's cost formula parameters against one
   RecognizeCelebrities call.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.measure import ROOT, Row

UPLOADS = 1000
DUPLICATE_SHARES = (0.0, 0.3, 0.9)
BATCH = 10  # SQS messages per invocation (the stack's batch_size)
P_IMAGE = 0.001  # USD per RecognizeCelebrities image (first 1M images a month, us-east-1)
P_GET = 0.0004 / 1000  # USD per S3 GET request
P_GB_SECOND = 0.0000133334  # USD, Lambda arm64
MEMORY_GB = 256 / 1024  # the stack's default memory_size
S3_MB_PER_SECOND = 100  # assumed in-region read throughput of one GET (moto has no network)
BIG = 15 * 1024 * 1024
LAMBDA_DIR = ROOT / "lambda"

_BUCKET = "dedup-bench"
_TABLE = "dedup-bench-results"
_FACE = {"BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1}, "Confidence": 99.9}
_CELEBRITIES = {
    "CelebrityFaces": [
        {"Name": "Jeff Bezos", "Id": "1SK7cR8M", "Urls": [], "MatchConfidence": 99.5, "Face": _FACE,
         "KnownGender": {"Type": "Male"}},
    ],
    "UnrecognizedFaces": [],
}  # fmt: skip


@contextmanager
def _moto_function(dedup: bool) -> Iterator[Any]:
    """moto S3 and DynamoDB in this process, and the handler with its clients built against them."""
    from moto import mock_aws

    if str(LAMBDA_DIR) not in sys.path:  # handler.py sits beside the installed recognizer package
        sys.path.insert(0, str(LAMBDA_DIR))

    from tests.handler.moto_transactions import install

    install()  # moto copies the whole table for every transaction otherwise: minutes per run
    saved = dict(os.environ)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "RESULTS_TABLE_NAME": _TABLE, "DEDUP": str(dedup).lower(),
        "AWS_LAMBDA_LOG_LEVEL": "ERROR",
    })  # fmt: skip
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]:
        os.environ.pop(name, None)
    try:
        with mock_aws():
            import handler

            from recognizer import clients
            from tests.handler.recognizer_testkit import create_results_table

            clients.reset_clients()
            clients.s3().create_bucket(Bucket=_BUCKET)
            clients.s3().put_bucket_versioning(Bucket=_BUCKET, VersioningConfiguration={"Status": "Enabled"})
            create_results_table(clients.dynamodb(), _TABLE)
            yield handler
    finally:
        from recognizer import clients

        clients.reset_clients()
        os.environ.clear()
        os.environ.update(saved)


def _contents(count: int) -> list[bytes]:
    """``count`` distinct images; every third one past the probe's 64 KB."""
    from tests.handler.recognizer_testkit import png_bytes

    base = png_bytes(100, 100)
    # Bytes after a PNG's IEND are ignored by decoders: distinct content, same valid image.
    return [base + i.to_bytes(4, "big") * (20_000 if i % 3 == 2 else 1) for i in range(count)]


def _uploads(duplicate_share: float, seed: int = 16) -> list[tuple[str, int]]:
    """(key, content index) per upload, shuffled; copies under new keys or as new versions."""
    rng = random.Random(seed)
    distinct = round(UPLOADS * (1 - duplicate_share))
    uploads = [(f"photos/{i:04}.png", i) for i in range(distinct)]
    for n in range(UPLOADS - distinct):
        original = rng.randrange(distinct)
        key = f"photos/{original:04}.png" if n % 5 == 0 else f"copies/{n:04}.png"
        uploads.append((key, original))
    rng.shuffle(uploads)
    return uploads


def count_calls(duplicate_share: float, dedup: bool = True) -> dict[str, Any]:
    from recognizer import clients
    from recognizer.contract import is_summary_item
    from recognizer.settings import load_settings
    from tests.handler.recognizer_testkit import eventbridge_event, sqs_event

    uploads = _uploads(duplicate_share)
    contents = _contents(len({content for _, content in uploads}))
    with _moto_function(dedup) as handler:
        calls: list[str] = []

        def recognize(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
            from botocore.awsrequest import AWSResponse

            calls.append(json.loads(params["body"])["Image"]["S3Object"]["Name"])  # the serialized request
            return AWSResponse(None, 200, {}, None), {
                **_CELEBRITIES,
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }

        clients.rekognition(load_settings()).meta.events.register(
            "before-call.rekognition.RecognizeCelebrities", recognize
        )
        events = []
        for turn, (key, content) in enumerate(uploads):
            # celeb's SHA-256 checksum, or botocore's default (CRC32): the two ways S3 stores one.
            extra = {"ChecksumAlgorithm": "SHA256"} if turn % 3 == 0 else {}
            version = clients.s3().put_object(Bucket=_BUCKET, Key=key, Body=contents[content], **extra)[
                "VersionId"
            ]
            events.append(eventbridge_event(key, bucket=_BUCKET, version_id=version))
        started = time.perf_counter()
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            messages = [(f"m-{start + i}", json.dumps(event)) for i, event in enumerate(batch)]
            answer = handler.lambda_handler(sqs_event(*messages), None)
            assert answer == {"batchItemFailures": []}, answer
        elapsed = time.perf_counter() - started
        items = clients.dynamodb().get_paginator("scan").paginate(TableName=_TABLE)
        summaries = sum(1 for page in items for item in page["Items"] if is_summary_item(item))
    assert summaries == UPLOADS, f"{summaries} results for {UPLOADS} uploads"
    return {"share": duplicate_share, "dedup": dedup, "distinct": len(contents), "calls": len(calls),
            "seconds": elapsed}  # fmt: skip


def digest_seconds(runs: int) -> dict[str, float]:
    """Median seconds: SHA-256 of 15 MB streamed in 1 MiB chunks; the extra GET plus hashing on moto."""
    from recognizer import clients
    from recognizer.content_hash import CHUNK_BYTES, content_sha256
    from recognizer.contract import ImageRef
    from recognizer.probe import read_head

    data = bytes(random.Random(15).getrandbits(8) for _ in range(1024)) * (BIG // 1024)

    def sha256_only() -> None:
        digest, stream = hashlib.sha256(), io.BytesIO(data)
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)

    timings: dict[str, list[float]] = {"sha256": [], "get_and_hash": [], "stored_checksum": []}
    with _moto_function(True):
        s3 = clients.s3()
        refs = {}
        for name, extra in (("plain", {}), ("sha256", {"ChecksumAlgorithm": "SHA256"})):
            version = s3.put_object(Bucket=_BUCKET, Key=f"{name}.png", Body=data, **extra)["VersionId"]
            refs[name] = ImageRef(_BUCKET, f"{name}.png", version)
        heads = {name: read_head(s3, ref) for name, ref in refs.items()}
        for _ in range(runs):
            for name, run in (
                ("sha256", sha256_only),
                ("get_and_hash", lambda: content_sha256(s3, refs["plain"], heads["plain"])),
                ("stored_checksum", lambda: content_sha256(s3, refs["sha256"], heads["sha256"])),
            ):
                started = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def run(runs: int) -> list[Row]:
    rows = []
    for share in DUPLICATE_SHARES:
        result = count_calls(share)
        rows.append(Row(
            f"Rekognition calls per 1,000 uploads, {share:.0%} duplicate content",
            f"{result['calls']} (${result['calls'] * P_IMAGE:.2f} per 1,000 images)",
            f"{result['distinct']} distinct contents", f"{result['calls'] / result['distinct']:.2f}x",
            "= distinct contents", result["calls"] == result["distinct"],
        ))  # fmt: skip
    off = count_calls(DUPLICATE_SHARES[-1], dedup=False)
    rows.append(Row(
        f"Rekognition calls per 1,000 uploads, {off['share']:.0%} duplicates, `dedup=false`",
        f"{off['calls']} (${off['calls'] * P_IMAGE:.2f} per 1,000 images)",
        f"{off['distinct']} distinct contents", f"{off['calls'] / off['distinct']:.2f}x", "-", None,
    ))  # fmt: skip

    seconds = digest_seconds(max(runs, 3))
    transfer = BIG / (S3_MB_PER_SECOND * 1e6)
    cost = P_GET + (seconds["sha256"] + transfer) * MEMORY_GB * P_GB_SECOND
    rows += [
        Row("SHA-256 of a 15 MB image (streamed, 1 MiB reads)", f"{seconds['sha256'] * 1000:.1f} ms",
            "-", "-", "-", None),
        Row("content digest of a 15 MB image without SHA-256 checksum (extra GET + hash, moto)",
            f"{seconds['get_and_hash'] * 1000:.1f} ms", "-", "-", "-", None),
        Row("content digest of a 15 MB image with S3's SHA-256 (extra GET, body unread, moto)",
            f"{seconds['stored_checksum'] * 1000:.1f} ms", "-", "-", "-", None),
        Row(f"cost of that digest in AWS (GET + Lambda time incl. {S3_MB_PER_SECOND} MB/s transfer)",
            f"${cost:.7f}", f"${P_IMAGE} (one RecognizeCelebrities call)", f"{cost / P_IMAGE:.2%}", "-",
            None),
    ]  # fmt: skip
    return rows
