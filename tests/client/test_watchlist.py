"""`celeb watchlist` and `celeb results --person` against moto (stack, table) and the fake collection
served by the local HTTP Rekognition stub (the real botocore JSON protocol and error parsing)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from recognizer.contract import (
    StackOutput,
    watchlist_match_items,
    watchlist_summary_item,
)
from tests.client.celeb_testkit import assert_one_error_line, aws_client, put_item, stack_template
from tests.integration.rekognition_stub import RekognitionStub
from tests.watchlist.face_collection import FaceCollection, photo
from tests.watchlist.watchlist_testkit import COLLECTION_ID, results_table_properties

Cli = Callable[..., Result]


@pytest.fixture
def collection(rekognition_stub: RekognitionStub) -> Iterator[FaceCollection]:
    faces = FaceCollection(COLLECTION_ID)
    targets = faces.serve(rekognition_stub)
    yield faces
    for target in targets:
        rekognition_stub.operations.pop(target, None)


@pytest.fixture
def table() -> str:
    """A stack with the watchlist in moto: the stack's outputs plus the collection id; its table."""
    template = stack_template("Recognizer")
    template["Resources"]["Results"]["Properties"] = results_table_properties()
    template["Outputs"][str(StackOutput.WATCHLIST_COLLECTION)] = {"Value": COLLECTION_ID}
    cloudformation = aws_client("cloudformation")
    cloudformation.create_stack(StackName="CelebrityRecognition", TemplateBody=json.dumps(template))
    resources = cloudformation.describe_stack_resources(StackName="CelebrityRecognition")["StackResources"]
    return next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "Results")


@pytest.fixture
def photos(tmp_path: Path) -> Callable[..., str]:
    def make(
        name: str, *faces: tuple[str, tuple[int, int, int, int]], size: tuple[int, int] = (400, 300)
    ) -> str:
        path = tmp_path / name
        path.write_bytes(photo(*size, list(faces)))
        return str(path)

    return make


def _collection_state() -> tuple[list[Any], list[Any]]:
    """ListFaces and ListUsers, asked through the API like a user would."""
    rekognition = aws_client("rekognition")
    return (
        rekognition.list_faces(CollectionId=COLLECTION_ID)["Faces"],
        rekognition.list_users(CollectionId=COLLECTION_ID)["Users"],
    )


def test_add_list_search_remove(cli: Cli, collection: FaceCollection, table: str, photos: Any) -> None:
    one = photos("alice-1.jpg", ("red", (120, 60, 260, 220)))
    two = photos("alice-2.png", ("red", (50, 50, 200, 250)))
    added = cli("watchlist", "add", "alice", one, two)
    assert added.exit_code == 0, added.output
    assert "enrolled alice: 2 face(s)" in added.stdout
    assert cli("watchlist", "add", "bob", photos("bob.jpg", ("blue", (100, 100, 220, 240)))).exit_code == 0

    listed = cli("watchlist", "list", "--json")
    assert json.loads(listed.stdout)["people"] == [
        {"name": "alice", "status": "ACTIVE", "faces": 2},
        {"name": "bob", "status": "ACTIVE", "faces": 1},
    ]

    group = photos("group.jpg", ("red", (40, 60, 160, 200)), ("green", (400, 80, 520, 220)), size=(640, 400))
    found = cli("watchlist", "search", group)
    assert found.exit_code == 0, found.output
    assert "alice" in found.stdout and "99.50%" in found.stdout and "no_match" in found.stdout
    assert "left 0.06 top 0.15" in found.stdout

    # A match on record, as the watchlist function writes it, goes with the person.
    searched = json.loads(cli("watchlist", "search", group, "--json").stdout)["faces"]
    result = {"bucket": "photos", "key": "group.jpg", "version_id": "v1",
              "analyzed_at": "2026-11-26T10:00:00Z", "faces": searched}  # fmt: skip
    for item in [
        *watchlist_match_items(result, 2_000_000_000),
        watchlist_summary_item(result, 2_000_000_000),
    ]:
        put_item(table, item)
    assert "s3://photos/group.jpg" in cli("results", "--person", "alice").stdout

    removed = cli("watchlist", "remove", "alice")
    assert removed.exit_code == 0, removed.output
    assert "2 face(s) deleted, 1 match record(s) deleted" in removed.stdout
    faces, users = _collection_state()
    assert [face.get("UserId") for face in faces] == ["bob"]
    assert [user["UserId"] for user in users] == ["bob"]
    after = json.loads(cli("watchlist", "search", group, "--json").stdout)["faces"]
    assert [face["outcome"] for face in after] == ["no_match", "no_match"]
    assert "no watchlist match of 'alice'" in cli("results", "--person", "alice").stdout


