"""`celeb show` and `celeb recognize --annotate`: the real function's stored result drawn on the image
version it belongs to (moto, the Rekognition stub), checked pixel by pixel on generated pictures.
With the watchlist, the real watchlist function's matches of that version are drawn too."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from celeb.annotate import COLOURS, BoxKind
from celeb.errors import ExitCode
from recognizer.contract import (
    ENV_RESULTS_TABLE,
    WATCHLIST_ENV_COLLECTION,
    FailureCause,
    ImageRef,
    StackOutput,
    failure_item,
)
from tests.client.celeb_testkit import (
    Deployed,
    assert_one_error_line,
    aws_client,
    deploy,
    function_arn,
    put_item,
    serve_stack,
    stack_template,
)
from tests.client.picture_testkit import BLUE, RED, assert_outline, assert_region, open_picture, picture_bytes
from tests.handler.recognizer_testkit import celebrities_response, celebrity_face
from tests.integration.rekognition_stub import RekognitionStub
from tests.watchlist.face_collection import BACKGROUND, PALETTE, FaceCollection, photo
from tests.watchlist.watchlist_testkit import COLLECTION_ID, enroll, results_table_properties

GREEN = COLOURS[BoxKind.CELEBRITY]
ORANGE = COLOURS[BoxKind.WATCHLIST]
# On a 400 x 200 picture: columns 100-299, rows 60-139 (celebrity_face's box: width, height, left, top).
MIDDLE = (0.5, 0.4, 0.25, 0.3)
MIDDLE_PIXELS = (100, 60, 299, 139)
# Columns 40-119, rows 100-179.
LOWER_LEFT = (0.2, 0.4, 0.1, 0.5)
LOWER_LEFT_PIXELS = (40, 100, 119, 179)


def _one_celebrity(stub, box: tuple[float, float, float, float]) -> None:
    stub.celebrities = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 99.5, box=box))


def _assert_drawn(path, box_pixels, background) -> None:
    picture = open_picture(path.read_bytes())
    assert picture.size == (400, 200)
    assert_outline(picture, box_pixels, GREEN)
    x0, y0, x1, y1 = box_pixels
    assert_region(picture, (x0 + 10, y0 + 10, x1 - 10, y1 - 10), background)
    assert_region(picture, (x0, y1 + 1, x1, 199), background)


def test_recognize_annotate_writes_each_picture_with_its_boxes(
    cli, function, images, tmp_path, rekognition_stub
):
    _one_celebrity(rekognition_stub, MIDDLE)
    folder = images("keynote.png", content=picture_bytes((400, 200)))
    out = tmp_path / "annotated"

    result = cli("recognize", "--prefix", "talks/", "--annotate", str(out), str(folder / "keynote.png"))

    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == ["keynote.png"]
    _assert_drawn(out / "keynote.png", MIDDLE_PIXELS, BLUE)
    assert f"drawn in {out / 'keynote.png'}" in result.stderr
    assert "Jeff Bezos" in result.stdout


def test_recognize_annotate_draws_s3_images_from_the_version_analyzed(
    cli, function, stack, s3, tmp_path, rekognition_stub
):
    _one_celebrity(rekognition_stub, MIDDLE)
    s3.put_object(Bucket=stack.bucket, Key="a/same.jpg", Body=picture_bytes((400, 200), image_format="JPEG"))
    s3.put_object(Bucket=stack.bucket, Key="b/same.jpg", Body=picture_bytes((400, 200), RED))  # a PNG
    out = tmp_path / "annotated"

    result = cli(
        "recognize",
        "--annotate",
        str(out),
        f"s3://{stack.bucket}/a/same.jpg",
        f"s3://{stack.bucket}/b/same.jpg",
    )

    assert result.exit_code == 0, result.output
    # Same file name twice: the second gets a number; a PNG under a .jpg key is written as PNG.
    assert sorted(path.name for path in out.iterdir()) == ["same.jpg", "same.jpg.png"]
    jpeg = open_picture((out / "same.jpg").read_bytes())
    assert jpeg.format == "JPEG"
    assert_outline(jpeg, MIDDLE_PIXELS, GREEN, tolerance=40)  # lossy: near, not exact
    _assert_drawn(out / "same.jpg.png", MIDDLE_PIXELS, RED)


def test_recognize_annotate_into_a_file_is_refused_before_any_upload(cli, function, images, tmp_path):
    folder = images("keynote.png", content=picture_bytes((400, 200)))
    not_a_folder = tmp_path / "taken"
    not_a_folder.write_text("")

    result = cli("recognize", "--annotate", str(not_a_folder), str(folder / "keynote.png"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, str(not_a_folder), "is a file")
    assert function.calls == []


def test_show_draws_the_latest_version_or_the_one_asked_for(cli, function, tmp_path, rekognition_stub):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "keynote.png").write_bytes(picture_bytes((400, 200), RED))
    _one_celebrity(rekognition_stub, LOWER_LEFT)
    assert cli("recognize", str(folder / "keynote.png")).exit_code == 0
    first_version = function.calls[0].version_id
    (folder / "keynote.png").write_bytes(picture_bytes((400, 200), BLUE))
    _one_celebrity(rekognition_stub, MIDDLE)
    assert cli("recognize", str(folder / "keynote.png")).exit_code == 0
    latest_version = function.calls[1].version_id

    latest = cli("show", "keynote.png", "--out", str(tmp_path / "latest.png"))
    first = cli("show", "keynote.png", "--version", first_version, "--out", str(tmp_path / "first.png"))

    assert latest.exit_code == 0, latest.output
    assert first.exit_code == 0, first.output
    _assert_drawn(tmp_path / "latest.png", MIDDLE_PIXELS, BLUE)
    _assert_drawn(tmp_path / "first.png", LOWER_LEFT_PIXELS, RED)
    assert f"(version {latest_version}): 1 celebrity drawn in" in latest.stdout
    assert f"(version {first_version}): 1 celebrity drawn in" in first.stdout


def test_show_writes_jpeg_when_asked(cli, function, images, tmp_path, rekognition_stub):
    _one_celebrity(rekognition_stub, MIDDLE)
    folder = images("keynote.png", content=picture_bytes((400, 200)))
    assert cli("recognize", str(folder / "keynote.png")).exit_code == 0

    result = cli("show", "keynote.png", "--out", str(tmp_path / "pictures" / "keynote.JPG"))

    assert result.exit_code == 0, result.output
    picture = open_picture((tmp_path / "pictures" / "keynote.JPG").read_bytes())
    assert picture.format == "JPEG"
    # Lossy: the colours are near, not exact.
    assert_outline(picture, MIDDLE_PIXELS, GREEN, tolerance=40)
    assert_region(picture, (120, 80, 280, 120), BLUE, tolerance=12)


def test_show_of_a_version_never_analyzed_says_how_to_analyze_it(cli, stack, s3, tmp_path):
    version = s3.put_object(Bucket=stack.bucket, Key="new.png", Body=picture_bytes((400, 200)))["VersionId"]

    result = cli("show", "new.png", "--out", str(tmp_path / "new.png"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, f"(version {version}) has no stored result", "celeb recognize")
    assert not (tmp_path / "new.png").exists()


def test_show_of_a_failed_analysis_names_the_failure(cli, stack, s3, tmp_path):
    version = s3.put_object(Bucket=stack.bucket, Key="bad.png", Body=picture_bytes((400, 200)))["VersionId"]
    ref = ImageRef(stack.bucket, "bad.png", version)
    put_item(stack.table, failure_item(ref, "ImageFormatError", "not an image", FailureCause.IMAGE,
                                       "2026-11-26T11:29:25Z"))  # fmt: skip

    result = cli("show", "bad.png", "--out", str(tmp_path / "bad.png"))

    assert result.exit_code == ExitCode.FAILED
    assert_one_error_line(result.stderr, "analysis failed", "ImageFormatError: not an image")


def test_show_of_a_missing_object_or_version(cli, stack, s3, tmp_path):
    s3.put_object(Bucket=stack.bucket, Key="here.png", Body=picture_bytes((400, 200)))

    missing = cli("show", "nowhere.png", "--out", str(tmp_path / "x.png"))
    wrong_version = cli("show", "here.png", "--version", "no-such-version", "--out", str(tmp_path / "x.png"))

    assert missing.exit_code == ExitCode.USAGE
    assert_one_error_line(missing.stderr, f"s3://{stack.bucket}/nowhere.png: no such object")
    assert wrong_version.exit_code == ExitCode.USAGE
    assert_one_error_line(wrong_version.stderr, "no-such-version", "no such version")


def test_show_refuses_an_output_it_cannot_write_before_any_aws_call(cli, tmp_path):
    # No stack exists: the file name is checked first.
    result = cli("show", "keynote.png", "--out", str(tmp_path / "keynote.gif"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, "keynote.gif", ".png, .jpg or .jpeg")


def test_show_needs_the_results_table(cli, tmp_path):
    deploy("NoTable", with_table=False)

    result = cli("--stack", "NoTable", "show", "keynote.png", "--out", str(tmp_path / "keynote.png"))

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "ResultsTableName", "without the results table")


# --------------------------------------------------------------------------------------------
# With the watchlist: the watchlist function's real code searches the upload against the fake
# collection (served by the same HTTP Rekognition stub) and writes its match items to moto.

WATCHED = "Watched"
# A red "face" (the fake collection's faces are solid squares) at columns 280-359, rows 40-119.
ALICE_PIXELS = (280, 40, 359, 119)
FACE_RED = PALETTE["red"]


@pytest.fixture
def collection(rekognition_stub: RekognitionStub) -> Iterator[FaceCollection]:
    faces = FaceCollection(COLLECTION_ID)
    targets = faces.serve(rekognition_stub)
    enroll(faces, "alice", "red")
    yield faces
    for target in targets:
        rekognition_stub.operations.pop(target, None)


def _deploy_with_watchlist() -> Deployed:
    """The client tests' stack plus the watchlist's output and the table's person index."""
    function_name = f"{WATCHED}-Recognizer-WATCHLIST1"
    template = stack_template(function_name)
    template["Resources"]["Results"]["Properties"] = results_table_properties()
    template["Outputs"][str(StackOutput.WATCHLIST_COLLECTION)] = {"Value": COLLECTION_ID}
    cloudformation = aws_client("cloudformation")
    cloudformation.create_stack(StackName=WATCHED, TemplateBody=json.dumps(template))
    resources = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in cloudformation.describe_stack_resources(StackName=WATCHED)["StackResources"]
    }
    aws_client("s3").put_bucket_versioning(
        Bucket=resources["Images"], VersioningConfiguration={"Status": "Enabled"}
    )
    return Deployed(
        WATCHED, resources["Images"], function_name, function_arn(function_name), resources["Results"]
    )


