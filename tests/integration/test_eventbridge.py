"""Uploads to moto S3 reach the queue through moto's EventBridge and the template's rule, and the
bundled function analyzes them: which keys the rule selects, and that each is analyzed under its
real key (S3 URL-encodes keys in its events)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.moto_stack import (
    Pipeline,
    encoded_key,
    provision,
    start_drainers,
    unique_png,
    wait_for,
)
from tests.integration.rekognition_stub import RekognitionStub

pytestmark = pytest.mark.integration

_uploads = itertools.count()
# Nothing here is handed back for retry: a long visibility timeout only rules out a message coming
# back while a slow machine is still analyzing it.
VISIBILITY = 60


@pytest.fixture(scope="module")
def template(bundled_assembly: Path) -> dict[str, Any]:
    return json.loads(next(bundled_assembly.glob("*.template.json")).read_text())


def _analyze(pipeline: Pipeline, asset: Path) -> dict[str, list[dict[str, Any]]]:
    """Drains the queue with the bundled function; every summary item per key."""
    wait_for(start_drainers(pipeline, asset, processes=1, batch_size=10))
    summaries = pipeline.summaries()
    assert pipeline.queue_depth(pipeline.queue_url) == 0
    assert pipeline.queue_depth(pipeline.dead_letter_queue_url) == 0
    assert pipeline.queue_depth(pipeline.delivery_dead_letter_queue_url) == 0
    return summaries


def _upload(pipeline: Pipeline, keys: list[str]) -> dict[str, str]:
    return {key: pipeline.upload(key, unique_png(next(_uploads))) for key in keys}


def test_image_suffixes_in_any_case_are_analyzed_and_nothing_else(
    moto_url: str, rekognition: RekognitionStub, template: dict[str, Any], bundled_function_dir: Path
) -> None:
    pipeline = provision(moto_url, rekognition.url, template, visibility_timeout=VISIBILITY)
    images = _upload(pipeline, ["case/photo.Jpg", "case/A.PNG", "case/b.JpEg", "case/c.jpeg"])
    # Image bytes under other names: the rule, not the function, leaves them alone.
    _upload(pipeline, ["case/notes.txt", "case/photo.jpg.txt", "case/png", "case/x.gif"])
    assert pipeline.queue_depth(pipeline.queue_url) == len(images)

    summaries = _analyze(pipeline, bundled_function_dir)
    assert sorted(summaries) == sorted(images)
    for key, version in images.items():
        [item] = summaries[key]
        assert (item["status"]["S"], item["version_id"]["S"]) == ("SUCCEEDED", version)


def test_keys_with_spaces_plus_percent_and_non_ascii_are_analyzed_under_their_real_key(
    moto_url: str, rekognition: RekognitionStub, template: dict[str, Any], bundled_function_dir: Path
) -> None:
    pipeline = provision(moto_url, rekognition.url, template, visibility_timeout=VISIBILITY)
    keys = [
        "keys/red flower.jpg",
        "keys/a+b.jpg",
        "keys/100% real.png",
        "keys/x %2B y.jpeg",
        "keys/café/Zoë 😀.PNG",
    ]
    images = _upload(pipeline, keys)
    # They travel URL-encoded, as S3 sends them: the function must decode them, and only once.
    queued = [json.loads(body)["detail"]["object"]["key"] for body in pipeline.take_bodies(len(keys))]
    assert sorted(queued) == sorted(encoded_key(key) for key in keys)
    assert "keys/a%2Bb.jpg" in queued and "keys/x+%252B+y.jpeg" in queued

    summaries = _analyze(pipeline, bundled_function_dir)
    assert sorted(summaries) == sorted(keys)
    assert all(summaries[key][0]["status"]["S"] == "SUCCEEDED" for key in keys)
    asked = {(request["Name"], request.get("Version")) for request in rekognition.requests}
    assert set(images.items()) <= asked, "Rekognition was asked for the real key and version"


def test_only_uploads_under_the_prefix_are_analyzed(
    moto_url: str,
    rekognition: RekognitionStub,
    synth_template: Any,
    template: dict[str, Any],
    bundled_function_dir: Path,
) -> None:
    prefixed = synth_template(upload_prefix="incoming/")
    # The bundled function reads no prefix: the same asset serves the prefixed template.
    assert prefixed["Resources"].keys() == template["Resources"].keys()
    pipeline = provision(moto_url, rekognition.url, prefixed, visibility_timeout=VISIBILITY)
    images = _upload(pipeline, ["incoming/a.JPG", "incoming/deep/b b.png"])
    _upload(pipeline, ["elsewhere/c.jpg", "incoming-not/d.jpg", "Incoming/e.png", "incoming/f.txt", "g.png"])

    assert sorted(_analyze(pipeline, bundled_function_dir)) == sorted(images)


def test_events_delivered_again_are_answered_from_the_table(
    moto_url: str, rekognition: RekognitionStub, template: dict[str, Any], bundled_function_dir: Path
) -> None:
    """What a replay from the archive, or EventBridge's at-least-once delivery, sends a second time."""
    pipeline = provision(moto_url, rekognition.url, template, visibility_timeout=VISIBILITY)
    keys = ["again/one.jpg", "again/two two.png", "again/three+3.jpeg"]
    _upload(pipeline, keys)
    delivered = pipeline.take_bodies(len(keys))
    first = _analyze(pipeline, bundled_function_dir)
    calls = {key: rekognition.calls[key] for key in keys}
    assert all(count >= 1 for count in calls.values())

    # A replay marks the events with its name; nothing else changes.
    pipeline.send([json.dumps({**json.loads(body), "replay-name": "outage"}) for body in delivered])
    second = _analyze(pipeline, bundled_function_dir)
    assert {key: rekognition.calls[key] for key in keys} == calls, "no second Rekognition call"
    assert sorted(second) == sorted(first) == sorted(keys)
    assert all(len(second[key]) == 1 for key in keys), "no second result"
    assert {key: second[key][0]["analyzed_at"] for key in keys} == {
        key: first[key][0]["analyzed_at"] for key in keys
    }
