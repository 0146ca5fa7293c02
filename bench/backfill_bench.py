"""The cloud backfill's enqueue rate on moto: 10,000 objects through the synthesized state machine.

    .venv/bin/python -m bench --only backfill

The state machine of the synthesized template runs in moto's Step Functions interpreter, in this
process, with the emulator's gaps filled as tests/infra/backfill_moto.py describes (batches of the
stack's 100 objects, every listing page read, the ResultWriter's report written). Two buckets of
10,000 objects each:

- 10,000 images without a result: each is HEADed, looked up in the results table and sent to the
  queue (SendMessageBatch, ten at a time). Objects a second = messages a second: the enqueue rate.
- 10,000 non-images: the same listing, batching and per-object Choice, no call to any service: the
  floor of moto's interpreter, measured in the same run.

moto runs every state of every child workflow as Python in one process, with a thread per state and
a copy of the state's data at each step, so the figures measure moto far more than the definition.
On AWS the rate is set by `backfill_max_concurrency` child workflows and S3's HEAD rate; see the
README's Backfill section for the plan of a 10-million-image archive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.measure import Row
from tests.infra.backfill_moto import MotoStack, moto_backfill

OBJECTS = 10_000


@contextmanager
def _cheap_queue_counts() -> Iterator[None]:
    """moto recounts every message of a queue three times on each SendMessage (for attributes the
    send does not use): quadratic in the queue's depth. The runs count the queue by receiving it."""
    from moto.sqs.models import Queue

    names = ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
             "approximate_number_of_messages_not_visible")  # fmt: skip
    saved = {name: Queue.__dict__[name] for name in names}
    for name in names:
        setattr(Queue, name, property(lambda self: 0))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(Queue, name, value)


def _template() -> dict[str, Any]:
    from stacks.app import create_app

    return create_app({"aws:cdk:bundling-stacks": []}).synth().stacks[0].template


def _rate(stack: MotoStack, prefix: str, suffix: str) -> tuple[float, int]:
    for number in range(OBJECTS):
        stack.put(f"{prefix}{number // 1000}/object-{number}{suffix}")
    started = time.perf_counter()
    run = stack.run(prefix, drain=False)
    elapsed = time.perf_counter() - started
    assert run.described["status"] == "SUCCEEDED", run.described
    sent = len(stack.drain())
    assert sum(run.counts.values()) == OBJECTS, run.counts
    return OBJECTS / elapsed, sent


def run() -> list[Row]:
    template = _template()
    with moto_backfill() as emulator, _cheap_queue_counts():
        stack = MotoStack.create(emulator)
        stack.machine_arn = stack.state_machine(template, "backfill")
        images, sent = _rate(stack, "images/", ".jpg")
        assert sent == OBJECTS, f"{sent} messages for {OBJECTS} images without a result"
        floor, nothing = _rate(stack, "other/", ".txt")
        assert nothing == 0
    return [
        Row(f"cloud backfill enqueue rate on moto, {OBJECTS:,} images without a result (1 run)",
            f"{images:.0f} images/s", f"{floor:.0f} objects/s ({OBJECTS:,} non-images, no AWS call)",
            f"{images / floor:.2f}x", "-", None),
    ]  # fmt: skip