def _run_watchlist_function(
    deployed: Deployed, key: str, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchlist function on the upload's event, as its queue delivers it, with its own clients."""
    from watchlist import handler

    monkeypatch.setenv(WATCHLIST_ENV_COLLECTION, COLLECTION_ID)
    monkeypatch.setenv(ENV_RESULTS_TABLE, str(deployed.table))
    monkeypatch.setattr(handler, "CLIENTS", handler.Clients())
    detail = {"bucket": {"name": deployed.bucket}, "object": {"key": key, "version-id": version}}
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    batch = {"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": json.dumps(event)}]}
    assert handler.lambda_handler(batch, None) == {"batchItemFailures": []}


def _assert_celebrity_and_match(path) -> None:
    picture = open_picture(path.read_bytes())
    assert_outline(picture, LOWER_LEFT_PIXELS, GREEN)
    assert_outline(picture, ALICE_PIXELS, ORANGE)
    # Inside the match's box the face is untouched; its label sits on the row above, in orange.
    assert_region(picture, (290, 50, 349, 109), FACE_RED)
    assert picture.getpixel((280, 39))[:3] == ORANGE
    # Nothing else drawn: right of the match, below both boxes.
    assert_region(picture, (360, 0, 399, 199), BACKGROUND)
    assert_region(picture, (120, 180, 399, 199), BACKGROUND)


