"""Throughput of the bundled handler draining SQS batches on a local moto server: 1, 2 and 4 processes.

    .venv/bin/python -m bench --only throughput

Each process plays one concurrent Lambda invocation (the event source mapping's max_concurrency).
Everything runs on this machine: moto serves S3, EventBridge, SQS and DynamoDB from one Python
process, and a local stub answers Rekognition instantly, so the figures measure the function's own
overhead plus moto's, not AWS latency (see the README for real-world throughput).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.measure import Row
from recognizer.contract import is_summary_item
from tests.integration.moto_stack import moto_server, provision, start_drainers, unique_png, wait_for
from tests.integration.rekognition_stub import RekognitionStub

PROCESSES = (1, 2, 4)


def _one_run(
    moto_url: str, stub: RekognitionStub, template: dict, asset: Path, images: int, processes: int
) -> float:
    pipeline = provision(moto_url, stub.url, template, visibility_timeout=60)
    for i in range(images):  # each upload reaches the queue through moto's EventBridge
        # Distinct bytes: identical ones would be answered from the table (dedup), not analyzed.
        pipeline.upload(f"bench/{i}.png", unique_png(i))
    stats = wait_for(start_drainers(pipeline, asset, processes=processes, batch_size=10))
    # Messages may be received more than once (at-least-once); every image must have its result.
    summaries = [item for item in pipeline.items() if is_summary_item(item)]
    assert len(summaries) == images, f"{len(summaries)} results for {images} images"
    busy = max(s["last"] for s in stats) - min(s["first"] for s in stats)
    return images / busy


def run(runs: int, asset: Path, template_path: Path, images: int = 200) -> tuple[list[Row], dict[int, float]]:
    template = json.loads(template_path.read_text())
    rates: dict[int, float] = {}
    with moto_server() as moto_url, RekognitionStub() as stub:
        for processes in PROCESSES:
            rates[processes] = statistics.median(
                _one_run(moto_url, stub, template, asset, images, processes) for _ in range(runs)
            )
    rows = [
        Row(f"SQS drain on moto, {p} process{'es' if p > 1 else ''}", f"{rates[p]:.0f} images/s",
            f"{rates[1]:.0f} images/s (1 process)", f"{rates[p] / rates[1]:.2f}x", "-", None)
        for p in PROCESSES
    ]  # fmt: skip
    return rows, rates
