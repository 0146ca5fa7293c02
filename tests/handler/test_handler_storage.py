"""Storage through the handler: duplicates, races, lost writes, recorded failures, no table."""

from __future__ import annotations

import json
from typing import Any

import handler
import pytest
from boto3.dynamodb.conditions import Key
from botocore.stub import Stubber

from recognizer import analysis, clients
from recognizer.contract import CELEBRITY_INDEX
from recognizer.errors import ImageNotFoundError, ServiceUnavailableError, UnsupportedImageFormatError
from tests.handler.recognizer_testkit import (
    BUCKET,
    TABLE,
    WHEN,
    AwsAnswers,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    image_records,
    png_bytes,
    s3_event,
    sqs_event,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5))
OTHERS = celebrities_response(
    celebrity_face("Andy Jassy", "2Pd9tZ", 97.0), celebrity_face("Werner Vogels", "3Ir0du6", 99.0)
)


def invoke(key: str, version_id: str | None = None) -> dict[str, Any]:
    event = {"bucket": BUCKET, "object_name": key} | ({"version_id": version_id} if version_id else {})
    return handler.lambda_handler(event, None)


def index_entries(table: Any) -> set[tuple[str, str]]:
    return {
        (item["celebrity_name"], item["image_ref"]) for item in table.scan(IndexName=CELEBRITY_INDEX)["Items"]
    }


def summary_names(table: Any, key: str, version: str) -> list[str]:
    item = table.get_item(Key={"pk": f"IMAGE#{BUCKET}/{key}", "sk": f"VERSION#{version}"})["Item"]
    return [celebrity["name"] for celebrity in item["celebrities"]]