def test_adding_photos_to_a_known_person(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    assert cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220)))).exit_code == 0
    assert cli("watchlist", "add", "alice", photos("b.jpg", ("red", (40, 40, 200, 220)))).exit_code == 0
    faces, _ = _collection_state()
    assert len(faces) == 2 and {face["UserId"] for face in faces} == {"alice"}
    # A photo of someone else is refused, and leaves nothing behind.
    refused = cli("watchlist", "add", "alice", photos("c.jpg", ("green", (100, 60, 240, 220))))
    assert refused.exit_code == 2
    assert "LOW_MATCH_CONFIDENCE" in refused.stderr
    assert len(_collection_state()[0]) == 2


@pytest.mark.parametrize(
    ("faces", "message"),
    [
        ((("red", (20, 20, 140, 160)), ("green", (200, 60, 340, 220))), "shows 2 faces"),
        ((), "no face good enough to enroll"),
        ((("red", (20, 20, 50, 50)),), "no face good enough to enroll (Rekognition: SMALL_BOUNDING_BOX)"),
    ],
)
def test_an_enrollment_photo_needs_exactly_one_good_face_and_leaves_no_orphans(
    cli: Cli, collection: FaceCollection, table: str, photos: Any, faces: Any, message: str
) -> None:
    good = photos("good.jpg", ("red", (100, 60, 240, 220)))
    result = cli("watchlist", "add", "alice", good, photos("bad.jpg", *faces))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "bad.jpg" in result.stderr
    assert _collection_state() == ([], [])


def test_a_failure_midway_deletes_what_was_indexed(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    collection.fail_next["AssociateFaces"] = "AccessDeniedException"
    result = cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220))))
    assert result.exit_code == 4
    assert "AssociateFaces" in result.stderr
    assert _collection_state() == ([], [])
    assert collection.calls["DeleteFaces"] == 1 and collection.calls["DeleteUser"] == 1


def _faces_by_user() -> list[tuple[str, str | None]]:
    faces, _ = _collection_state()
    return sorted((face["FaceId"], face.get("UserId")) for face in faces)


def _users() -> list[tuple[str, str]]:
    return [(user["UserId"], user["UserStatus"]) for user in _collection_state()[1]]


def test_a_failed_add_of_a_known_person_keeps_the_person_and_their_faces(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    assert cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220)))).exit_code == 0
    before = _faces_by_user()
    assert [user for _, user in before] == ["alice"]
    collection.fail_next["AssociateFaces"] = "AccessDeniedException"
    failed = cli("watchlist", "add", "alice", photos("b.jpg", ("red", (40, 40, 200, 220))))
    assert failed.exit_code == 4, failed.output
    assert "AssociateFaces" in failed.stderr and "warning" not in failed.stderr
    # This run did not create alice, so its cleanup deletes its own face only, never the person.
    assert _users() == [("alice", "ACTIVE")]
    assert _faces_by_user() == before
    assert collection.calls["DeleteUser"] == 0


def test_a_refused_photo_of_a_known_person_leaves_exactly_their_old_faces(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    assert cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220)))).exit_code == 0
    before = _faces_by_user()
    # Two new photos: Rekognition associates the red one and refuses the other (not alice).
    refused = cli(
        "watchlist",
        "add",
        "alice",
        photos("b.jpg", ("red", (40, 40, 200, 220))),
        photos("c.jpg", ("green", (100, 60, 240, 220))),
    )
    assert refused.exit_code == 2, refused.output
    assert "c.jpg: LOW_MATCH_CONFIDENCE" in refused.stderr and "warning" not in refused.stderr
    # The new red face was associated to alice: disassociated, then deleted (DeleteFaces refuses
    # an associated face), so no new face remains and alice keeps hers.
    assert _faces_by_user() == before
    assert _users() == [("alice", "ACTIVE")]
    assert collection.calls["DisassociateFaces"] == 1


