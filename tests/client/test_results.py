"""`celeb results`: a scan of summaries, one image's versions, one celebrity's images (the GSI)."""

from __future__ import annotations

import json

from celeb_testkit import JPEG_BYTES, analyze, assert_one_error_line, deploy

from celeb.errors import ExitCode


def _put(s3, fake, key: str, body: bytes = JPEG_BYTES) -> str:
    return s3.put_object(Bucket=fake.deployed.bucket, Key=key, Body=body)["VersionId"]


def test_lists_summaries_with_failures_and_their_reason(cli, fake, s3):
    for key in ("team/a.jpg", "team/b.jpg", "team/c.jpg"):
        _put(s3, fake, key)
    fake.errors["team/c.jpg"] = ("UnsupportedImageFormatError", "image smaller than 80 px")
    for key in ("team/a.jpg", "team/b.jpg", "team/c.jpg"):
        analyze(fake, key)

    result = cli("results")

    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "team/" in line]
    assert len(rows) == 3  # summary items only, not the celebrity items
    failed = next(line for line in rows if "team/c.jpg" in line)
    assert "FAILED" in failed
    assert "UnsupportedImageFormatError: image smaller than 80 px" in result.stdout
    assert "Jeff Bezos (99.99%)" in result.stdout


def test_image_shows_each_version(cli, fake, s3):
    first = _put(s3, fake, "family.jpg")
    analyze(fake, "family.jpg")
    second = _put(s3, fake, "family.jpg", body=b"not an image any more")
    analyze(fake, "family.jpg")

    result = cli("results", "--image", "family.jpg")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index(first) < out.index(second)  # oldest analysis first
    assert "SUCCEEDED" in out and "FAILED" in out
    assert "UnsupportedImageFormatError: the image is not a JPEG or PNG" in out

    as_json = cli("results", "--json", "--image", f"s3://{fake.deployed.bucket}/family.jpg")
    items = json.loads(as_json.stdout)["items"]
    assert [(item["version_id"], item["status"]) for item in items] == [
        (first, "SUCCEEDED"),
        (second, "FAILED"),
    ]
    # DynamoDB's Decimals come out as JSON numbers.
    assert items[0]["celebrity_count"] == 2
    assert items[0]["celebrities"][0]["confidence"] == 99.9981


def test_celebrity_queries_the_index(cli, fake, s3):
    for key in ("a.jpg", "b.jpg"):
        _put(s3, fake, key)
        analyze(fake, key)

    everywhere = cli("results", "--json", "--celebrity", "Andy Jassy")
    one_image = cli("results", "--json", "--celebrity", "Andy Jassy", "--image", "b.jpg")
    table = cli("results", "--celebrity", "Jeff Bezos")
    nobody = cli("results", "--celebrity", "jeff bezos")

    assert [item["key"] for item in json.loads(everywhere.stdout)["items"]] == ["a.jpg", "b.jpg"]
    [item] = json.loads(one_image.stdout)["items"]
    assert (item["key"], item["celebrity_id"], item["confidence"]) == ("b.jpg", "3Ir0du6", 98.7415)
    assert table.exit_code == 0 and "Images with Jeff Bezos" in table.stdout
    assert table.stdout.count(".jpg") == 2
    assert nobody.exit_code == 0 and "no image with 'jeff bezos'" in nobody.stdout


def test_limit_stops_the_scan(cli, fake, s3):
    for number in range(7):
        _put(s3, fake, f"crowd/{number}.jpg")
        analyze(fake, f"crowd/{number}.jpg")

    result = cli("results", "--limit", "3")
    as_json = cli("results", "--json", "--limit", "3")

    assert result.exit_code == 0, result.output
    assert result.stdout.count("crowd/") == 3
    assert "first 3 shown: raise --limit to see more" in result.stdout
    assert json.loads(as_json.stdout)["count"] == 3


def test_empty_table(cli, stack):
    result = cli("results")

    assert (result.exit_code, result.stdout.strip()) == (0, "no results in the table yet")


def test_stack_without_results_table_is_a_clear_error(cli):
    deploy("NoTable", with_table=False)

    result = cli("--stack", "NoTable", "results")

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(
        result.stderr, "stack 'NoTable' has no ResultsTableName output", "results_table=false"
    )


def test_keys_and_messages_are_shown_verbatim(cli, fake, s3):
    key = "odd/[/bold] [red]name.jpg"  # rich markup, if it were read as such, would fail or vanish
    _put(s3, fake, key)
    fake.errors[key] = ("InvalidImageError", "bad [/] bytes")
    analyze(fake, key)

    listing = cli("results")
    history = cli("results", "--image", key)

    assert listing.exit_code == 0 and history.exit_code == 0, listing.output + history.output
    assert key in listing.stdout and "bad [/] bytes" in listing.stdout
    assert "InvalidImageError: bad [/] bytes" in history.stdout
