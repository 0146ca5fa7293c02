"""Storage through the handler: duplicates, recorded failures, no table."""

from __future__ import annotations

from typing import Any

import handler
import pytest
from botocore.stub import Stubber
from recognizer import clients, pipeline
from recognizer.errors import ImageNotFoundError, UnsupportedImageFormatError
from recognizer_testkit import (
    BUCKET,
    WHEN,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    log_lines,
    png_bytes,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5))


def invoke(key: str) -> dict[str, Any]:
    return handler.lambda_handler({"bucket": BUCKET, "object_name": key}, None)


def test_a_repeated_invocation_returns_the_result_but_stores_once(
    images: dict[str, bytes],
    table: Any,
    rekognition: Stubber,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The duplicate rewrites the celebrity items (same keys) before its summary write is refused;
    # one clock for both calls makes them identical, however long the first call takes.
    monkeypatch.setattr(pipeline, "utcnow", lambda: WHEN)
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "group.png", BEZOS)
    first = invoke("group.png")
    items = table.scan()["Items"]
    second = invoke("group.png")
    assert second["celebrities"] == first["celebrities"]
    assert table.scan()["Items"] == items and len(items) == 2
    assert [line["outcome"] for line in log_lines(capsys.readouterr().out)] == ["succeeded", "duplicate"]


def test_a_permanent_failure_is_recorded_and_raised(
    images: dict[str, bytes], table: Any, rekognition: Stubber
) -> None:
    with pytest.raises(UnsupportedImageFormatError):
        invoke("notes.txt")
    (item,) = table.scan()["Items"]
    assert (item["status"], item["error_type"]) == ("FAILED", "UnsupportedImageFormatError")
    assert "s3://photos-bucket/notes.txt" in item["error_message"]


def test_a_later_success_replaces_the_recorded_failure(s3: Any, table: Any, rekognition: Stubber) -> None:
    with pytest.raises(ImageNotFoundError):
        invoke("late.png")
    assert (
        table.get_item(Key={"pk": f"IMAGE#{BUCKET}/late.png", "sk": "VERSION#null"})["Item"]["status"]
        == "FAILED"
    )
    s3.put_object(Bucket=BUCKET, Key="late.png", Body=png_bytes(100, 100))
    expect_recognition(rekognition, "late.png", BEZOS)
    invoke("late.png")
    summary = table.get_item(Key={"pk": f"IMAGE#{BUCKET}/late.png", "sk": "VERSION#null"})["Item"]
    assert summary["status"] == "SUCCEEDED" and "error_type" not in summary


def test_without_a_table_nothing_is_written(
    fresh_clients: None, images: dict[str, bytes], rekognition: Stubber
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    assert invoke("group.png")["celebrities"]
    with pytest.raises(UnsupportedImageFormatError):
        invoke("notes.txt")
    # No DynamoDB client is even built, so no write can have happened.
    assert ("dynamodb",) not in clients._clients


def test_a_stored_version_is_answered_from_the_table_without_rekognition(
    s3: Any, table: Any, rekognition: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    first = invoke("v.png")
    items = table.scan()["Items"]

    # No response is queued: a second RecognizeCelebrities call would fail the Stubber.
    pinned = handler.lambda_handler({"bucket": BUCKET, "object_name": "v.png", "version_id": version}, None)
    again = invoke("v.png")

    assert pinned == first and again == first
    assert table.scan()["Items"] == items, "answering from the table wrote nothing"
    rekognition.assert_no_pending_responses()
    outcomes = [line["outcome"] for line in log_lines(capsys.readouterr().out)]
    assert outcomes == ["succeeded", "duplicate", "duplicate"]


def test_a_new_version_of_the_same_key_is_analysed_again(s3: Any, table: Any, rekognition: Stubber) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=first)
    invoke("v.png")
    second = s3.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(120, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", celebrities_response(), version_id=second)
    assert invoke("v.png")["celebrities"] == []
    rekognition.assert_no_pending_responses()


def test_an_unreadable_table_only_costs_the_shortcut(
    s3: Any, table: Any, rekognition: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    with Stubber(clients.dynamodb()) as dynamodb:
        dynamodb.add_client_error("get_item", "AccessDeniedException", "no GetItem")
        dynamodb.add_response("batch_write_item", {"UnprocessedItems": {}})
        dynamodb.add_response("put_item", {})
        result = invoke("v.png")
    assert [c["name"] for c in result["celebrities"]] == ["Jeff Bezos"]
    lines = log_lines(capsys.readouterr().out)
    assert (lines[0]["level"], lines[0]["message"]) == (
        "WARNING",
        "stored result not readable; analysing anyway",
    )
    assert lines[-1]["outcome"] == "succeeded"