def test_a_person_can_be_added_again_after_removal(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    for round_ in range(3):
        added = cli("watchlist", "add", "alice", photos(f"a{round_}.jpg", ("red", (100, 60, 240, 220))))
        assert added.exit_code == 0, (round_, added.output)
        assert _users() == [("alice", "ACTIVE")]
        assert [user for _, user in _faces_by_user()] == ["alice"]
        removed = cli("watchlist", "remove", "alice")
        assert removed.exit_code == 0, (round_, removed.output)
        assert _collection_state() == ([], [])
    # And a failure of a re-add reports its own cause, cleans up the user it created.
    collection.fail_next["AssociateFaces"] = "AccessDeniedException"
    failed = cli("watchlist", "add", "alice", photos("b.jpg", ("red", (100, 60, 240, 220))))
    assert failed.exit_code == 4 and "AssociateFaces" in failed.stderr, failed.output
    assert "ResourceNotFound" not in failed.stderr and "warning" not in failed.stderr
    assert _collection_state() == ([], [])


def test_a_cleanup_that_fails_does_not_hide_why_the_enrollment_failed(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    collection.fail_next["AssociateFaces"] = "AccessDeniedException"
    collection.fail_next["DeleteFaces"] = "AccessDeniedException"
    result = cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220))))
    assert result.exit_code == 4, result.output
    *warnings, error = result.stderr.strip().splitlines()
    assert "AssociateFaces" in error and error.startswith("error:")
    assert warnings == [
        "warning: cleanup after the failed enrollment: could not delete the 1 face(s) indexed for "
        "'alice' and its new user (An error occurred (AccessDeniedException) when calling "
        "the DeleteFaces operation: DeleteFaces failed (injected)); `celeb watchlist list` shows what is "
        "left, `celeb watchlist remove alice` deletes it"
    ]
    assert "Traceback" not in result.output
    # What the warning says is left, and `remove` deletes it.
    assert [user for _, user in _faces_by_user()] == [None]
    assert cli("watchlist", "remove", "alice").exit_code == 0
    assert _collection_state() == ([], [])


def test_a_known_persons_failed_cleanup_warns_before_remove_takes_everything(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    assert cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220)))).exit_code == 0
    collection.fail_next["DisassociateFaces"] = "AccessDeniedException"
    refused = cli(
        "watchlist",
        "add",
        "alice",
        photos("b.jpg", ("red", (40, 40, 200, 220))),
        photos("c.jpg", ("green", (100, 60, 240, 220))),
    )
    assert refused.exit_code == 2, refused.output
    warning, error = refused.stderr.strip().splitlines()
    assert error.startswith("error: Rekognition would not add these faces to 'alice' (")
    assert "c.jpg: LOW_MATCH_CONFIDENCE" in error
    assert warning.startswith("warning: cleanup after the failed enrollment: could not delete the 2 face(s) ")
    assert "DisassociateFaces" in warning
    assert warning.endswith(
        "`celeb watchlist list` shows what is left, `celeb watchlist remove alice` deletes it, but with "
        "everything 'alice' had enrolled before; enroll them again afterwards"
    )
    # What the warning says: the new faces are still there (one still alice's), and the user too.
    assert sorted(str(user) for _, user in _faces_by_user()) == ["None", "alice", "alice"]
    assert _users() == [("alice", "ACTIVE")]


