"""Idempotent storage in the stack's table schema (moto DynamoDB): celebrity items, then the summary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from recognizer import clients, store
from recognizer.errors import (
    ImageNotFoundError,
    ServiceUnavailableError,
    StorageError,
    UnsupportedImageFormatError,
)
from recognizer.events import ImageRef
from recognizer.results import build_result
from recognizer.store import (
    UNPROCESSED_BASE_DELAY,
    UNPROCESSED_RETRIES,
    save_failure,
    save_result,
    to_attribute_map,
)
from recognizer_testkit import BUCKET, TABLE, WHEN, celebrities_response, celebrity_face

RESPONSE = celebrities_response(
    celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5),
    celebrity_face("Werner Vogels", "3Ir0du6", 99.25),
    unrecognized=1,
)


def result_for(key: str = "team.jpg", version_id: str | None = "v1", response: dict | None = None) -> dict:
    return build_result(ImageRef(BUCKET, key, version_id), response or RESPONSE, 0.0, WHEN)


def items(table: Any) -> list[dict[str, Any]]:
    return sorted(table.scan()["Items"], key=lambda item: (item["pk"], item["sk"]))


class Recording:
    """The moto client, recording calls; BatchWriteItem may leave items unprocessed, PutItem fail.

    ``unprocessed_calls`` BatchWriteItem calls (-1: all) write only their first item and hand the
    rest back in UnprocessedItems, as DynamoDB does when it throttles part of a batch.
    """

    def __init__(self, unprocessed_calls: int = 0, put_errors: int = 0) -> None:
        self.client = clients.dynamodb()
        self.unprocessed_calls = unprocessed_calls
        self.put_errors = put_errors
        self.calls: list[tuple[str, int]] = []

    def batch_write_item(self, **request: Any) -> dict[str, Any]:
        requests = request["RequestItems"][TABLE]
        self.calls.append(("batch_write_item", len(requests)))
        if self.unprocessed_calls:
            self.unprocessed_calls -= 1
            self.client.batch_write_item(RequestItems={TABLE: requests[:1]})
            return {"UnprocessedItems": {TABLE: requests[1:]} if requests[1:] else {}}
        return self.client.batch_write_item(**request)

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("put_item", 1))
        if self.put_errors:
            self.put_errors -= 1
            raise ClientError(
                {"Error": {"Code": "InternalServerError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                "PutItem",
            )
        return self.client.put_item(**request)


def batches(*sizes: int) -> list[tuple[str, int]]:
    return [("batch_write_item", size) for size in sizes]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff between re-sends of unprocessed items, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(store.time, "sleep", delays.append)
    return delays


def test_a_success_writes_a_summary_and_one_item_per_celebrity(table: Any) -> None:
    assert save_result(clients.dynamodb(), TABLE, result_for()) is True
    summary, bezos, vogels = items(table)
    assert summary["pk"] == "IMAGE#photos-bucket/team.jpg" and summary["sk"] == "VERSION#v1"
    assert summary["status"] == "SUCCEEDED"
    assert summary["celebrity_count"] == 2 and summary["unrecognized_faces"] == 1
    assert summary["celebrities"][0]["name"] == "Werner Vogels"
    assert summary["celebrities"][0]["confidence"] == Decimal("99.25")
    assert summary["celebrities"][0]["bounding_box"]["width"] == Decimal("0.25")
    assert summary["analyzed_at"] == "2026-11-26T11:29:25Z" and summary["version_id"] == "v1"
    assert bezos == {
        "pk": "IMAGE#photos-bucket/team.jpg",
        "sk": "VERSION#v1#CELEBRITY#1SK7cR8M",
        "celebrity_name": "Jeff Bezos",
        "celebrity_id": "1SK7cR8M",
        "image_ref": "photos-bucket/team.jpg#v1",
        "bucket": BUCKET,
        "key": "team.jpg",
        "version_id": "v1",
        "confidence": Decimal("98.5"),
        "analyzed_at": "2026-11-26T11:29:25Z",
    }
    assert vogels["sk"] == "VERSION#v1#CELEBRITY#3Ir0du6"


def test_a_duplicate_delivery_writes_nothing_new(table: Any) -> None:
    assert save_result(clients.dynamodb(), TABLE, result_for()) is True
    before = items(table)
    assert save_result(clients.dynamodb(), TABLE, result_for()) is False
    assert items(table) == before


def test_a_later_duplicate_adds_no_item_and_keeps_the_summary(table: Any) -> None:
    assert save_result(clients.dynamodb(), TABLE, result_for()) is True
    summary, *celebrities = items(table)
    later = build_result(ImageRef(BUCKET, "team.jpg", "v1"), RESPONSE, 0.0, WHEN.replace(hour=12))
    assert save_result(clients.dynamodb(), TABLE, later) is False
    after = items(table)
    assert after[0] == summary
    # The celebrity items were rewritten under the same keys (with the later analysis time).
    assert [(i["pk"], i["sk"]) for i in after[1:]] == [(i["pk"], i["sk"]) for i in celebrities]


def test_the_celebrity_index_finds_images(table: Any) -> None:
    save_result(clients.dynamodb(), TABLE, result_for("team.jpg", "v1"))
    save_result(clients.dynamodb(), TABLE, result_for("keynote.png", None))
    found = table.query(
        IndexName="by-celebrity", KeyConditionExpression=Key("celebrity_name").eq("Jeff Bezos")
    )
    assert [item["image_ref"] for item in found["Items"]] == [
        "photos-bucket/keynote.png#null",
        "photos-bucket/team.jpg#v1",
    ]
    unversioned = next(item for item in found["Items"] if item["key"] == "keynote.png")
    assert "version_id" not in unversioned and unversioned["sk"] == "VERSION#null#CELEBRITY#1SK7cR8M"


def test_a_failure_is_recorded_once_and_never_overwrites(table: Any) -> None:
    ref = ImageRef(BUCKET, "notes.txt")
    error = UnsupportedImageFormatError("s3://photos-bucket/notes.txt is not a JPEG or PNG image")
    assert save_failure(clients.dynamodb(), TABLE, ref, error, "2026-11-26T11:29:25Z") is True
    assert (
        save_failure(clients.dynamodb(), TABLE, ref, ImageNotFoundError("gone"), "2026-11-27T00:00:00Z")
        is False
    )
    (item,) = items(table)
    assert item == {
        "pk": "IMAGE#photos-bucket/notes.txt",
        "sk": "VERSION#null",
        "bucket": BUCKET,
        "key": "notes.txt",
        "status": "FAILED",
        "analyzed_at": "2026-11-26T11:29:25Z",
        "celebrity_count": 0,
        "celebrities": [],
        "error_type": "UnsupportedImageFormatError",
        "error_message": "s3://photos-bucket/notes.txt is not a JPEG or PNG image",
    }


def test_a_success_replaces_a_recorded_failure(table: Any) -> None:
    ref = ImageRef(BUCKET, "team.jpg", "v1")
    save_failure(clients.dynamodb(), TABLE, ref, ImageNotFoundError("not yet"), "2026-11-26T11:00:00Z")
    assert save_result(clients.dynamodb(), TABLE, result_for()) is True
    summary = items(table)[0]
    assert summary["status"] == "SUCCEEDED" and "error_type" not in summary and len(items(table)) == 3


def test_a_failure_does_not_replace_a_success(table: Any) -> None:
    save_result(clients.dynamodb(), TABLE, result_for())
    ref = ImageRef(BUCKET, "team.jpg", "v1")
    assert (
        save_failure(clients.dynamodb(), TABLE, ref, ImageNotFoundError("gone"), "2026-11-27T00:00:00Z")
        is False
    )
    assert items(table)[0]["status"] == "SUCCEEDED"


def test_the_same_celebrity_twice_in_one_image_is_one_item(table: Any) -> None:
    response = celebrities_response(celebrity_face("Twin", "7", 80.0), celebrity_face("Twin", "7", 95.0))
    assert save_result(clients.dynamodb(), TABLE, result_for(response=response)) is True
    summary, twin = items(table)
    assert summary["celebrity_count"] == 2 and twin["confidence"] == Decimal("95.0")


def test_celebrity_items_are_written_before_the_summary(table: Any) -> None:
    client = Recording()
    assert save_result(client, TABLE, result_for()) is True
    assert client.calls == [*batches(2), ("put_item", 1)]


def test_sixty_four_faces_take_three_batches(table: Any) -> None:
    faces = [celebrity_face(f"Person {n}", f"id{n}", 50.0 + n / 2) for n in range(64)]
    client = Recording()
    assert save_result(client, TABLE, result_for(response=celebrities_response(*faces))) is True
    assert client.calls == [*batches(25, 25, 14), ("put_item", 1)]
    assert len(items(table)) == 65


def test_unprocessed_items_are_sent_again_until_written(table: Any, sleeps: list[float]) -> None:
    faces = [celebrity_face(f"Person {n}", f"id{n}", 60.0 + n) for n in range(4)]
    client = Recording(unprocessed_calls=2)
    assert save_result(client, TABLE, result_for(response=celebrities_response(*faces))) is True
    # Each call writes one item and hands back the rest; only the rest is sent again.
    assert client.calls == [*batches(4, 3, 2), ("put_item", 1)]
    assert len(items(table)) == 5
    assert len(sleeps) == 2
    for attempt, delay in enumerate(sleeps):
        ceiling = UNPROCESSED_BASE_DELAY * 2**attempt
        assert ceiling / 2 <= delay <= ceiling


def test_items_still_unprocessed_after_the_retries_are_retried_later(table: Any, sleeps: list[float]) -> None:
    faces = [celebrity_face(f"Person {n}", f"id{n}", 60.0 + n) for n in range(10)]
    client = Recording(unprocessed_calls=-1)
    with pytest.raises(ServiceUnavailableError) as raised:
        save_result(client, TABLE, result_for(response=celebrities_response(*faces)))
    assert raised.value.retryable
    message = str(raised.value)
    assert "left 5 of 10 celebrity items of s3://photos-bucket/team.jpg (version v1) unprocessed" in message
    assert client.calls == batches(10, 9, 8, 7, 6)  # the summary is never written
    assert len(sleeps) == UNPROCESSED_RETRIES and sum(sleeps) <= 0.75
    # No summary: readers see no result for the image until a later delivery completes it.
    assert all("#CELEBRITY#" in item["sk"] for item in items(table))


def test_a_crash_before_the_summary_is_completed_by_the_retry(table: Any) -> None:
    with pytest.raises(ServiceUnavailableError):
        save_result(Recording(put_errors=1), TABLE, result_for())
    assert [item["sk"] for item in items(table)] == [
        "VERSION#v1#CELEBRITY#1SK7cR8M",
        "VERSION#v1#CELEBRITY#3Ir0du6",
    ]
    assert save_result(clients.dynamodb(), TABLE, result_for()) is True
    assert save_result(clients.dynamodb(), TABLE, result_for()) is False
    assert [item["sk"] for item in items(table)] == [
        "VERSION#v1",
        "VERSION#v1#CELEBRITY#1SK7cR8M",
        "VERSION#v1#CELEBRITY#3Ir0du6",
    ]


def test_a_summary_failing_its_condition_is_a_duplicate() -> None:
    client = clients.dynamodb()
    with Stubber(client) as stub:
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {TABLE: ANY}})
        stub.add_client_error("put_item", "ConditionalCheckFailedException", "The conditional request failed")
        assert save_result(client, TABLE, result_for()) is False
        stub.assert_no_pending_responses()


def test_no_celebrity_is_a_single_summary(table: Any) -> None:
    save_result(clients.dynamodb(), TABLE, result_for(response=celebrities_response(unrecognized=3)))
    (summary,) = items(table)
    assert (
        summary["celebrity_count"] == 0
        and summary["unrecognized_faces"] == 3
        and summary["celebrities"] == []
    )


@pytest.mark.parametrize("operation", ["batch_write_item", "put_item"])
@pytest.mark.parametrize(
    ("code", "error", "fragment"),
    [
        ("ProvisionedThroughputExceededException", ServiceUnavailableError, "busy or unavailable"),
        ("ThrottlingException", ServiceUnavailableError, "busy or unavailable"),
        ("RequestLimitExceeded", ServiceUnavailableError, "RequestLimitExceeded"),
        ("InternalServerError", ServiceUnavailableError, "busy or unavailable"),
        ("ValidationException", StorageError, "Could not store"),
        (
            "ResourceNotFoundException",
            StorageError,
            "in table 'celebrity-results' (ResourceNotFoundException",
        ),
        ("AccessDeniedException", StorageError, "write access"),
    ],
)
def test_storage_errors_are_named_and_retryable(
    operation: str, code: str, error: type, fragment: str
) -> None:
    client = clients.dynamodb()
    with Stubber(client) as stub:
        if operation == "put_item":
            stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        stub.add_client_error(operation, code, "no")
        with pytest.raises(error) as raised:
            save_result(client, TABLE, result_for())
    assert fragment in str(raised.value) and "s3://photos-bucket/team.jpg (version v1)" in str(raised.value)
    assert raised.value.retryable


def test_attribute_values_match_dynamodbs_typed_form() -> None:
    item = {
        "s": "x",
        "i": 3,
        "f": 0.1,
        "d": Decimal("99.25"),
        "b": True,
        "n": None,
        "l": [1.5, "y"],
        "m": {"k": []},
    }
    assert to_attribute_map(item) == {
        "s": {"S": "x"},
        "i": {"N": "3"},
        "f": {"N": "0.1"},
        "d": {"N": "99.25"},
        "b": {"BOOL": True},
        "n": {"NULL": True},
        "l": {"L": [{"N": "1.5"}, {"S": "y"}]},
        "m": {"M": {"k": {"L": []}}},
    }
