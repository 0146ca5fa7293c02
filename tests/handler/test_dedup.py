"""Content deduplication through the handler: the same bytes are analysed once (moto S3 and DynamoDB).

RecognizeCelebrities is a Stubber with nothing queued unless a test queues it: an unexpected call
fails the test, so "answered without Rekognition" is checked by every test that queues one answer.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import handler
import pytest
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import CELEBRITY_INDEX, ImageRef, image_pk, image_ref
from recognizer.errors import ImageNotFoundError, ImageTooLargeError
from tests.handler.recognizer_testkit import (
    BUCKET,
    AwsAnswers,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    image_records,
    object_body,
    png_bytes,
    s3_event,
    sqs_event,
)

TEAM = celebrities_response(
    celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5),
    celebrity_face("Werner Vogels", "3Ir0du6", 99.5),
    unrecognized=1,
)
PHOTO = png_bytes(100, 100)
LARGE = png_bytes(100, 100) + bytes(range(256)) * 400  # past the probe's 64 KB


def upload(versioned: Any, key: str, body: bytes = PHOTO, **extra: Any) -> str:
    return versioned.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)["VersionId"]


def invoke(key: str, version_id: str | None = None) -> dict[str, Any]:
    event = {"bucket": BUCKET, "object_name": key} | ({"version_id": version_id} if version_id else {})
    return handler.lambda_handler(event, None)


def summary(table: Any, key: str, version_id: str | None) -> dict[str, Any]:
    return table.get_item(Key={"pk": image_pk(BUCKET, key), "sk": f"VERSION#{version_id or 'null'}"})["Item"]


def content_records(table: Any) -> list[dict[str, Any]]:
    return [item for item in table.scan()["Items"] if item["pk"].startswith("CONTENT#")]


def appearances(table: Any, name: str) -> set[str]:
    found = table.query(
        IndexName=CELEBRITY_INDEX,
        KeyConditionExpression="celebrity_name = :name",
        ExpressionAttributeValues={":name": name},
    )["Items"]
    return {item["image_ref"] for item in found}


def test_a_copy_under_another_key_is_answered_from_the_first_analysis(
    versioned: Any, table: Any, rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    first_version = upload(versioned, "albums/2025/team.png")
    expect_recognition(rekognition, "albums/2025/team.png", TEAM, version_id=first_version)
    first = invoke("albums/2025/team.png")
    copy_version = upload(versioned, "shared/team-copy.png")

    copy = invoke("shared/team-copy.png")  # no second RecognizeCelebrities call queued

    assert (copy["key"], copy["version_id"]) == ("shared/team-copy.png", copy_version)
    assert copy["celebrities"] == first["celebrities"]
    assert copy["unrecognized_faces"] == 1 and "answered_from" not in copy
    assert copy["reused_from"] == {
        "sha256": hashlib.sha256(PHOTO).hexdigest(),
        "bucket": BUCKET,
        "key": "albums/2025/team.png",
        "version_id": first_version,
        "analyzed_at": first["analyzed_at"],
    }
    # Stored as the copy's own result: findable by celebrity, and answered again from the table.
    assert (
        summary(table, "shared/team-copy.png", copy_version)["reused_from"]["key"] == "albums/2025/team.png"
    )
    assert appearances(table, "Jeff Bezos") == {
        image_ref(BUCKET, "albums/2025/team.png", first_version),
        image_ref(BUCKET, "shared/team-copy.png", copy_version),
    }
    assert invoke("shared/team-copy.png") == copy | {"answered_from": "table"}
    assert len(content_records(table)) == 1
    assert [r.outcome for r in image_records(caplog.records)] == ["succeeded", "reused", "duplicate"]  # type: ignore[attr-defined]


def test_a_reupload_of_the_same_bytes_as_a_new_version_is_answered_too(
    versioned: Any, table: Any, rekognition: Stubber
) -> None:
    first = upload(versioned, "team.png")
    expect_recognition(rekognition, "team.png", TEAM, version_id=first)
    invoke("team.png")
    second = upload(versioned, "team.png")
    event = sqs_event(("m-1", json.dumps(s3_event("team.png", version_ids={"team.png": second}))))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert summary(table, "team.png", second)["reused_from"]["version_id"] == first


def test_different_bytes_are_analysed(versioned: Any, table: Any, rekognition: Stubber) -> None:
    first = upload(versioned, "a.png")
    second = upload(versioned, "b.png", PHOTO + b"\0")  # one byte more after the image's end
    expect_recognition(rekognition, "a.png", TEAM, version_id=first)
    expect_recognition(rekognition, "b.png", celebrities_response(), version_id=second)
    assert invoke("a.png")["celebrities"] and invoke("b.png")["celebrities"] == []
    assert len(content_records(table)) == 2


@pytest.mark.parametrize(("first", "then"), [("0", "99"), ("99", "0")])
def test_min_confidence_applies_afresh_to_a_reused_analysis(
    versioned: Any, table: Any, rekognition: Stubber, monkeypatch: pytest.MonkeyPatch, first: str, then: str
) -> None:
    # Bezos 98.5, Vogels 99.5: the content record keeps both, whatever filtered the first result.
    version = upload(versioned, "a.png")
    expect_recognition(rekognition, "a.png", TEAM, version_id=version)
    monkeypatch.setenv("MIN_CONFIDENCE", first)
    invoke("a.png")
    upload(versioned, "b.png")
    monkeypatch.setenv("MIN_CONFIDENCE", then)
    names = [c["name"] for c in invoke("b.png")["celebrities"]]
    assert names == (["Werner Vogels"] if then == "99" else ["Werner Vogels", "Jeff Bezos"])


def test_dedup_false_analyses_every_copy_and_keeps_no_content_record(
    versioned: Any, table: Any, rekognition: Stubber, s3_answers: AwsAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEDUP", "false")
    for key in ("a.png", "b.png"):
        expect_recognition(rekognition, key, TEAM, version_id=upload(versioned, key, LARGE))
        assert "reused_from" not in invoke(key)
    assert content_records(table) == []
    # Nothing is hashed: the probe is the only read of each object.
    assert [operation for operation, _ in s3_answers.calls].count("GetObject") == 2


def test_copies_uploaded_with_and_without_a_sha256_checksum_are_the_same_content(
    versioned: Any, table: Any, rekognition: Stubber, s3_answers: AwsAnswers
) -> None:
    # celeb uploads with a SHA-256 checksum (S3's header is the digest); other tools upload with
    # CRC32 or none (the bytes are hashed): both digests must agree.
    first = upload(versioned, "from-celeb.png", LARGE, ChecksumAlgorithm="SHA256")
    expect_recognition(rekognition, "from-celeb.png", TEAM, version_id=first)
    invoke("from-celeb.png")
    upload(versioned, "from-console.png", LARGE)
    assert invoke("from-console.png")["reused_from"]["key"] == "from-celeb.png"
    digest_reads = [p for operation, p in s3_answers.calls if operation == "GetObject" and "Range" not in p]
    assert len(digest_reads) == 2  # one per object larger than the probe's range


def test_an_unversioned_copy_is_answered_but_an_unversioned_analysis_is_not_recorded(
    s3: Any, table: Any, rekognition: Stubber
) -> None:
    # Rekognition reads whatever an unversioned key holds when it reads it, which may not be the
    # bytes that were hashed: such an analysis is not kept for other copies.
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=PHOTO)
    expect_recognition(rekognition, "a.png", TEAM)
    invoke("a.png")
    assert content_records(table) == []
    s3.put_object(Bucket=BUCKET, Key="b.png", Body=PHOTO)
    expect_recognition(rekognition, "b.png", TEAM)
    assert "reused_from" not in invoke("b.png")


def test_an_unversioned_copy_of_a_recorded_content_is_answered_from_it(
    versioned: Any, table: Any, rekognition: Stubber
) -> None:
    version = upload(versioned, "a.png")
    expect_recognition(rekognition, "a.png", TEAM, version_id=version)
    invoke("a.png")
    with AwsAnswers(clients.s3()) as s3:
        s3.response("GetObject", lambda: object_body(PHOTO) | {"VersionId": "null"})
        copy = invoke("legacy/a.png")
    assert (copy["version_id"], copy["reused_from"]["version_id"]) == (None, version)
    assert summary(table, "legacy/a.png", None)["status"] == "SUCCEEDED"


def test_a_reused_answer_replaces_a_recorded_failure(
    versioned: Any, table: Any, rekognition: Stubber
) -> None:
    version = upload(versioned, "a.png")
    expect_recognition(rekognition, "a.png", TEAM, version_id=version)
    invoke("a.png")
    copy_version = upload(versioned, "b.png")
    with AwsAnswers(clients.s3()) as s3:
        s3.error("GetObject", "NoSuchVersion", status=404)  # not readable yet: recorded as a failure
        with pytest.raises(ImageNotFoundError):
            invoke("b.png", copy_version)
    assert summary(table, "b.png", copy_version)["status"] == "FAILED"
    assert invoke("b.png", copy_version)["reused_from"]["key"] == "a.png"
    assert summary(table, "b.png", copy_version)["status"] == "SUCCEEDED"


def test_an_image_over_15_mb_is_rejected_before_it_is_hashed(
    aws: None, table: Any, rekognition: Stubber, s3_answers: AwsAnswers
) -> None:
    head = PHOTO
    s3_answers.response(
        "GetObject", lambda: object_body(head) | {"ContentRange": f"bytes 0-{len(head) - 1}/20000000"}
    )
    with pytest.raises(ImageTooLargeError):
        invoke("huge.png")
    assert [operation for operation, _ in s3_answers.calls] == ["GetObject"]


def test_without_a_table_nothing_is_hashed(
    fresh_clients: None, versioned: Any, rekognition: Stubber, s3_answers: AwsAnswers
) -> None:
    for key in ("a.png", "b.png"):
        expect_recognition(rekognition, key, TEAM, version_id=upload(versioned, key, LARGE))
        assert "reused_from" not in invoke(key)
    assert [operation for operation, _ in s3_answers.calls].count("GetObject") == 2


def test_the_content_record_names_the_first_analysis(
    versioned: Any, table: Any, rekognition: Stubber
) -> None:
    version = upload(versioned, "a.png")
    expect_recognition(rekognition, "a.png", TEAM, version_id=version)
    result = invoke("a.png")
    (record,) = content_records(table)
    assert record["pk"] == "CONTENT#sha256:" + hashlib.sha256(PHOTO).hexdigest()
    analysis = json.loads(record["analysis"])
    assert ImageRef(analysis["bucket"], analysis["key"], analysis["version_id"]) == ImageRef(
        BUCKET, "a.png", version
    )
    assert analysis["analyzed_at"] == result["analyzed_at"] and analysis["unrecognized_faces"] == 1