def test_a_repeated_invocation_returns_the_stored_result_and_stores_once(
    images: dict[str, bytes],
    table: Any,
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(analysis, "utcnow", lambda: WHEN)
    expect_recognition(rekognition, "group.png", BEZOS)
    expect_recognition(rekognition, "group.png", BEZOS)  # unversioned: no GetItem shortcut
    first = invoke("group.png")
    items = table.scan()["Items"]
    second = invoke("group.png")
    assert second == first | {"answered_from": "table"}
    assert table.scan()["Items"] == items and len(items) == 2
    assert [record.outcome for record in image_records(caplog.records)] == ["succeeded", "duplicate"]  # type: ignore[attr-defined]


def test_a_stored_version_is_answered_from_the_table_without_rekognition(
    versioned: Any, table: Any, rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    version = versioned.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    first = invoke("v.png")
    items = table.scan()["Items"]

    # No response is queued: a second RecognizeCelebrities call would fail the Stubber.
    pinned = invoke("v.png", version)
    again = invoke("v.png")

    assert pinned == again == first | {"answered_from": "table"}
    assert table.scan()["Items"] == items
    assert [record.outcome for record in image_records(caplog.records)] == [
        "succeeded",
        "duplicate",
        "duplicate",
    ]  # type: ignore[attr-defined]


def test_racing_deliveries_leave_only_the_standing_results_index_items(
    versioned: Any, table: Any, rekognition: Stubber, dynamodb_answers: AwsAnswers
) -> None:
    # Two deliveries of one version both read "no result yet" before either wrote; the second
    # analysis found other celebrities (models change) and lost the race for the summary.
    version = versioned.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    expect_recognition(rekognition, "v.png", OTHERS, version_id=version)
    # What both read before the first write: neither the version nor its bytes.
    dynamodb_answers.response("BatchGetItem", lambda: {"Responses": {TABLE: []}}, times=2)
    event = sqs_event(("m-1", json.dumps(s3_event("v.png", version_ids={"v.png": version}))))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    second = invoke("v.png", version)
    assert dynamodb_answers.pending == 0  # both deliveries took the race's path

    assert [c["name"] for c in second["celebrities"]] == ["Jeff Bezos"] and second["answered_from"] == "table"
    assert summary_names(table, "v.png", version) == ["Jeff Bezos"]
    assert index_entries(table) == {("Jeff Bezos", f"{BUCKET}/v.png#{version}")}
    found = table.query(
        IndexName=CELEBRITY_INDEX, KeyConditionExpression=Key("celebrity_name").eq("Andy Jassy")
    )
    assert found["Items"] == []


def test_a_lost_write_leaves_nothing_and_the_redelivery_stores_the_whole_result(
    versioned: Any,
    table: Any,
    rekognition: Stubber,
    dynamodb_answers: AwsAnswers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = versioned.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    dynamodb_answers.error("TransactWriteItems", "InternalServerError", status=500)
    event = sqs_event(("m-1", json.dumps(s3_event("v.png", version_ids={"v.png": version}))))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert table.scan()["Items"] == []  # no summary without its index items, no content record

    # SQS redelivers: nothing was stored, so the image is analysed again and stored whole.
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert summary_names(table, "v.png", version) == ["Jeff Bezos"]
    assert index_entries(table) == {("Jeff Bezos", f"{BUCKET}/v.png#{version}")}
    assert [record.outcome for record in image_records(caplog.records)] == ["retry", "succeeded"]  # type: ignore[attr-defined]


def test_a_lost_write_of_a_direct_invocation_is_made_good_by_the_uploads_own_event(
    images: dict[str, bytes], table: Any, rekognition: Stubber, dynamodb_answers: AwsAnswers
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    dynamodb_answers.error("TransactWriteItems", "ProvisionedThroughputExceededException")
    with pytest.raises(ServiceUnavailableError):
        invoke("group.png")
    expect_recognition(rekognition, "group.png", OTHERS)
    (result,) = handler.lambda_handler(s3_event("group.png"), None)["results"]
    assert [c["name"] for c in result["celebrities"]] == ["Werner Vogels", "Andy Jassy"]
    assert index_entries(table) == {
        ("Andy Jassy", f"{BUCKET}/group.png#null"),
        ("Werner Vogels", f"{BUCKET}/group.png#null"),
    }


def test_a_permanent_failure_is_recorded_and_raised(
    images: dict[str, bytes], table: Any, rekognition: Stubber
) -> None:
    with pytest.raises(UnsupportedImageFormatError):
        invoke("notes.txt")
    (item,) = table.scan()["Items"]
    assert (item["status"], item["error_type"], item["failure_cause"]) == (
        "FAILED",
        "UnsupportedImageFormatError",
        "image",
    )
    assert "s3://photos-bucket/notes.txt" in item["error_message"]


def test_a_later_success_replaces_the_recorded_failure(s3: Any, table: Any, rekognition: Stubber) -> None:
    with pytest.raises(ImageNotFoundError):
        invoke("late.png")
    key = {"pk": f"IMAGE#{BUCKET}/late.png", "sk": "VERSION#null"}
    failed = table.get_item(Key=key)["Item"]
    assert (failed["status"], failed["failure_cause"]) == ("FAILED", "environment")
    s3.put_object(Bucket=BUCKET, Key="late.png", Body=png_bytes(100, 100))
    expect_recognition(rekognition, "late.png", BEZOS)
    invoke("late.png")
    summary = table.get_item(Key=key)["Item"]
    assert summary["status"] == "SUCCEEDED" and "error_type" not in summary
    assert index_entries(table) == {("Jeff Bezos", f"{BUCKET}/late.png#null")}


def test_without_a_table_nothing_is_written(
    fresh_clients: None, images: dict[str, bytes], rekognition: Stubber
) -> None:
    expect_recognition(rekognition, "group.png", BEZOS)
    assert invoke("group.png")["celebrities"]
    with pytest.raises(UnsupportedImageFormatError):
        invoke("notes.txt")
    # No DynamoDB client is even built, so no write can have happened.
    assert ("dynamodb",) not in clients._clients


def test_a_new_version_of_the_same_key_is_analysed_again(
    versioned: Any, table: Any, rekognition: Stubber
) -> None:
    first = versioned.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=first)
    invoke("v.png")
    second = versioned.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(120, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", celebrities_response(), version_id=second)
    assert invoke("v.png")["celebrities"] == []
    assert index_entries(table) == {("Jeff Bezos", f"{BUCKET}/v.png#{first}")}


def test_an_unreadable_table_only_costs_the_shortcut(
    versioned: Any,
    table: Any,
    rekognition: Stubber,
    dynamodb_answers: AwsAnswers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = versioned.put_object(Bucket=BUCKET, Key="v.png", Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, "v.png", BEZOS, version_id=version)
    dynamodb_answers.error("BatchGetItem", "AccessDeniedException", "no BatchGetItem")
    result = invoke("v.png")
    assert [c["name"] for c in result["celebrities"]] == ["Jeff Bezos"] and "answered_from" not in result
    warning, succeeded = caplog.records
    assert warning.getMessage() == "stored result not readable; analysing anyway"
    assert succeeded.outcome == "succeeded"  # type: ignore[attr-defined]