def test_show_draws_each_watchlist_match_in_its_own_colour_with_person_and_similarity(
    cli, function, collection, tmp_path, rekognition_stub, monkeypatch
):
    deployed = _deploy_with_watchlist()
    serve_stack(function, deployed)
    _one_celebrity(rekognition_stub, LOWER_LEFT)
    upload = tmp_path / "lobby.png"
    upload.write_bytes(photo(400, 200, [("red", (280, 40, 360, 120))], fmt="PNG"))
    assert cli("--stack", WATCHED, "recognize", str(upload)).exit_code == 0
    version = function.calls[0].version_id

    # Before the watchlist function searched the version: the celebrity only, and a word about it.
    early = cli("--stack", WATCHED, "show", "lobby.png", "--out", str(tmp_path / "early.png"))
    assert early.exit_code == 0, early.output
    assert "1 celebrity and 0 watchlist matches (the watchlist has not searched" in early.stdout
    early_picture = open_picture((tmp_path / "early.png").read_bytes())
    assert_region(early_picture, ALICE_PIXELS, FACE_RED)  # no outline on the face, no label above it
    assert_region(early_picture, (200, 0, 399, 39), BACKGROUND)

    _run_watchlist_function(deployed, "lobby.png", version, monkeypatch)
    result = cli("--stack", WATCHED, "show", "lobby.png", "--out", str(tmp_path / "shown.png"))

    assert result.exit_code == 0, result.output
    assert f"(version {version}): 1 celebrity and 1 watchlist match drawn in" in result.stdout
    assert collection.calls["SearchUsersByImage"] == 1
    _assert_celebrity_and_match(tmp_path / "shown.png")


