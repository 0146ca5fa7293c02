"""Storage in the contract's table schema (moto DynamoDB): one read, then one all-or-nothing write."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from recognizer import clients, store
from recognizer.contract import CELEBRITY_INDEX, ContentAnalysis, FailureCause, ImageRef, RecognitionResult
from recognizer.errors import (
    ImageNotFoundError,
    ServiceUnavailableError,
    StorageAccessDeniedError,
    StorageError,
    UnsupportedImageFormatError,
)
from recognizer.results import build_result, content_analysis
from recognizer.store import (
    UNPROCESSED_BASE_DELAY,
    UNPROCESSED_RETRIES,
    Found,
    load_success,
    lookup,
    save_failure,
    save_result,
)
from tests.handler.recognizer_testkit import (
    BUCKET,
    TABLE,
    WHEN,
    AwsAnswers,
    celebrities_response,
    celebrity_face,
)

BEZOS = celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5)
VOGELS = celebrity_face("Werner Vogels", "3Ir0du6", 99.25)
JASSY = celebrity_face("Andy Jassy", "2Pd9tZ", 97.0)
RESPONSE = celebrities_response(BEZOS, VOGELS, unrecognized=1)
SHA = "ab" * 32
OTHER_SHA = "cd" * 32


def result_for(
    key: str = "team.jpg", version_id: str | None = "v1", response: dict | None = None, hour: int = 11
) -> RecognitionResult:
    return build_result(ImageRef(BUCKET, key, version_id), response or RESPONSE, 0.0, WHEN.replace(hour=hour))


def content_for(
    result: RecognitionResult, response: dict | None = None, sha256: str = SHA
) -> ContentAnalysis:
    ref = ImageRef(result["bucket"], result["key"], result["version_id"])
    return content_analysis(sha256, ref, response or RESPONSE, result["analyzed_at"])


def items(table: Any) -> list[dict[str, Any]]:
    return sorted(table.scan()["Items"], key=lambda item: (item["pk"], item["sk"]))


def index_entries(table: Any) -> set[tuple[str, str]]:
    """(celebrity, image_ref) of every item the celebrity index holds."""
    found = table.scan(IndexName=CELEBRITY_INDEX)["Items"]
    return {(item["celebrity_name"], item["image_ref"]) for item in found}


def find(table: Any, name: str) -> list[dict[str, Any]]:
    return table.query(IndexName=CELEBRITY_INDEX, KeyConditionExpression=Key("celebrity_name").eq(name))[
        "Items"
    ]


def stored(result: RecognitionResult) -> dict[str, Any]:
    return {**result, "answered_from": "table"}


def operations(answers: AwsAnswers) -> list[tuple[str, int]]:
    """(operation, number of items or keys) of every DynamoDB request."""
    sizes = {
        "TransactWriteItems": lambda p: len(p["TransactItems"]),
        "BatchGetItem": lambda p: len(p["RequestItems"][TABLE]["Keys"]),
    }
    return [(name, sizes.get(name, lambda _: 1)(params)) for name, params in answers.calls]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff between retries of unprocessed keys, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(store.time, "sleep", delays.append)
    return delays


def test_a_success_is_one_transaction_of_summary_index_items_and_content_record(table: Any) -> None:
    result = result_for()
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        assert save_result(clients.dynamodb(), TABLE, result, content_for(result)) == (result, True)
    assert operations(dynamodb) == [("TransactWriteItems", 4)]
    content, summary, bezos, vogels = items(table)
    assert summary["pk"] == "IMAGE#photos-bucket/team.jpg" and summary["sk"] == "VERSION#v1"
    assert summary["status"] == "SUCCEEDED" and "reused_from" not in summary
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
    assert content["pk"] == f"CONTENT#sha256:{SHA}" and content["sk"] == "ANALYSIS"
    analysis = json.loads(content["analysis"])
    assert (analysis["bucket"], analysis["key"], analysis["version_id"]) == (BUCKET, "team.jpg", "v1")
    assert [c["name"] for c in analysis["celebrities"]] == ["Werner Vogels", "Jeff Bezos"]
    assert (analysis["unrecognized_faces"], analysis["analyzed_at"]) == (1, "2026-11-26T11:29:25Z")
    assert "celebrity_name" not in content  # never in the celebrity index
    assert index_entries(table) == {
        ("Jeff Bezos", "photos-bucket/team.jpg#v1"),
        ("Werner Vogels", "photos-bucket/team.jpg#v1"),
    }


def test_a_lone_summary_is_one_conditional_put(table: Any) -> None:
    result = result_for(response=celebrities_response(unrecognized=3))
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        assert save_result(clients.dynamodb(), TABLE, result) == (result, True)
    assert operations(dynamodb) == [("PutItem", 1)]
    (summary,) = items(table)
    assert (summary["celebrity_count"], summary["unrecognized_faces"], summary["celebrities"]) == (0, 3, [])
    # ... and a duplicate delivery of it is refused and answered, as with a transaction.
    again = result_for(response=celebrities_response(unrecognized=3), hour=12)
    assert save_result(clients.dynamodb(), TABLE, again) == (stored(result), False)
    assert len(items(table)) == 1


def test_a_duplicate_delivery_is_answered_with_the_stored_result_and_changes_nothing(table: Any) -> None:
    first = result_for()
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    before = items(table)
    again = result_for(hour=12)
    assert save_result(clients.dynamodb(), TABLE, again, content_for(again)) == (stored(first), False)
    assert items(table) == before


def test_a_reanalysis_with_other_celebrities_leaves_no_stale_item(table: Any) -> None:
    # Two deliveries of one version both read "no result yet" before either wrote; the second
    # analysis found other celebrities (Rekognition's models change) and lost the race.
    first = result_for(response=celebrities_response(BEZOS, VOGELS))
    second = result_for(response=celebrities_response(JASSY, VOGELS), hour=12)
    save_result(clients.dynamodb(), TABLE, first, content_for(first, celebrities_response(BEZOS, VOGELS)))
    standing, committed = save_result(
        clients.dynamodb(), TABLE, second, content_for(second, celebrities_response(JASSY, VOGELS))
    )
    assert (standing, committed) == (stored(first), False)
    assert index_entries(table) == {
        ("Jeff Bezos", "photos-bucket/team.jpg#v1"),
        ("Werner Vogels", "photos-bucket/team.jpg#v1"),
    }
    assert not find(table, "Andy Jassy")
    content, summary = items(table)[:2]
    assert [c["name"] for c in summary["celebrities"]] == ["Werner Vogels", "Jeff Bezos"]
    assert summary["analyzed_at"] == first["analyzed_at"]
    assert "Andy Jassy" not in content["analysis"]  # the loser's content record is not written


def refused(reasons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """TransactionCanceledException's CancellationReasons: the summary's condition failed."""
    first = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    return {"CancellationReasons": reasons or [first, {"Code": "None"}]}


def test_without_the_stored_summary_in_the_refusal_it_is_read(table: Any) -> None:
    first = result_for(response=celebrities_response(BEZOS))
    save_result(clients.dynamodb(), TABLE, first)
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        # A refusal without the item, as without ReturnValuesOnConditionCheckFailure support.
        dynamodb.error("TransactWriteItems", "TransactionCanceledException", modeled=refused())
        answer = save_result(clients.dynamodb(), TABLE, result_for(response=celebrities_response(JASSY)))
    assert answer == (stored(first), False)
    assert operations(dynamodb) == [("TransactWriteItems", 2), ("BatchGetItem", 1)]
    assert index_entries(table) == {("Jeff Bezos", "photos-bucket/team.jpg#v1")}


def test_a_standing_result_that_cannot_be_read_is_retried_not_replaced(table: Any) -> None:
    save_result(clients.dynamodb(), TABLE, result_for(response=celebrities_response(BEZOS)))
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        dynamodb.error("TransactWriteItems", "TransactionCanceledException", modeled=refused())
        dynamodb.error("BatchGetItem", "InternalServerError", status=500)
        with pytest.raises(StorageError) as raised:
            save_result(clients.dynamodb(), TABLE, result_for(response=celebrities_response(JASSY)))
    assert raised.value.retryable
    assert "already has a result in table 'celebrity-results' that could not be read" in str(raised.value)
    assert not find(table, "Andy Jassy")


def test_a_write_that_fails_part_way_leaves_nothing(table: Any) -> None:
    # DynamoDB refuses an index key over 2,048 bytes: the summary before it in the same request is
    # not written either, so no delivery ever meets a summary without its index items.
    huge = celebrity_face("x" * 2049, "9", 90.0)
    result = result_for(response=celebrities_response(BEZOS, huge))
    with pytest.raises(StorageError, match="ValidationException"):
        save_result(clients.dynamodb(), TABLE, result, content_for(result))
    assert items(table) == []


def test_a_lost_write_is_written_whole_by_the_redelivery(table: Any) -> None:
    first = result_for()
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        dynamodb.error("TransactWriteItems", "InternalServerError", status=500)
        with pytest.raises(ServiceUnavailableError):
            save_result(clients.dynamodb(), TABLE, first, content_for(first))
    assert items(table) == []
    # The redelivery analyses again (nothing was stored) and writes everything.
    again = result_for(hour=12)
    assert save_result(clients.dynamodb(), TABLE, again, content_for(again)) == (again, True)
    assert len(items(table)) == 4 and len(find(table, "Jeff Bezos")) == 1


def test_the_celebrity_index_finds_images(table: Any) -> None:
    save_result(clients.dynamodb(), TABLE, result_for("team.jpg", "v1"))
    save_result(clients.dynamodb(), TABLE, result_for("keynote.png", None))
    found = find(table, "Jeff Bezos")
    assert [item["image_ref"] for item in found] == [
        "photos-bucket/keynote.png#null",
        "photos-bucket/team.jpg#v1",
    ]
    unversioned = next(item for item in found if item["key"] == "keynote.png")
    assert "version_id" not in unversioned and unversioned["sk"] == "VERSION#null#CELEBRITY#1SK7cR8M"


def test_a_match_without_a_name_stays_in_the_summary_unindexed(table: Any) -> None:
    # DynamoDB refuses an empty index key: writing it would fail the delivery again and again.
    nameless = celebrity_face("", "9zz", 90.0)
    result = result_for(response=celebrities_response(nameless, BEZOS))
    assert save_result(clients.dynamodb(), TABLE, result) == (result, True)
    assert index_entries(table) == {("Jeff Bezos", "photos-bucket/team.jpg#v1")}
    assert [c["id"] for c in items(table)[0]["celebrities"]] == ["1SK7cR8M", "9zz"]


def test_a_failure_is_recorded_once_with_its_cause_and_never_overwrites(table: Any) -> None:
    ref = ImageRef(BUCKET, "notes.txt")
    error = UnsupportedImageFormatError("s3://photos-bucket/notes.txt is not a JPEG or PNG image")
    assert save_failure(clients.dynamodb(), TABLE, ref, error, "2026-11-26T11:29:25Z") is True
    later = ImageNotFoundError("gone")
    assert save_failure(clients.dynamodb(), TABLE, ref, later, "2026-11-27T00:00:00Z") is False
    (item,) = items(table)
    assert item == {
        "pk": "IMAGE#photos-bucket/notes.txt",
        "sk": "VERSION#null",
        "bucket": BUCKET,
        "key": "notes.txt",
        "status": "FAILED",
        "analyzed_at": "2026-11-26T11:29:25Z",
        "celebrity_count": 0,
        "unrecognized_faces": 0,
        "celebrities": [],
        "error_type": "UnsupportedImageFormatError",
        "error_message": "s3://photos-bucket/notes.txt is not a JPEG or PNG image",
        "failure_cause": "image",
    }


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (UnsupportedImageFormatError("x"), FailureCause.IMAGE),
        (ImageNotFoundError("x"), FailureCause.ENVIRONMENT),
    ],
)
def test_the_failure_cause_is_the_errors(table: Any, error: Any, cause: FailureCause) -> None:
    save_failure(clients.dynamodb(), TABLE, ImageRef(BUCKET, "a.jpg", "v1"), error, "2026-11-26T11:29:25Z")
    assert items(table)[0]["failure_cause"] == str(cause)


@pytest.mark.parametrize("with_content", [True, False], ids=["transaction", "put"])
def test_a_success_replaces_a_recorded_failure(table: Any, with_content: bool) -> None:
    ref = ImageRef(BUCKET, "team.jpg", "v1")
    save_failure(clients.dynamodb(), TABLE, ref, ImageNotFoundError("not yet"), "2026-11-26T11:00:00Z")
    result = result_for(response=RESPONSE if with_content else celebrities_response())
    content = content_for(result) if with_content else None
    assert save_result(clients.dynamodb(), TABLE, result, content) == (result, True)
    summary = next(item for item in items(table) if item["sk"] == "VERSION#v1")
    assert summary["status"] == "SUCCEEDED" and "error_type" not in summary and "failure_cause" not in summary
    assert len(items(table)) == (4 if with_content else 1)


def test_a_failure_does_not_replace_a_success(table: Any) -> None:
    save_result(clients.dynamodb(), TABLE, result_for())
    ref = ImageRef(BUCKET, "team.jpg", "v1")
    assert (
        save_failure(clients.dynamodb(), TABLE, ref, ImageNotFoundError("gone"), "2026-11-27T00:00:00Z")
        is False
    )
    assert items(table)[0]["status"] == "SUCCEEDED"


def test_lookup_reads_the_versions_success_and_the_content_record_in_one_request(table: Any) -> None:
    ref = ImageRef(BUCKET, "team.jpg", "v1")
    assert lookup(clients.dynamodb(), TABLE, ref, SHA) == Found(None, None)
    first = result_for()
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        found = lookup(clients.dynamodb(), TABLE, ref, SHA)
    assert operations(dynamodb) == [("BatchGetItem", 2)]
    assert found == Found(stored(first), content_for(first))
    assert lookup(clients.dynamodb(), TABLE, ref.with_version("v2"), SHA) == Found(None, content_for(first))
    assert lookup(clients.dynamodb(), TABLE, ref, OTHER_SHA) == Found(stored(first), None)


def test_lookup_reads_no_summary_of_an_unversioned_object(table: Any) -> None:
    # An unversioned key may hold a new upload: only its bytes (the content record) can match.
    ref = ImageRef(BUCKET, "team.jpg")
    first = result_for(version_id=None)
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        assert lookup(clients.dynamodb(), TABLE, ref, None) == Found()
        assert lookup(clients.dynamodb(), TABLE, ref, SHA) == Found(None, content_for(first))
    assert operations(dynamodb) == [("BatchGetItem", 1)]


def test_lookup_answers_only_for_a_stored_success(table: Any) -> None:
    ref = ImageRef(BUCKET, "team.jpg", "v1")
    save_failure(clients.dynamodb(), TABLE, ref, ImageNotFoundError("x"), "2026-11-26T11:00:00Z")
    assert lookup(clients.dynamodb(), TABLE, ref, None) == Found()
    assert load_success(clients.dynamodb(), TABLE, ref) is None
    save_result(clients.dynamodb(), TABLE, result_for())
    assert lookup(clients.dynamodb(), TABLE, ref, None).stored == stored(result_for())
    assert load_success(clients.dynamodb(), TABLE, ref) == stored(result_for())


def test_an_unreadable_table_only_costs_the_shortcut(table: Any, caplog: pytest.LogCaptureFixture) -> None:
    first = result_for()
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        dynamodb.error("BatchGetItem", "AccessDeniedException", "no BatchGetItem")
        assert lookup(clients.dynamodb(), TABLE, ImageRef(BUCKET, "team.jpg", "v1"), SHA) == Found()
    (record,) = caplog.records
    assert (record.levelno, record.getMessage()) == (
        logging.WARNING,
        "stored result not readable; analysing anyway",
    )
    assert (record.key, record.error_type) == ("team.jpg", "ClientError")  # type: ignore[attr-defined]


def test_an_unreadable_content_record_is_ignored(table: Any, caplog: pytest.LogCaptureFixture) -> None:
    first = result_for()
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    table.update_item(
        Key={"pk": f"CONTENT#sha256:{SHA}", "sk": "ANALYSIS"},
        UpdateExpression="SET analysis = :broken",
        ExpressionAttributeValues={":broken": "[{"},
    )
    assert lookup(clients.dynamodb(), TABLE, ImageRef(BUCKET, "copy.jpg", "v9"), SHA) == Found()
    (record,) = caplog.records
    assert record.getMessage() == "content record not readable; analysing anyway"
    assert "analysis is not JSON" in record.error_message  # type: ignore[attr-defined]


def unprocessed(keys: int) -> Any:
    """BatchGetItem answers that find nothing and leave the last ``keys`` keys unprocessed."""

    def answer() -> dict[str, Any]:
        request = answers.calls[-1][1]["RequestItems"][TABLE]
        return {
            "Responses": {TABLE: []},
            "UnprocessedKeys": {TABLE: {**request, "Keys": request["Keys"][-keys:]}},
        }

    answers = AwsAnswers(clients.dynamodb())
    return answers, answer


def test_unprocessed_keys_are_asked_for_again(table: Any, sleeps: list[float]) -> None:
    first = result_for()
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    answers, answer = unprocessed(keys=1)
    with answers:
        answers.response("BatchGetItem", answer, times=2)  # then DynamoDB answers the rest
        found = lookup(clients.dynamodb(), TABLE, ImageRef(BUCKET, "team.jpg", "v1"), SHA)
    # The first answer found nothing and left the content key; only that key is asked again.
    assert operations(answers) == [("BatchGetItem", 2), ("BatchGetItem", 1), ("BatchGetItem", 1)]
    assert found == Found(None, content_for(first))
    assert len(sleeps) == 2
    for attempt, delay in enumerate(sleeps):
        ceiling = UNPROCESSED_BASE_DELAY * 2**attempt
        assert ceiling / 2 <= delay <= ceiling


def test_keys_still_unprocessed_after_the_retries_are_given_up(table: Any, sleeps: list[float]) -> None:
    first = result_for()
    save_result(clients.dynamodb(), TABLE, first, content_for(first))
    answers, answer = unprocessed(keys=2)
    with answers:
        answers.response("BatchGetItem", answer, times=UNPROCESSED_RETRIES + 1)
        found = lookup(clients.dynamodb(), TABLE, ImageRef(BUCKET, "team.jpg", "v1"), SHA)
    assert found == Found() and answers.pending == 0
    assert len(sleeps) == UNPROCESSED_RETRIES and sum(sleeps) <= 0.75


def test_the_same_celebrity_twice_in_one_image_is_one_item(table: Any) -> None:
    response = celebrities_response(celebrity_face("Twin", "7", 80.0), celebrity_face("Twin", "7", 95.0))
    save_result(clients.dynamodb(), TABLE, result_for(response=response))
    summary, twin = items(table)
    assert summary["celebrity_count"] == 2 and twin["confidence"] == Decimal("95.0")


def test_sixty_four_faces_take_one_transaction(table: Any) -> None:
    # Rekognition returns at most 64 faces: with the summary and the content record, 66 items.
    faces = [celebrity_face(f"Person {n}", f"id{n}", 50.0 + n / 2) for n in range(64)]
    response = celebrities_response(*faces)
    result = result_for(response=response)
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        save_result(clients.dynamodb(), TABLE, result, content_for(result, response))
    assert operations(dynamodb) == [("TransactWriteItems", 66)]
    assert len(items(table)) == 66


@pytest.mark.parametrize(
    ("operation", "celebrities"), [("TransactWriteItems", RESPONSE), ("PutItem", celebrities_response())]
)
@pytest.mark.parametrize(
    ("code", "status", "error", "fragment"),
    [
        ("ProvisionedThroughputExceededException", 400, ServiceUnavailableError, "busy or unavailable"),
        ("ThrottlingException", 400, ServiceUnavailableError, "busy or unavailable"),
        ("RequestLimitExceeded", 400, ServiceUnavailableError, "RequestLimitExceeded"),
        ("InternalServerError", 500, ServiceUnavailableError, "busy or unavailable"),
        ("ValidationException", 400, StorageError, "Could not store"),
        (
            "ResourceNotFoundException",
            400,
            StorageError,
            "in table 'celebrity-results' (ResourceNotFoundException",
        ),
        ("AccessDeniedException", 400, StorageAccessDeniedError, "its role needs dynamodb:PutItem"),
    ],
)
def test_storage_errors_are_named_and_retryable(
    table: Any, operation: str, celebrities: dict, code: str, status: int, error: type, fragment: str
) -> None:
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        dynamodb.error(operation, code, "no", status=status)
        with pytest.raises(error) as raised:
            save_result(clients.dynamodb(), TABLE, result_for(response=celebrities))
    assert type(raised.value) is error
    assert fragment in str(raised.value) and "s3://photos-bucket/team.jpg (version v1)" in str(raised.value)
    assert raised.value.retryable


@pytest.mark.parametrize(
    ("code", "error", "fragment"),
    [
        ("TransactionConflict", ServiceUnavailableError, "is busy for"),
        ("ThrottlingError", ServiceUnavailableError, "is busy for"),
        ("ValidationError", StorageError, "Could not store"),
    ],
)
def test_a_transaction_cancelled_for_another_reason_is_retried(
    table: Any, code: str, error: type, fragment: str
) -> None:
    reasons = [{"Code": "None"}, {"Code": code, "Message": "no"}, {"Code": "None"}]
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        dynamodb.error("TransactWriteItems", "TransactionCanceledException", modeled=refused(reasons))
        with pytest.raises(error) as raised:
            save_result(clients.dynamodb(), TABLE, result_for())
    assert type(raised.value) is error and raised.value.retryable
    assert fragment in str(raised.value) and f"transaction cancelled: {code})" in str(raised.value)
    assert items(table) == []


def test_storage_sends_dynamodbs_typed_form(table: Any) -> None:
    result = result_for(response=celebrities_response(BEZOS))
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        save_result(clients.dynamodb(), TABLE, result, content_for(result))
    ((_, request),) = dynamodb.calls
    (summary, celebrity, content) = (item["Put"] for item in request["TransactItems"])
    assert summary["Item"]["celebrity_count"] == {"N": "1"} and summary["Item"]["version_id"] == {"S": "v1"}
    typed = summary["Item"]["celebrities"]["L"][0]["M"]
    assert typed["confidence"] == {"N": "98.5"} and typed["known_gender"] == {"S": "Male"}
    assert typed["urls"]["L"][0] == {"S": "www.wikidata.org/wiki/Q1SK7cR8M"}
    assert summary["ConditionExpression"] and summary["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert "ConditionExpression" not in celebrity and "ConditionExpression" not in content
    assert celebrity["Item"]["image_ref"] == {"S": "photos-bucket/team.jpg#v1"}
    assert set(content["Item"]) == {"pk", "sk", "analysis"} and "S" in content["Item"]["analysis"]
    assert request["ClientRequestToken"]  # a retried request whose answer was lost is not a refusal


def test_an_unexpected_client_error_is_not_swallowed(table: Any) -> None:
    # A refusal of the summary for another reason than a stored success is not a duplicate.
    with AwsAnswers(clients.dynamodb()) as dynamodb:
        dynamodb.error("PutItem", "TransactionConflictException", "conflict")
        with pytest.raises(StorageError, match="TransactionConflictException"):
            save_result(clients.dynamodb(), TABLE, result_for(response=celebrities_response()))
    assert not items(table)