def test_remove_names_the_faces_rekognition_kept() -> None:
    """DeleteFaces answers 200 and lists what it refused: remove says so instead of "removed"."""
    import boto3
    from botocore.stub import Stubber

    from celeb import watchlist as wl

    rekognition = boto3.client("rekognition", region_name="us-east-1")
    face = {"FaceId": "11111111-1111-1111-1111-111111111111", "UserId": "alice", "ExternalImageId": "alice"}
    with Stubber(rekognition) as stub:
        stub.add_response("list_users", {"Users": [{"UserId": "alice", "UserStatus": "ACTIVE"}]})
        stub.add_response("list_faces", {"Faces": [face]})
        stub.add_response("disassociate_faces", {"DisassociatedFaces": [], "UserStatus": "ACTIVE",
                          "UnsuccessfulFaceDisassociations": []})  # fmt: skip
        stub.add_response(
            "delete_faces",
            {"UnsuccessfulFaceDeletions": [
                {"FaceId": face["FaceId"], "UserId": "alice", "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}
            ]},
        )  # fmt: skip
        with pytest.raises(wl.CleanupIncomplete) as raised:
            wl.remove(rekognition, COLLECTION_ID, "alice")
        stub.assert_no_pending_responses()
    assert str(raised.value) == (
        "Rekognition kept 1 face(s) of 'alice' it was asked to delete (11111111-1111-1111-1111-111111111111: "
        "ASSOCIATED_TO_AN_EXISTING_USER (user 'alice')); nothing else was deleted: run "
        "`celeb watchlist remove alice` again"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("Jane Doe", None, "(not allowed: ' ')"),
        (
            "",
            None,
            "is empty: expected 1 to 128 characters, each a letter a-z or A-Z, a digit, '_', '.', '-' or ':'",
        ),
        ("x" * 129, None, "(129 characters)"),
        ("alice", b"GIF89a not a jpeg", "not a JPEG or PNG image"),
        ("alice", photo(60, 60, [], fmt="PNG"), "60x60 pixels; Rekognition needs at least 80"),
        ("alice", b"\xff\xd8\xff\xe0 truncated jpeg", "not a decodable image"),
    ],
)
def test_bad_enrollment_input_is_refused_before_any_call(
    cli: Cli,
    collection: FaceCollection,
    table: str,
    tmp_path: Path,
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(content if content is not None else photo(200, 200, [("red", (50, 50, 150, 150))]))
    result = cli("watchlist", "add", name, str(path))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert sum(collection.calls.values()) == 0


def test_removing_nobody_is_a_clear_error(cli: Cli, collection: FaceCollection, table: str) -> None:
    result = cli("watchlist", "remove", "carol")
    assert result.exit_code == 2
    assert "no person 'carol' in the watchlist" in result.stderr


def test_a_stack_without_the_watchlist_says_so(cli: Cli, stack: Any, tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(photo(200, 200, [("red", (50, 50, 150, 150))], fmt="PNG"))
    commands = [("watchlist", "list"), ("watchlist", "search", str(path)),
                ("watchlist", "add", "alice", str(path)), ("watchlist", "remove", "alice"),
                # The stack has a results table, but no person index: no Query is sent.
                ("results", "--person", "alice"), ("results", "--person", "alice", "--json")]  # fmt: skip
    for args in commands:
        result = cli(*args)
        assert result.exit_code == 3, (args, result.output)
        assert "deployed without the watchlist; deploy it with -c watchlist=true" in result.stderr
        assert "Query" not in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("spoil", "fragment"),
    [
        (lambda summary, match: summary.pop("analyzed_at"), ".analyzed_at is None: expected a string"),
        (lambda summary, match: match.update(similarity="high"), ".similarity is 'high': expected a number"),
    ],
)
def test_an_image_whose_watchlist_items_this_client_cannot_read_is_one_clear_error(
    cli: Cli, collection: FaceCollection, table: str, spoil: Callable[..., Any], fragment: str
) -> None:
    face = {"outcome": "matched", "bounding_box": {"width": 0.2, "height": 0.2, "left": 0.1, "top": 0.1}}
    face["matches"] = [{"person": "alice", "similarity": 99.5, "bounding_box": face["bounding_box"]}]
    result = {"bucket": "photos", "key": "a.jpg", "version_id": "v1",
              "analyzed_at": "2026-11-26T10:00:00Z", "faces": [face]}  # fmt: skip
    summary = watchlist_summary_item(result, 2_000_000_000)  # type: ignore[arg-type]
    [match] = watchlist_match_items(result, 2_000_000_000)  # type: ignore[arg-type]
    spoil(summary, match)
    put_item(table, summary)
    put_item(table, match)
    shown = cli("results", "--image", "s3://photos/a.jpg")
    assert shown.exit_code == 3, shown.output
    assert_one_error_line(shown.stderr, "holds a watchlist item this client cannot read", fragment)


@pytest.mark.parametrize(
    ("output", "threshold", "outcome"),
    [("95", 95.0, "matched"), (None, 99.0, "no_match"), ("99.5", 99.5, "no_match")],
)
def test_search_shows_matches_at_the_deployed_threshold(
    cli: Cli,
    collection: FaceCollection,
    table: str,
    photos: Any,
    output: str | None,
    threshold: float,
    outcome: str,
) -> None:
    """The default threshold is the stack's (its output), else the setting's default of 99."""
    template = stack_template("Recognizer")
    template["Outputs"][str(StackOutput.WATCHLIST_COLLECTION)] = {"Value": COLLECTION_ID}
    if output is not None:
        template["Outputs"][str(StackOutput.WATCHLIST_THRESHOLD)] = {"Value": output}
    aws_client("cloudformation").create_stack(StackName="Deployed", TemplateBody=json.dumps(template))
    assert cli("watchlist", "add", "alice", photos("a.jpg", ("red", (100, 60, 240, 220)))).exit_code == 0
    collection.similarity["red"] = 97.0
    probe = photos("probe.jpg", ("red", (120, 60, 260, 220)))
    found = json.loads(cli("--stack", "Deployed", "watchlist", "search", probe, "--json").stdout)
    assert (found["threshold"], [face["outcome"] for face in found["faces"]]) == (threshold, [outcome])
    # --threshold still wins.
    chosen = json.loads(
        cli("--stack", "Deployed", "watchlist", "search", probe, "--threshold", "90", "--json").stdout
    )
    assert (chosen["threshold"], chosen["faces"][0]["outcome"]) == (90.0, "matched")


def test_a_threshold_output_this_client_cannot_read_is_one_clear_error(
    cli: Cli, collection: FaceCollection, table: str, photos: Any
) -> None:
    template = stack_template("Recognizer")
    template["Outputs"][str(StackOutput.WATCHLIST_COLLECTION)] = {"Value": COLLECTION_ID}
    template["Outputs"][str(StackOutput.WATCHLIST_THRESHOLD)] = {"Value": "high"}
    aws_client("cloudformation").create_stack(StackName="Deployed", TemplateBody=json.dumps(template))
    result = cli("--stack", "Deployed", "watchlist", "search", photos("p.jpg", ("red", (100, 60, 240, 220))))
    assert result.exit_code == 3, result.output
    assert_one_error_line(result.stderr, "output WatchlistThreshold='high' is not a number")


def test_an_upload_reaches_results_through_the_watchlist_function(
    cli: Cli, collection: FaceCollection, table: str, photos: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enroll with the client, upload, run the function's real code on the upload event with its own
    clients (moto server, HTTP Rekognition stub), then ask the client who was seen where."""
    from recognizer.contract import ENV_RESULTS_TABLE, WATCHLIST_ENV_COLLECTION
    from watchlist import handler

    assert cli("watchlist", "add", "alice", photos("alice.jpg", ("red", (120, 60, 260, 220)))).exit_code == 0
    cloudformation = aws_client("cloudformation")
    bucket = next(
        r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName="CelebrityRecognition")["StackResources"]
        if r["LogicalResourceId"] == "Images"
    )
    s3 = aws_client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    body = photo(800, 500, [("green", (50, 50, 170, 190)), ("red", (500, 200, 640, 360))])
    version = s3.put_object(Bucket=bucket, Key="lobby/cam 1.jpg", Body=body)["VersionId"]
    detail = {"bucket": {"name": bucket}, "object": {"key": "lobby/cam+1.jpg", "version-id": version}}
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    monkeypatch.setenv(WATCHLIST_ENV_COLLECTION, COLLECTION_ID)
    monkeypatch.setenv(ENV_RESULTS_TABLE, table)
    monkeypatch.setattr(handler, "CLIENTS", handler.Clients())
    sqs_event = {"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": json.dumps(event)}]}
    assert handler.lambda_handler(sqs_event, None) == {"batchItemFailures": []}

    shown = json.loads(cli("results", "--person", "alice", "--json").stdout)
    assert [(item["key"], item["version_id"], item["similarity"]) for item in shown["items"]] == [
        ("lobby/cam 1.jpg", version, 99.5)
    ]
    assert collection.calls["DetectFaces"] == 1 and collection.calls["SearchUsersByImage"] == 2
    # Per image: what each searched version held, faces and matches.
    [searched] = json.loads(cli("results", "--image", "lobby/cam 1.jpg", "--json").stdout)["watchlist"]
    assert (searched["version_id"], searched["face_count"], searched["too_small"]) == (version, 2, 0)
    assert [match["person"] for match in searched["matches"]] == ["alice"]
    shown = cli("results", "--image", "lobby/cam 1.jpg").stdout
    assert "Watchlist: s3://" in shown and "alice 99.50%" in shown
