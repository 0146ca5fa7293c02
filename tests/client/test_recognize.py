"""`celeb recognize`: upload, invoke the real function, show; each failure one line with its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from celeb.aws import MAX_ATTEMPTS
from celeb.errors import ExitCode
from recognizer.contract import ANALYSIS_METADATA_KEY, ANALYSIS_ON_REQUEST, ANSWERED_FROM_TABLE
from tests.client.celeb_testkit import (
    GIF_BYTES,
    PNG_BYTES,
    TOO_SMALL_JPEG,
    TWO_CELEBRITIES,
    assert_one_error_line,
    deploy,
    serve_stack,
)


def test_uploads_local_image_invokes_function_and_prints_table(cli, function, images, s3, rekognition_stub):
    folder = images("bezos_demo_image.jpg")

    result = cli("recognize", "--prefix", "uploads/", str(folder / "bezos_demo_image.jpg"))

    assert result.exit_code == 0, result.output
    key = "uploads/bezos_demo_image.jpg"
    bucket = function.calls[0].bucket
    stored = s3.head_object(Bucket=bucket, Key=key)
    assert stored["ContentType"] == "image/jpeg"
    # The case study's payload, sent to the function named by the stack's FunctionName output,
    # pinned to the version just uploaded; Rekognition was asked about that very version.
    assert [(c.function_name, c.key, c.version_id) for c in function.calls] == [
        (function.function_name, key, stored["VersionId"])
    ]
    assert rekognition_stub.requests == [{"Bucket": bucket, "Name": key, "Version": stored["VersionId"]}]
    out = result.stdout
    assert f"s3://{bucket}/{key}" in out
    assert f"(version {stored['VersionId']})" in out
    assert "· 2 celebrities · 1 unrecognized face\n" in out
    for name, confidence, url in (
        ("Jeff Bezos", "99.99%", "www.wikidata.org/wiki/Q312556"),
        ("Andy Jassy", "98.74%", "-"),
    ):
        row = next(line for line in out.splitlines() if name in line)
        assert confidence in row and url in row
    assert "left 0.142, top 0.170" in out and "0.191 x 0.385" in out
    assert result.stderr == ""


@pytest.mark.parametrize("with_table", [True, False], ids=["with-table", "without-table"])
@pytest.mark.parametrize("event", ["first", "last"], ids=["upload-event-first", "upload-event-last"])
def test_one_rekognition_call_per_image(cli, function, images, s3, rekognition_stub, with_table, event):
    """The upload's own event reaches the function too, before or after the client's invocation:
    still exactly one Rekognition call per image, whether or not the stack stores results."""
    stack_options: tuple[str, ...] = ()
    if not with_table:
        serve_stack(function, deploy("NoTable", with_table=False))
        stack_options = ("--stack", "NoTable")
    uploaded: list[tuple[str, str, str]] = []

    def upload_event_arrives(call) -> None:
        uploaded.append((call.bucket, call.key, call.version_id))
        if event == "first":
            answer = function.deliver_upload(call.bucket, call.key, call.version_id)
            assert answer == {"batchItemFailures": []}

    function.on_invoke = upload_event_arrives
    folder = images("a.jpg", "b.png")

    result = cli(*stack_options, "recognize", str(folder / "a.jpg"), str(folder / "b.png"))
    if event == "last":
        for bucket, key, version_id in uploaded:
            assert function.deliver_upload(bucket, key, version_id) == {"batchItemFailures": []}

    assert result.exit_code == 0, result.output
    assert len(uploaded) == 2
    assert dict(rekognition_stub.calls) == {"a.jpg": 1, "b.png": 1}
    for bucket, key, version_id in uploaded:
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
        assert head["Metadata"] == {ANALYSIS_METADATA_KEY: ANALYSIS_ON_REQUEST}
        assert head["ContentType"] == ("image/png" if key.endswith(".png") else "image/jpeg")


def test_json_prints_one_document_with_every_result(cli, function, images):
    folder = images("a.jpg", "b.png")

    result = cli("recognize", "--json", str(folder / "a.jpg"), str(folder / "b.png"))

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [entry["key"] for entry in document["results"]] == ["a.jpg", "b.png"]
    first = document["results"][0]
    assert first["status"] == "SUCCEEDED"
    assert first["source"] == str(folder / "a.jpg")
    assert first["version_id"]
    # The function's result shape (the contract's RecognitionResult), highest confidence first.
    assert first["celebrities"] == TWO_CELEBRITIES
    assert first["unrecognized_faces"] == 1


def test_s3_uri_is_used_as_is_without_upload(cli, function, stack, s3, rekognition_stub):
    s3.put_object(Bucket=stack.bucket, Key="already/there.png", Body=PNG_BYTES)
    uri = f"s3://{stack.bucket}/already/there.png"

    first = cli("recognize", uri)
    again = cli("recognize", "--json", uri)
    shown_again = cli("recognize", uri)

    assert first.exit_code == 0, first.output
    assert [(c.key, c.version_id) for c in function.calls] == [("already/there.png", None)] * 3
    listed = s3.list_objects_v2(Bucket=stack.bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["already/there.png"]
    # Once stored, the result answers: no second Rekognition call, and the client says so.
    assert rekognition_stub.calls["already/there.png"] == 1
    [entry] = json.loads(again.stdout)["results"]
    assert entry["answered_from"] == ANSWERED_FROM_TABLE
    assert "· stored result, no new analysis" in shown_again.stdout
    assert "· stored result" not in first.stdout


def test_images_run_concurrently_within_max_concurrency(cli, function, images):
    names = [f"face{number}.jpg" for number in range(8)]
    folder = images(*names)
    # The first three executions wait for each other: only three at a time let them all through.
    all_three_in_flight = threading.Barrier(3, timeout=30)
    order = iter(range(len(names)))

    def meet(call) -> None:
        if next(order) < 3:
            all_three_in_flight.wait()

    function.on_invoke = meet

    result = cli("recognize", "--max-concurrency", "3", *(str(folder / name) for name in names))

    assert result.exit_code == 0, result.output
    assert sorted(function.invoked_keys()) == sorted(names)
    assert function.peak_in_flight == 3


def test_function_error_is_one_line_with_error_type_and_message(cli, function, images, rekognition_stub):
    folder = images("good.jpg")
    images("thumbnail.jpg", content=TOO_SMALL_JPEG)

    result = cli("recognize", str(folder / "good.jpg"), str(folder / "thumbnail.jpg"))

    assert result.exit_code == ExitCode.FAILED
    assert "Jeff Bezos" in result.stdout  # the other image is still shown
    assert_one_error_line(result.stderr, "thumbnail.jpg", "ImageTooSmallError", "40x40")
    assert rekognition_stub.calls["thumbnail.jpg"] == 0  # the function read the size from the header


def test_function_error_in_json_output(cli, function, images):
    folder = images("thumbnail.jpg", content=TOO_SMALL_JPEG)

    result = cli("recognize", "--json", str(folder / "thumbnail.jpg"))

    assert result.exit_code == ExitCode.FAILED
    [entry] = json.loads(result.stdout)["results"]
    assert (entry["status"], entry["error_type"]) == ("FAILED", "ImageTooSmallError")
    assert entry["key"] == "thumbnail.jpg" and "40x40" in entry["error_message"]
    assert_one_error_line(result.stderr, "thumbnail.jpg", "ImageTooSmallError")


@pytest.mark.parametrize(
    ("name", "error_type"),
    [
        ("unreadable.jpg", "UnsupportedImageFormatError"),  # InvalidImageFormatException
        ("denied.jpg", "RekognitionAccessDeniedError"),  # AccessDeniedException
    ],
)
def test_rekognition_refusals_reach_the_user_by_name(cli, function, images, name, error_type):
    folder = images(name)

    result = cli("recognize", str(folder / name))

    assert result.exit_code == ExitCode.FAILED
    assert_one_error_line(result.stderr, name, f"{error_type}: ")


def test_throttling_is_retried_then_reported(cli, function, images, rekognition_stub):
    folder = images("a.jpg")
    function.throttle = True

    result = cli("recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.THROTTLED
    assert len(function.calls) == MAX_ATTEMPTS
    assert rekognition_stub.requests == []
    assert_one_error_line(result.stderr, "a.jpg", "throttled", f"after {MAX_ATTEMPTS} attempts")


def test_missing_file_is_a_usage_error_before_any_upload(cli, function, stack, images, s3):
    folder = images("a.jpg")

    result = cli("recognize", str(folder / "a.jpg"), str(folder / "missing.jpg"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, "missing.jpg: no such file")
    assert "Contents" not in s3.list_objects_v2(Bucket=stack.bucket)
    assert function.calls == []


def test_not_an_image_is_rejected_by_its_leading_bytes(cli, function, stack, images, s3):
    folder = images("a.jpg")
    images("notes.jpg", content=b"just some text, named like a photo")
    images("anim.png", content=GIF_BYTES)

    notes = cli("recognize", str(folder / "a.jpg"), str(folder / "notes.jpg"))
    gif = cli("recognize", str(folder / "anim.png"))

    assert (notes.exit_code, gif.exit_code) == (ExitCode.USAGE, ExitCode.USAGE)
    assert_one_error_line(notes.stderr, "notes.jpg: not a JPEG or PNG image", "6a 75 73 74")
    assert_one_error_line(gif.stderr, "anim.png: not a JPEG or PNG image", "47 49 46 38")
    assert "Contents" not in s3.list_objects_v2(Bucket=stack.bucket)
    assert function.calls == []


def test_two_files_with_the_same_key_are_refused(cli, function, tmp_path):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes(b"\xff\xd8\xff\xe0")

    result = cli("recognize", str(tmp_path / "one/x.jpg"), str(tmp_path / "two/x.jpg"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, "would both upload to the key 'x.jpg'")


def test_no_credentials(cli, images, monkeypatch):
    folder = images("a.jpg")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    result = cli("recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.AWS_ACCESS
    assert_one_error_line(result.stderr, "no AWS credentials found")


def test_unknown_profile(cli, images):
    folder = images("a.jpg")

    result = cli("--profile", "nobody", "recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "AWS profile 'nobody' not found")


def test_stack_not_found(cli, function, images):
    folder = images("a.jpg")

    result = cli("--stack", "NoSuchStack", "recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "stack 'NoSuchStack' not found in region us-east-1")


def test_missing_output(cli, images):
    deploy("HalfDeployed", omit=("FunctionName",))
    folder = images("a.jpg")

    result = cli("--stack", "HalfDeployed", "recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "stack 'HalfDeployed'", "has no FunctionName output")


def test_function_gone_is_a_configuration_error(cli, function, images):
    function.function_name = function.function_arn = "another-function"  # the service knows only that one
    folder = images("a.jpg")

    result = cli("recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "a.jpg", "not found: is the stack fully deployed?")


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run(
        [sys.executable, "-m", "celeb", "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "celeb 0.1.0")
