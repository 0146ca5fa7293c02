"""`celeb show` and `celeb recognize --annotate`: the real function's stored result drawn on the image
version it belongs to (moto, the Rekognition stub), checked pixel by pixel on generated pictures."""

from __future__ import annotations

from celeb.annotate import COLOURS, BoxKind
from celeb.errors import ExitCode
from recognizer.contract import FailureCause, ImageRef, failure_item
from tests.client.celeb_testkit import assert_one_error_line, deploy, put_item
from tests.client.picture_testkit import BLUE, RED, assert_outline, assert_region, open_picture, picture_bytes
from tests.handler.recognizer_testkit import celebrities_response, celebrity_face

GREEN = COLOURS[BoxKind.CELEBRITY]
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
