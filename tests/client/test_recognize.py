"""`celeb recognize`: upload, invoke, show; and each failure as one line with its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from celeb_testkit import TWO_CELEBRITIES, assert_one_error_line, deploy

from celeb.aws import MAX_ATTEMPTS
from celeb.errors import ExitCode


def test_uploads_local_image_invokes_function_and_prints_table(cli, fake, images, s3):
    folder = images("bezos_demo_image.jpg")

    result = cli("recognize", "--prefix", "uploads/", str(folder / "bezos_demo_image.jpg"))

    assert result.exit_code == 0, result.output
    key = "uploads/bezos_demo_image.jpg"
    stored = s3.head_object(Bucket=fake.deployed.bucket, Key=key)
    assert stored["ContentType"] == "image/jpeg"
    # The case study's payload, sent to the function named by the stack's FunctionName output,
    # pinned to the version just uploaded (the one the upload's own notification analyzes).
    assert [(c.function_name, c.bucket, c.key, c.version_id) for c in fake.calls] == [
        (fake.deployed.function_name, fake.deployed.bucket, key, stored["VersionId"])
    ]
    out = result.stdout
    assert f"s3://{fake.deployed.bucket}/{key}" in out
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


def test_json_prints_one_document_with_every_result(cli, fake, images):
    folder = images("a.jpg", "b.png")

    result = cli("recognize", "--json", str(folder / "a.jpg"), str(folder / "b.png"))

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [entry["key"] for entry in document["results"]] == ["a.jpg", "b.png"]
    first = document["results"][0]
    assert first["status"] == "SUCCEEDED"
    assert first["source"] == str(folder / "a.jpg")
    assert first["version_id"]
    assert first["celebrities"] == TWO_CELEBRITIES
    assert first["unrecognized_faces"] == 1


def test_s3_uri_is_used_as_is_without_upload(cli, fake, s3):
    s3.put_object(Bucket=fake.deployed.bucket, Key="already/there.png", Body=b"\x89PNG\r\n\x1a\n....")

    result = cli("recognize", f"s3://{fake.deployed.bucket}/already/there.png")

    assert result.exit_code == 0, result.output
    assert [(c.key, c.version_id) for c in fake.calls] == [("already/there.png", None)]
    listed = s3.list_objects_v2(Bucket=fake.deployed.bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["already/there.png"]


def test_images_run_concurrently_within_max_concurrency(cli, fake, images):
    names = [f"face{number}.jpg" for number in range(8)]
    folder = images(*names)
    fake.delay = 0.25

    started = time.perf_counter()
    result = cli("recognize", "--max-concurrency", "3", *(str(folder / name) for name in names))
    elapsed = time.perf_counter() - started

    assert result.exit_code == 0, result.output
    assert sorted(fake.invoked_keys()) == sorted(names)
    assert fake.peak_in_flight == 3
    # Serially the 8 invocations alone would take 2 s; three at a time, three rounds (0.75 s).
    assert elapsed < 8 * fake.delay


def test_function_error_is_one_line_with_error_type_and_message(cli, fake, images):
    folder = images("good.jpg", "bad.jpg")
    fake.errors["bad.jpg"] = ("UnsupportedImageFormatError", "the image is too small (40x40 px)")

    result = cli("recognize", str(folder / "good.jpg"), str(folder / "bad.jpg"))

    assert result.exit_code == ExitCode.FAILED
    assert "Jeff Bezos" in result.stdout  # the other image is still shown
    assert_one_error_line(
        result.stderr, "bad.jpg", "UnsupportedImageFormatError", "the image is too small (40x40 px)"
    )


def test_function_error_in_json_output(cli, fake, images):
    folder = images("bad.jpg")
    fake.errors["bad.jpg"] = ("ImageNotFoundError", "gone")

    result = cli("recognize", "--json", str(folder / "bad.jpg"))

    assert result.exit_code == ExitCode.FAILED
    [entry] = json.loads(result.stdout)["results"]
    assert entry["status"] == "FAILED"
    assert entry["error_type"] == "ImageNotFoundError"
    assert_one_error_line(result.stderr, "ImageNotFoundError: gone")


def test_throttling_is_retried_then_reported(cli, fake, images):
    folder = images("a.jpg")
    fake.throttle = True

    result = cli("recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.THROTTLED
    assert len(fake.calls) == MAX_ATTEMPTS
    assert_one_error_line(result.stderr, "a.jpg", "throttled", f"after {MAX_ATTEMPTS} attempts")


def test_missing_file_is_a_usage_error_before_any_upload(cli, fake, images, s3):
    folder = images("a.jpg")

    result = cli("recognize", str(folder / "a.jpg"), str(folder / "missing.jpg"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, "missing.jpg: no such file")
    assert "Contents" not in s3.list_objects_v2(Bucket=fake.deployed.bucket)
    assert fake.calls == []


def test_not_an_image_is_rejected_by_its_leading_bytes(cli, fake, images, s3):
    folder = images("a.jpg")
    images("notes.jpg", content=b"just some text, named like a photo")

    result = cli("recognize", str(folder / "a.jpg"), str(folder / "notes.jpg"))

    assert result.exit_code == ExitCode.USAGE
    assert_one_error_line(result.stderr, "notes.jpg: not a JPEG or PNG image", "6a 75 73 74")
    assert "Contents" not in s3.list_objects_v2(Bucket=fake.deployed.bucket)
    assert fake.calls == []


def test_two_files_with_the_same_key_are_refused(cli, fake, tmp_path):
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


def test_stack_not_found(cli, fake, images):
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


def test_function_gone_is_a_configuration_error(cli, fake, images):
    fake.deployed = deploy("Other")  # the fake now only answers to another function's name
    folder = images("a.jpg")

    result = cli("recognize", str(folder / "a.jpg"))

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "a.jpg", "not found: is the stack fully deployed?")


def test_info_shows_the_outputs(cli, stack):
    result = cli("info", "--json")

    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["ImagesBucketName"] == stack.bucket
    assert outputs["ResultsTableName"] == stack.table
    assert outputs["FunctionArn"].endswith(f":function:{stack.function_name}")


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run(
        [sys.executable, "-m", "celeb", "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "celeb 0.1.0")