def test_show_labels_a_match_with_the_person_and_similarity(
    cli, function, collection, tmp_path, rekognition_stub, monkeypatch
):
    """The label's text, drawn the same way on a blank picture, is the one drawn above the match."""
    from PIL import ImageChops

    from celeb.annotate import LabeledBox, annotate

    deployed = _deploy_with_watchlist()
    serve_stack(function, deployed)
    rekognition_stub.celebrities = celebrities_response()
    collection.similarity["red"] = 99.37
    upload = tmp_path / "lobby.png"
    upload.write_bytes(photo(400, 200, [("red", (280, 40, 360, 120))], fmt="PNG"))
    assert cli("--stack", WATCHED, "recognize", str(upload)).exit_code == 0
    _run_watchlist_function(deployed, "lobby.png", function.calls[0].version_id, monkeypatch)

    assert cli("--stack", WATCHED, "show", "lobby.png", "--out", str(tmp_path / "shown.png")).exit_code == 0

    shown = open_picture((tmp_path / "shown.png").read_bytes()).convert("RGB")
    blank = open_picture(photo(400, 200, [("red", (280, 40, 360, 120))], fmt="PNG"))
    expected = annotate(blank, [LabeledBox(0.7, 0.2, 0.2, 0.4, "alice 99.3%", BoxKind.WATCHLIST)]).convert(
        "RGB"
    )
    assert ImageChops.difference(shown, expected).getbbox() is None


def test_recognize_annotate_draws_the_matches_the_watchlist_has_recorded(
    cli, function, collection, tmp_path, rekognition_stub, monkeypatch
):
    deployed = _deploy_with_watchlist()
    serve_stack(function, deployed)
    _one_celebrity(rekognition_stub, LOWER_LEFT)
    upload = tmp_path / "lobby.png"
    upload.write_bytes(photo(400, 200, [("red", (280, 40, 360, 120))], fmt="PNG"))

    # A fresh upload: the watchlist function has not searched it when the picture is drawn.
    first = cli("--stack", WATCHED, "recognize", "--annotate", str(tmp_path / "first"), str(upload))
    assert first.exit_code == 0, first.output
    assert "the watchlist has not searched it yet: `celeb show lobby.png --out FILE`" in first.stderr
    _run_watchlist_function(deployed, "lobby.png", function.calls[0].version_id, monkeypatch)
    again = cli(
        "--stack", WATCHED, "recognize", "--annotate", str(tmp_path / "again"),
        f"s3://{deployed.bucket}/lobby.png",
    )  # fmt: skip

    assert again.exit_code == 0, again.output
    assert "not searched" not in again.stderr
    assert_outline(open_picture((tmp_path / "first" / "lobby.png").read_bytes()), LOWER_LEFT_PIXELS, GREEN)
    _assert_celebrity_and_match(tmp_path / "again" / "lobby.png")
