"""`celeb results`: a scan of summaries, one image's versions, one celebrity's images (the index).

Every item is written by the real function (through its upload path or a `celeb recognize`), so
the client is tested against what the function stores, not against a copy of its format.
"""

from __future__ import annotations

import json

from celeb.errors import ExitCode
from recognizer.contract import (
    PARTITION_KEY,
    SORT_KEY,
    FailureCause,
    ImageRef,
    ResultStatus,
    celebrity_items,
    failure_item,
    from_decimals,
    image_pk,
    summary_item,
    summary_sk,
)
from tests.client.celeb_testkit import (
    GIF_BYTES,
    JPEG_BYTES,
    TOO_SMALL_JPEG,
    assert_one_error_line,
    deploy,
    put_item,
)
from tests.handler.recognizer_testkit import jpeg_bytes


def _upload(s3, function, stack, key: str, body: bytes = JPEG_BYTES) -> str:
    """Upload as any user would (no marker): the upload's event has the function analyze it."""
    version = s3.put_object(Bucket=stack.bucket, Key=key, Body=body)["VersionId"]
    assert function.deliver_upload(stack.bucket, key, version) == {"batchItemFailures": []}
    return version


def test_stored_items_are_the_contracts_items(cli, function, stack, images):
    """What the function stored is exactly what the contract's builders make of the result it
    returned; so the client, which reads with the contract, reads what the function writes."""
    folder = images("keynote.jpg")
    images("thumbnail.jpg", content=TOO_SMALL_JPEG)
    recognized = cli("recognize", "--json", str(folder / "keynote.jpg"), str(folder / "thumbnail.jpg"))
    success, failure = json.loads(recognized.stdout)["results"]
    # The recognize document is the function's result plus where it came from and its status.
    result = {name: value for name, value in success.items() if name not in ("source", "status")}
    assert "answered_from" not in result  # a fresh analysis

    summaries = json.loads(cli("results", "--json", "--image", "keynote.jpg").stdout)["items"]
    appearances = [
        item
        for name in ("Jeff Bezos", "Andy Jassy")
        for item in json.loads(cli("results", "--json", "--celebrity", name).stdout)["items"]
    ]
    [failed] = json.loads(cli("results", "--json", "--image", "thumbnail.jpg").stdout)["items"]

    assert summaries == [from_decimals(summary_item(result))]
    assert appearances == from_decimals(celebrity_items(result))
    ref = ImageRef(stack.bucket, "thumbnail.jpg", failed.get("version_id"))
    assert ref.version_id is not None  # pinned to the uploaded version
    assert failed == failure_item(
        ref, failure["error_type"], failure["error_message"], FailureCause.IMAGE, failed["analyzed_at"]
    )
    assert failed["error_type"] == "ImageTooSmallError"


def test_lists_summaries_with_failures_and_their_reason(cli, function, stack, s3):
    for key, body in (("team/a.jpg", JPEG_BYTES), ("team/b.jpg", JPEG_BYTES), ("team/c.jpg", TOO_SMALL_JPEG)):
        _upload(s3, function, stack, key, body)

    result = cli("results")

    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "team/" in line]
    assert len(rows) == 3  # summary items only, not the celebrity items
    failed = next(line for line in rows if "team/c.jpg" in line)
    assert "FAILED" in failed and "ImageTooSmallError: " in failed
    assert "40x40" in result.stdout
    assert "Jeff Bezos (99.99%)" in result.stdout


def test_image_shows_each_version(cli, function, stack, s3):
    first = _upload(s3, function, stack, "family.jpg")
    second = _upload(s3, function, stack, "family.jpg", body=GIF_BYTES)

    result = cli("results", "--image", "family.jpg")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert first in out and second in out
    assert "SUCCEEDED" in out and "FAILED" in out
    assert "UnsupportedImageFormatError: " in out

    as_json = cli("results", "--json", "--image", f"s3://{stack.bucket}/family.jpg")
    items = json.loads(as_json.stdout)["items"]
    assert sorted((item["version_id"], item["status"]) for item in items) == sorted(
        [(first, "SUCCEEDED"), (second, "FAILED")]
    )
    # DynamoDB's Decimals come out as JSON numbers.
    [succeeded] = [item for item in items if item["status"] == "SUCCEEDED"]
    assert succeeded["celebrity_count"] == 2
    assert succeeded["celebrities"][0]["confidence"] == 99.9981


def test_image_versions_are_listed_oldest_analysis_first(cli, stack):
    # The function stamps analyses to the second; two at distinct times, written in reverse.
    for version, when in (("v2", "2026-11-26T12:00:05Z"), ("v1", "2026-11-26T12:00:01Z")):
        ref = ImageRef(stack.bucket, "family.jpg", version)
        put_item(stack.table, failure_item(ref, "ImageNotFoundError", "gone", FailureCause.ENVIRONMENT, when))

    items = json.loads(cli("results", "--json", "--image", "family.jpg").stdout)["items"]

    assert [item["version_id"] for item in items] == ["v1", "v2"]


def test_celebrity_queries_the_index(cli, function, stack, s3):
    for key in ("a.jpg", "b.jpg"):
        _upload(s3, function, stack, key)
    # Other bytes: identical ones would be answered from the first analysis (content dedup).
    _upload(s3, function, stack, "noface.jpg", body=jpeg_bytes(120, 96))

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


def test_celebrity_in_one_image_with_a_key_of_nearly_1024_bytes(cli, function, stack, s3):
    """Keys this long are shortened with a hash in the index: the client must use the contract's prefix."""
    stem = "long/" + "é" * 400 + "x" * 200  # 1,005 UTF-8 bytes with the suffix
    key, sibling = stem + "-a.jpg", stem + "-b.jpg"
    assert len(key.encode()) > 1000
    for name in (key, sibling):
        s3.put_object(Bucket=stack.bucket, Key=name, Body=JPEG_BYTES)
        assert cli("recognize", f"s3://{stack.bucket}/{name}").exit_code == 0

    found = cli("results", "--json", "--celebrity", "Jeff Bezos", "--image", key)

    assert found.exit_code == 0, found.output
    assert [item["key"] for item in json.loads(found.stdout)["items"]] == [key]


def test_limit_stops_the_scan(cli, function, stack, s3):
    for number in range(7):
        _upload(s3, function, stack, f"crowd/{number}.jpg")

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


def test_item_the_client_cannot_read_is_one_error_line(cli, stack):
    # E.g. a function of a newer contract than this client: a success without its celebrities.
    put_item(
        stack.table,
        {
            PARTITION_KEY: image_pk(stack.bucket, "x.jpg"),
            SORT_KEY: summary_sk("v1"),
            "status": str(ResultStatus.SUCCEEDED),
            "bucket": stack.bucket,
            "key": "x.jpg",
            "analyzed_at": "2026-11-26T12:00:01Z",
        },
    )

    result = cli("results")

    assert result.exit_code == ExitCode.CONFIG
    assert_one_error_line(result.stderr, "holds an item this client cannot read", "celebrities")


def test_keys_and_messages_are_shown_verbatim(cli, function, stack, s3):
    key = "odd/[/bold] [red]name.jpg"  # rich markup, if it were read as such, would fail or vanish
    s3.put_object(Bucket=stack.bucket, Key=key, Body=TOO_SMALL_JPEG)
    cli("recognize", f"s3://{stack.bucket}/{key}")

    listing = cli("results")
    history = cli("results", "--image", key)

    assert listing.exit_code == 0 and history.exit_code == 0, listing.output + history.output
    assert key in listing.stdout
    assert "ImageTooSmallError: " in history.stdout and "[red]name.jpg" in history.stdout
