"""The bundled asset folder from synthesis, run in a fresh interpreter against moto and the stub.

Proves the package holds everything it imports and works with exactly the environment the
template gives it: the case study's payload, S3 events with encoded keys, storage, named errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.handler.recognizer_testkit import jpeg_bytes, png_bytes
from tests.integration.moto_stack import Pipeline, invoke, provision
from tests.integration.rekognition_stub import RekognitionStub

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def template(bundled_assembly: Path) -> dict[str, Any]:
    return json.loads(next(bundled_assembly.glob("*.template.json")).read_text())


@pytest.fixture(scope="module")
def pipeline(moto_url: str, rekognition: RekognitionStub, template: dict[str, Any]) -> Pipeline:
    return provision(moto_url, rekognition.url, template)


def test_case_study_payload_returns_every_celebrity(pipeline: Pipeline, bundled_function_dir: Path) -> None:
    version = pipeline.upload("bezos_demo_image.jpg", png_bytes(200, 200))
    [answer] = invoke(
        pipeline, bundled_function_dir, [{"bucket": pipeline.bucket, "object_name": "bezos_demo_image.jpg"}]
    )
    result = answer["result"]
    assert (result["bucket"], result["key"], result["version_id"]) == (
        pipeline.bucket,
        "bezos_demo_image.jpg",
        version,
    )
    assert [(c["name"], c["confidence"]) for c in result["celebrities"]] == [
        ("Jeff Bezos", 99.5),
        ("Andy Jassy", 97.25),
    ]
    assert result["unrecognized_faces"] == 1
    assert result["celebrities"][0]["bounding_box"] == {"width": 0.2, "height": 0.3, "left": 0.1, "top": 0.1}

    items = [i for i in pipeline.items() if i["pk"]["S"] == f"IMAGE#{pipeline.bucket}/bezos_demo_image.jpg"]
    assert sorted(i["sk"]["S"] for i in items) == [
        f"VERSION#{version}",
        f"VERSION#{version}#CELEBRITY#1SK7cR8M",
        f"VERSION#{version}#CELEBRITY#3Ir0du6",
    ]
    by_celebrity = pipeline.client("dynamodb").query(
        TableName=pipeline.table, IndexName="by-celebrity",
        KeyConditionExpression="celebrity_name = :n", ExpressionAttributeValues={":n": {"S": "Andy Jassy"}},
    )["Items"]  # fmt: skip
    assert [i["image_ref"]["S"] for i in by_celebrity] == [
        f"{pipeline.bucket}/bezos_demo_image.jpg#{version}"
    ]


def test_no_face_is_an_empty_list(pipeline: Pipeline, bundled_function_dir: Path) -> None:
    pipeline.upload("noface.png", png_bytes(120, 90))
    [answer] = invoke(
        pipeline, bundled_function_dir, [{"bucket": pipeline.bucket, "object_name": "noface.png"}]
    )
    assert answer["result"]["celebrities"] == []
    assert answer["result"]["unrecognized_faces"] == 0


def test_s3_event_keys_are_decoded(pipeline: Pipeline, bundled_function_dir: Path) -> None:
    keys = ["red flower.jpg", "a+b.jpg", "café/Zoë 😀.png"]
    bodies = []
    for key in keys:
        version = pipeline.upload(key, png_bytes(100, 100))
        bodies.append(json.loads(pipeline.notification(key, version)))
    event = {"Records": [b["Records"][0] for b in bodies]}
    assert '"red+flower.jpg"' in json.dumps(event) and "a%2Bb.jpg" in json.dumps(event)
    [answer] = invoke(pipeline, bundled_function_dir, [event])
    assert [r["key"] for r in answer["result"]["results"]] == keys
    assert all(len(r["celebrities"]) == 2 for r in answer["result"]["results"])


@pytest.mark.parametrize(
    ("key", "body", "error_type"),
    [
        ("notes.jpg", b"just some text, not a picture", "UnsupportedImageFormatError"),
        ("tiny.jpg", jpeg_bytes(40, 40), "ImageTooSmallError"),
        ("never-uploaded.jpg", None, "ImageNotFoundError"),
    ],
)
def test_bad_images_fail_with_named_errors_and_are_recorded(
    pipeline: Pipeline, bundled_function_dir: Path, rekognition: RekognitionStub,
    key: str, body: bytes | None, error_type: str,
) -> None:  # fmt: skip
    if body is not None:
        pipeline.upload(key, body)
    [answer] = invoke(pipeline, bundled_function_dir, [{"bucket": pipeline.bucket, "object_name": key}])
    assert answer["errorType"] == error_type
    assert key in answer["errorMessage"] and pipeline.bucket in answer["errorMessage"]
    assert rekognition.calls[key] == 0, "no Rekognition call is spent on an image that cannot be analyzed"
    if body is not None:
        [item] = [i for i in pipeline.items() if i["pk"]["S"] == f"IMAGE#{pipeline.bucket}/{key}"]
        assert (item["status"]["S"], item["error_type"]["S"]) == ("FAILED", error_type)


def test_event_of_no_known_shape_is_a_named_error(pipeline: Pipeline, bundled_function_dir: Path) -> None:
    [answer] = invoke(pipeline, bundled_function_dir, [{"bucket": pipeline.bucket}])
    assert answer["errorType"] == "InvalidEventError"
    assert "object_name" in answer["errorMessage"]
