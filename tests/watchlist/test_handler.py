"""The watchlist function on moto (S3, DynamoDB, SNS) and the fake collection: what it stores and sends."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from PIL import Image

from recognizer.contract import (
    ANALYZED_AT_FORMAT,
    ENV_RESULTS_TABLE,
    PARTITION_KEY,
    PERSON_INDEX,
    SORT_KEY,
    WATCHLIST_ENV_COLLECTION,
    WATCHLIST_ENV_THRESHOLD,
    WATCHLIST_ENV_TOPIC,
    WATCHLIST_TTL_ATTRIBUTE,
    ImageRef,
    image_pk,
    image_ref,
    watchlist_match_sk,
    watchlist_summary_sk,
)
from tests.watchlist.conftest import BUCKET, TABLE, World
from tests.watchlist.face_collection import photo
from tests.watchlist.watchlist_testkit import COLLECTION_ID, enroll
from watchlist import handler
from watchlist.settings import load_watchlist_settings

DAY = 86400


def _event(key: str, version_id: str) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": BUCKET},
            "object": {"key": key.replace(" ", "+"), "version-id": version_id},
        },
    }


def _sqs(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": f"m{index}", "body": json.dumps(body)}
            for index, body in enumerate(bodies)
        ]
    }


@pytest.fixture
def environment(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WATCHLIST_ENV_COLLECTION, COLLECTION_ID)
    monkeypatch.setenv(ENV_RESULTS_TABLE, TABLE)
    monkeypatch.setenv(WATCHLIST_ENV_THRESHOLD, "99")
    monkeypatch.setenv(WATCHLIST_ENV_TOPIC, world.settings.topic_arn or "")


def test_every_face_is_searched_and_matches_are_stored_with_the_version(world: World) -> None:
    enroll(world.collection, "alice", "red")
    enroll(world.collection, "bob", "blue")
    faces = [("red", (100, 100, 220, 240)), ("green", (400, 120, 520, 260)), ("blue", (600, 300, 620, 320))]
    version = world.upload("party pics/one.jpg", photo(800, 600, faces))

    result = handler.process(ImageRef(BUCKET, "party pics/one.jpg", version), world.settings)

    # Bob's face is 20 pixels: reported as too small, not searched, never silently dropped.
    assert [face["outcome"] for face in result["faces"]] == ["matched", "no_match", "too_small"]
    assert world.collection.calls == {"DetectFaces": 1, "SearchUsersByImage": 2}
    items = {item["sk"]: item for item in world.items()}
    summary = items[watchlist_summary_sk(version)]
    assert (summary["face_count"], summary["match_count"], summary["too_small"]) == (3, 1, 1)
    match = items[watchlist_match_sk(version, "alice")]
    assert match["watchlist_person"] == "alice"
    assert match["image_ref"] == image_ref(BUCKET, "party pics/one.jpg", version)
    assert float(match["similarity"]) == 99.5
    assert float(match["bounding_box"]["left"]) == pytest.approx(100 / 800, abs=0.01)
    assert len(items) == 2
    # Queryable per person, as `celeb results --person` reads it.
    found = world.dynamodb.query(
        TableName=TABLE,
        IndexName=PERSON_INDEX,
        KeyConditionExpression="watchlist_person = :p",
        ExpressionAttributeValues={":p": {"S": "alice"}},
    )["Items"]
    assert [item["key"]["S"] for item in found] == ["party pics/one.jpg"]


def test_records_expire_after_the_retention(world: World) -> None:
    enroll(world.collection, "alice", "red")
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    result = handler.process(ImageRef(BUCKET, "a.jpg", version), world.settings._replace(retention_days=30))
    items = world.items()
    analyzed = datetime.strptime(result["analyzed_at"], ANALYZED_AT_FORMAT).replace(tzinfo=UTC).timestamp()
    assert {int(item[WATCHLIST_TTL_ATTRIBUTE]) for item in items} == {int(analyzed) + 30 * DAY}


@pytest.mark.parametrize(("similarity", "stored"), [(99.0, True), (98.99, False)])
def test_a_match_exactly_at_the_threshold_is_stored_just_below_is_not(
    world: World, similarity: float, stored: bool
) -> None:
    enroll(world.collection, "alice", "red")
    world.collection.similarity["red"] = similarity
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    result = handler.process(ImageRef(BUCKET, "a.jpg", version), world.settings)
    assert [face["outcome"] for face in result["faces"]] == ["matched" if stored else "no_match"]
    assert any(item["sk"] == watchlist_match_sk(version, "alice") for item in world.items()) is stored
    assert len(world.alerts()) == int(stored)


def test_our_threshold_rule_holds_whatever_rekognition_returns(world: World) -> None:
    """Stubber: a Similarity under the threshold in the answer is still not a match."""
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    rekognition = handler.CLIENTS.get("rekognition")
    face = {"BoundingBox": {"Left": 0.25, "Top": 50 / 300, "Width": 150 / 400, "Height": 0.5}}
    with Stubber(rekognition) as stub:
        stub.add_response("detect_faces", {"FaceDetails": [face]}, {"Image": ANY})
        searched = {"FaceDetail": {"BoundingBox": {"Left": 0.18, "Top": 0.18, "Width": 0.64, "Height": 0.64}}}
        answer = {
            "UserMatches": [
                {"Similarity": 99.0, "User": {"UserId": "alice", "UserStatus": "ACTIVE"}},
                {"Similarity": 98.999, "User": {"UserId": "carol", "UserStatus": "ACTIVE"}},
            ],
            "SearchedFace": searched,
        }
        expected = {"CollectionId": COLLECTION_ID, "Image": ANY, "UserMatchThreshold": 99.0, "MaxUsers": 5}
        stub.add_response("search_users_by_image", answer, expected)
        result = handler.process(ImageRef(BUCKET, "a.jpg", version), world.settings)
        stub.assert_no_pending_responses()
    assert [match["person"] for match in result["faces"][0]["matches"]] == ["alice"]


def test_redelivery_costs_no_rekognition_call_and_sends_no_second_alert(
    world: World, environment: None
) -> None:
    enroll(world.collection, "alice", "red")
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    event = _sqs(_event("a.jpg", version))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    before, items = dict(world.collection.calls), world.items()
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert dict(world.collection.calls) == before
    assert world.items() == items
    alerts = world.alerts()
    assert len(alerts) == 1
    assert alerts[0] | {"analyzed_at": None} == {
        "image": f"s3://{BUCKET}/a.jpg", "bucket": BUCKET, "key": "a.jpg", "version_id": version,
        "person": "alice", "similarity": 99.5, "bounding_box": alerts[0]["bounding_box"], "analyzed_at": None,
    }  # fmt: skip
    assert "image_bytes" not in json.dumps(alerts[0]) and len(json.dumps(alerts[0])) < 1000


def test_faces_at_the_edges_are_found(world: World) -> None:
    enroll(world.collection, "alice", "red")
    enroll(world.collection, "carol", "magenta")
    faces = [("red", (0, 0, 90, 100)), ("magenta", (560, 420, 640, 480))]
    version = world.upload("edges.png", photo(640, 480, faces, fmt="PNG"))
    result = handler.process(ImageRef(BUCKET, "edges.png", version), world.settings)
    assert [face["matches"][0]["person"] for face in result["faces"]] == ["alice", "carol"]


def test_exif_orientation_is_honoured(world: World) -> None:
    enroll(world.collection, "alice", "red")
    upright = Image.open(io.BytesIO(photo(300, 400, [("red", (20, 250, 140, 380))]))).convert("RGB")
    # Stored turned a quarter, with EXIF orientation 6 ("rotate 90 clockwise to view").
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, format="JPEG", quality=95, exif=exif)
    version = world.upload("turned.jpg", out.getvalue())
    result = handler.process(ImageRef(BUCKET, "turned.jpg", version), world.settings)
    assert [face["outcome"] for face in result["faces"]] == ["matched"]


def test_an_object_that_is_no_image_is_recorded_not_retried(world: World, environment: None) -> None:
    version = world.upload("notes.jpg", b"not an image at all")
    assert handler.lambda_handler(_sqs(_event("notes.jpg", version)), None) == {"batchItemFailures": []}
    assert world.collection.calls == {}
    [item] = world.items()
    assert (item["status"], item["error_type"]) == ("FAILED", "UnreadableImageError")


def test_throttling_fails_the_message_for_a_retry_and_records_nothing(
    world: World, environment: None
) -> None:
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    world.collection.fail_next["DetectFaces"] = "ThrottlingException"
    handler.CLIENTS.made["rekognition"].meta.config.retries = {"total_max_attempts": 1}
    assert handler.lambda_handler(_sqs(_event("a.jpg", version)), None) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert world.items() == []


def test_a_hundred_faces_mean_a_hundred_searches(world: World) -> None:
    version = world.upload("crowd.jpg", photo(2000, 2000, []))
    rekognition = handler.CLIENTS.get("rekognition")
    grid = [(col / 10 + 0.02, row / 10 + 0.02) for row in range(10) for col in range(10)]
    details = [
        {"BoundingBox": {"Left": left, "Top": top, "Width": 0.06, "Height": 0.06}} for left, top in grid
    ]
    centred = {"FaceDetail": {"BoundingBox": {"Left": 0.19, "Top": 0.19, "Width": 0.62, "Height": 0.62}}}
    with Stubber(rekognition) as stub:
        stub.add_response("detect_faces", {"FaceDetails": details}, {"Image": ANY})
        for _ in grid:
            stub.add_response("search_users_by_image", {"UserMatches": [], "SearchedFace": centred})
        result = handler.process(ImageRef(BUCKET, "crowd.jpg", version), world.settings)
        stub.assert_no_pending_responses()
    assert len(result["faces"]) == 100
    assert {face["outcome"] for face in result["faces"]} == {"no_match"}


def test_settings_come_from_the_environment(environment: None) -> None:
    settings = load_watchlist_settings()
    assert (settings.collection_id, settings.table_name, settings.threshold) == (COLLECTION_ID, TABLE, 99.0)


CORNER = {"Left": 0.0, "Top": 0.0, "Width": 0.1, "Height": 0.1}


@pytest.mark.parametrize(
    "answer",
    [
        {"error": "InvalidParameterException"},  # Rekognition found no face in the crop
        # It searched a neighbour in the crop's corner, not the face the crop was cut for.
        {"SearchedFace": {"FaceDetail": {"BoundingBox": CORNER}},
         "UserMatches": [{"Similarity": 99.9, "User": {"UserId": "bob", "UserStatus": "ACTIVE"}}]},
    ],
)  # fmt: skip
def test_a_crop_rekognition_cannot_search_as_cut_is_reported_never_matched(
    world: World, answer: dict
) -> None:
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    rekognition = handler.CLIENTS.get("rekognition")
    face = {"BoundingBox": {"Left": 0.25, "Top": 50 / 300, "Width": 150 / 400, "Height": 0.5}}
    with Stubber(rekognition) as stub:
        stub.add_response("detect_faces", {"FaceDetails": [face]}, {"Image": ANY})
        if "error" in answer:
            stub.add_client_error(
                "search_users_by_image", answer["error"], "There are no faces in the image."
            )
        else:
            stub.add_response("search_users_by_image", answer)
        result = handler.process(ImageRef(BUCKET, "a.jpg", version), world.settings)
    assert [(face["outcome"], face["matches"]) for face in result["faces"]] == [("unsearchable", [])]
    assert [item["sk"] for item in world.items()] == [watchlist_summary_sk(version)]


def test_an_alert_sns_did_not_take_is_sent_on_the_retry(
    world: World, environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll(world.collection, "alice", "red")
    version = world.upload("a.jpg", photo(400, 300, [("red", (100, 50, 250, 200))]))
    sns = handler.CLIENTS.get("sns")
    publish, failures = sns.publish, [ConnectionError("SNS unreachable")]

    def flaky_publish(**kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return publish(**kwargs)

    monkeypatch.setattr(sns, "publish", flaky_publish)
    event = _sqs(_event("a.jpg", version))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    # Not marked done: the redelivery searches again and sends the alert.
    assert all(item["sk"] != watchlist_summary_sk(version) for item in world.items())
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert [alert["person"] for alert in world.alerts()] == ["alice"]
    assert world.collection.calls["DetectFaces"] == 2


@pytest.mark.parametrize(
    "detail",
    [
        "a string",
        ["a", "list"],
        {"bucket": "photos-bucket", "object": {"key": "a.jpg"}},
        {"bucket": {"name": BUCKET}, "object": "a.jpg"},
        {"bucket": {"name": BUCKET}, "object": {"key": 7}},
        {"bucket": {"name": BUCKET}, "object": {"key": "a.jpg", "version-id": {"v": 1}}},
    ],
)
def test_an_event_of_another_shape_is_a_named_error(detail: object) -> None:
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    with pytest.raises(
        handler.InvalidWatchlistEventError, match="expected an SQS batch of S3 'Object Created'"
    ):
        handler.parse_image(event)


@pytest.mark.parametrize(
    "event",
    [None, "text", [], {"bucket": BUCKET}, {"bucket": BUCKET, "object_name": "a.jpg", "version_id": 3}],
)
def test_a_direct_invocation_of_another_shape_is_a_named_error(event: object) -> None:
    with pytest.raises(handler.InvalidWatchlistEventError, match='"object_name": str'):
        handler.parse_image(event)


def test_a_malformed_message_fails_alone_with_the_named_error(
    world: World, environment: None, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {"source": "aws.s3", "detail-type": "Object Created", "detail": "not an object"}
    version = world.upload("a.jpg", photo(400, 300, []))
    assert handler.lambda_handler(_sqs(bad, _event("a.jpg", version)), None) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    [failure] = [record for record in caplog.records if record.getMessage() == "watchlist message failed"]
    assert failure.exc_info is not None and failure.exc_info[0] is handler.InvalidWatchlistEventError


def test_the_done_check_reads_consistently() -> None:
    """A redelivery right after the summary's write must see it: GetItem with ConsistentRead."""
    import boto3

    from watchlist import store

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    ref = ImageRef(BUCKET, "a.jpg", "v1")
    key = {PARTITION_KEY: {"S": image_pk(BUCKET, "a.jpg")}, SORT_KEY: {"S": watchlist_summary_sk("v1")}}
    expected = {"TableName": TABLE, "Key": key, "ProjectionExpression": "#pk",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY}, "ConsistentRead": True}  # fmt: skip
    with Stubber(dynamodb) as stub:
        stub.add_response("get_item", {"Item": {PARTITION_KEY: key[PARTITION_KEY]}}, expected)
        stub.add_response("get_item", {}, expected)
        assert store.is_done(dynamodb, TABLE, ref) is True
        assert store.is_done(dynamodb, TABLE, ref) is False
        stub.assert_no_pending_responses()
