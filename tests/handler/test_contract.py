"""The shared contract (recognizer.contract): result shape, table items and keys, formats, settings."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from recognizer.contract import (
    CONTENT_PREFIX,
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    MAX_KEY_BYTES,
    MAX_SORT_KEY_BYTES,
    SETTINGS,
    SETTINGS_BY_KEY,
    ContractError,
    FailureCause,
    ImageRef,
    ResultStatus,
    Setting,
    SettingError,
    celebrity_items,
    celebrity_sk,
    content_item,
    content_of,
    content_pk,
    detect_format,
    failure_item,
    image_pk,
    image_ref,
    image_ref_prefix,
    is_image_key,
    is_summary_item,
    may_succeed_later,
    read_result,
    result_of,
    summary_item,
    summary_sk,
)
from recognizer.results import build_result, content_analysis, reuse_result
from tests.handler.recognizer_testkit import BUCKET, WHEN, celebrities_response, celebrity_face, png_bytes

TEAM = celebrities_response(
    celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5, gender=None),
    celebrity_face("Werner Vogels", "3Ir0du6", 99.25, box=(0.1, 0.2, 0.3, 0.4)),
    unrecognized=1,
)
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def result_for(key: str = "team.jpg", version_id: str | None = "v1", response: dict | None = None) -> Any:
    return build_result(ImageRef(BUCKET, key, version_id), response or TEAM, 0.0, WHEN)


def through_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a GetItem returns it after a PutItem: typed by boto3 and read back."""
    typed = {name: _serializer.serialize(value) for name, value in item.items()}
    return {name: _deserializer.deserialize(value) for name, value in typed.items()}


# The result shape


@pytest.mark.parametrize("version_id", ["v1", None])
def test_read_result_accepts_what_build_result_produces(version_id: str | None) -> None:
    result = result_for(version_id=version_id)
    assert read_result(result) is result
    assert read_result(result_for(response=celebrities_response())) == result_for(
        response=celebrities_response()
    )
    assert read_result(result | {"answered_from": "table"})["answered_from"] == "table"


def _without(document: dict, *path: Any) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return changed


def _with(document: dict, value: Any, *path: Any) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


GOOD = result_for()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([GOOD], "result is [{"),
        (_without(GOOD, "bucket"), "result.bucket is None: expected a string"),
        (_with(GOOD, 3, "key"), "result.key is 3: expected a string"),
        (_with(GOOD, 7, "version_id"), "result.version_id is 7: expected a string or null"),
        (_with(GOOD, {}, "celebrities"), "result.celebrities is {}: expected a list"),
        (_with(GOOD, "2", "unrecognized_faces"), "result.unrecognized_faces is '2': expected a whole number"),
        (_with(GOOD, "2026-11-26 11:29:25", "analyzed_at"), "result.analyzed_at is '2026-11-26 11:29:25'"),
        (_with(GOOD, "2026-11-26T11:29:25.123Z", "analyzed_at"), "expected UTC time as 2026-11-26T11:29:25Z"),
        (_with(GOOD, "Vogels", "celebrities", 0), "result.celebrities[0] is 'Vogels': expected an object"),
        (_without(GOOD, "celebrities", 1, "name"), "result.celebrities[1].name is None"),
        (_with(GOOD, "99", "celebrities", 0, "confidence"), "result.celebrities[0].confidence is '99'"),
        (_with(GOOD, "u", "celebrities", 0, "urls"), "result.celebrities[0].urls is 'u'"),
        (_without(GOOD, "celebrities", 0, "bounding_box", "top"), "result.celebrities[0].bounding_box.top"),
    ],
)
def test_read_result_names_the_wrong_field_and_what_was_expected(document: Any, message: str) -> None:
    with pytest.raises(ContractError) as raised:
        read_result(document)
    assert message in str(raised.value)


# Table items


@pytest.mark.parametrize("version_id", ["v1", None])
def test_a_summary_item_round_trips_through_dynamodbs_types(version_id: str | None) -> None:
    result = result_for(version_id=version_id)
    item = summary_item(result)
    assert item["status"] == ResultStatus.SUCCEEDED and item["celebrity_count"] == 2
    assert ("version_id" in item) is (version_id is not None)  # never a null version attribute
    assert result_of(through_dynamodb(item)) == result
    assert result_of(item) == result


_ratio = st.integers(0, 10_000).map(lambda n: n / 10_000)
_confidence = st.integers(0, 10_000_000).map(lambda n: n / 100_000)
_celebrity = st.builds(
    lambda name, celebrity_id, match, face, gender, box: celebrity_face(
        name, celebrity_id, match, face_confidence=face, gender=gender, box=box
    ),
    st.text(min_size=1, max_size=30),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10),
    _confidence,
    _confidence,
    st.sampled_from(["Male", "Female", "Nonbinary", "Unlisted", None]),
    st.tuples(_ratio, _ratio, _ratio, _ratio),
)


@settings(deadline=None, max_examples=50)
@given(st.lists(_celebrity, max_size=8), st.integers(0, 20), st.one_of(st.none(), st.text(min_size=1)))
def test_any_result_round_trips_through_its_summary_item(
    faces: list, unrecognized: int, version: Any
) -> None:
    result = build_result(
        ImageRef(BUCKET, "k.png", version), celebrities_response(*faces, unrecognized=unrecognized), 0.0, WHEN
    )
    assert result_of(through_dynamodb(summary_item(result))) == result


SHA = "0123456789abcdef" * 4


@pytest.mark.parametrize("source_version", ["v1", None])
def test_a_reused_result_round_trips_through_its_summary_item(source_version: str | None) -> None:
    content = content_analysis(
        SHA, ImageRef(BUCKET, "first.jpg", source_version), TEAM, "2026-11-20T10:00:00Z"
    )
    result = reuse_result(ImageRef(BUCKET, "copy.jpg", "v7"), content, 99.0, WHEN)
    item = summary_item(result)
    assert ("version_id" in item["reused_from"]) is (source_version is not None)  # absent, not null
    assert result_of(through_dynamodb(item)) == result
    assert result["reused_from"]["version_id"] == source_version


@pytest.mark.parametrize(
    ("reused_from", "message"),
    [
        ("first.jpg", "result.reused_from is 'first.jpg': expected an object"),
        ({"sha256": "ABC"}, "result.reused_from.sha256 is 'ABC': expected 64 lower-case hex digits"),
        ({"sha256": SHA, "bucket": BUCKET, "key": 3}, "result.reused_from.key is 3: expected a string"),
    ],
)
def test_read_result_checks_where_a_reused_result_comes_from(reused_from: Any, message: str) -> None:
    with pytest.raises(ContractError) as raised:
        read_result(GOOD | {"reused_from": reused_from})
    assert message in str(raised.value)


@pytest.mark.parametrize("version_id", ["v1", None])
def test_a_content_record_round_trips_through_dynamodbs_types(version_id: str | None) -> None:
    content = content_analysis(SHA, ImageRef(BUCKET, "team.jpg", version_id), TEAM, "2026-11-26T11:29:25Z")
    item = content_item(content)
    assert item["pk"] == content_pk(SHA) == CONTENT_PREFIX + SHA and item["sk"] == "ANALYSIS"
    # No reader of results meets it: not under IMAGE#, not in the celebrity index.
    assert not item["pk"].startswith("IMAGE#") and "celebrity_name" not in item
    assert content_of(through_dynamodb(item)) == content


def test_summary_items_are_told_from_index_items_and_content_records() -> None:
    result = result_for()
    content = content_analysis(SHA, ImageRef(BUCKET, "team.jpg", "v1"), TEAM, "2026-11-26T11:29:25Z")
    summary, celebrity, record = summary_item(result), celebrity_items(result)[0], content_item(content)
    assert [is_summary_item(item) for item in (summary, celebrity, record)] == [True, False, False]
    assert [is_summary_item(_serializer.serialize(item)["M"]) for item in (summary, celebrity, record)] == [
        True,
        False,
        False,
    ]


def test_a_content_records_celebrities_keep_their_exact_numbers() -> None:
    exact = celebrities_response(celebrity_face("A", "1", 99.12345678901234, box=(0.1, 0.2, 0.3, 1 / 3)))
    content = content_analysis(SHA, ImageRef(BUCKET, "a.jpg", "v1"), exact, "2026-11-26T11:29:25Z")
    assert content_of(through_dynamodb(content_item(content))).celebrities == content.celebrities


def _analysis(**change: Any) -> str:
    content = content_analysis(SHA, ImageRef(BUCKET, "team.jpg", "v1"), TEAM, "2026-11-26T11:29:25Z")
    return json.dumps(json.loads(content_item(content)["analysis"]) | change)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"analysis": "[{"}, "analysis is not JSON"),
        ({"analysis": "[]"}, ".analysis is []: expected a JSON object"),
        ({"analysis": 7}, ".analysis is 7: expected a string"),
        ({"analysis": _analysis(celebrities=[{"name": "A"}])}, "analysis.celebrities[0].id is None"),
        (
            {"analysis": _analysis(unrecognized_faces="2")},
            "unrecognized_faces is '2': expected a whole number",
        ),
        ({"analysis": _analysis(version_id=3)}, "analysis.version_id is 3: expected a string or null"),
        ({"pk": "IMAGE#photos-bucket/team.jpg"}, ".pk is 'IMAGE#photos-bucket/team.jpg': expected CONTENT#"),
        ({"pk": "CONTENT#sha256:abc"}, "content digest 'abc': expected 64 lower-case hex digits"),
    ],
)
def test_content_of_names_what_is_wrong(item: dict[str, Any], message: str) -> None:
    content = content_analysis(SHA, ImageRef(BUCKET, "team.jpg", "v1"), TEAM, "2026-11-26T11:29:25Z")
    with pytest.raises(ContractError) as raised:
        content_of(content_item(content) | item)
    assert message in str(raised.value)


@pytest.mark.parametrize("digest", ["AB" * 32, "ab" * 31, "g" * 64, ""])
def test_content_keys_take_only_a_hex_sha256(digest: str) -> None:
    with pytest.raises(ContractError, match="expected 64 lower-case hex digits"):
        content_pk(digest)


def test_result_of_refuses_a_failure() -> None:
    item = failure_item(
        ImageRef(BUCKET, "a.txt"), "UnsupportedImageFormatError", "no", FailureCause.IMAGE, "x"
    )
    with pytest.raises(ContractError, match="is not a success"):
        result_of(item)


def test_celebrity_items_one_per_distinct_id_highest_confidence_first() -> None:
    response = celebrities_response(
        celebrity_face("Twin", "7", 80.0),
        celebrity_face("Twin", "7", 95.0),
        celebrity_face("No id", "", 90.0),
    )
    result = result_for(response=response)
    (twin,) = celebrity_items(result)
    assert twin["confidence"] == Decimal("95.0")
    assert twin["sk"] == celebrity_sk("v1", "7") == "VERSION#v1#CELEBRITY#7"
    assert (twin["celebrity_name"], twin["image_ref"]) == ("Twin", "photos-bucket/team.jpg#v1")
    assert twin["pk"] == image_pk(BUCKET, "team.jpg") == "IMAGE#photos-bucket/team.jpg"


def test_keys_spell_short_names_out_and_null_for_no_version() -> None:
    assert summary_sk(None) == "VERSION#null" and summary_sk("v1") == "VERSION#v1"
    assert image_ref(BUCKET, "team.jpg", None) == "photos-bucket/team.jpg#null"
    assert image_ref(BUCKET, "team.jpg", "v1").startswith(image_ref_prefix(BUCKET, "team.jpg"))


@pytest.mark.parametrize(
    ("status", "cause", "later"),
    [
        (ResultStatus.FAILED, FailureCause.IMAGE, False),
        (ResultStatus.FAILED, FailureCause.ENVIRONMENT, True),
        (ResultStatus.FAILED, None, True),  # recorded before causes were
        (ResultStatus.SUCCEEDED, None, False),
    ],
)
def test_may_succeed_later(status: ResultStatus, cause: FailureCause | None, later: bool) -> None:
    item = failure_item(ImageRef(BUCKET, "a.jpg"), "SomeError", "message", FailureCause.IMAGE, "x")
    item["status"] = str(status)
    if cause is None:
        del item["failure_cause"]
    else:
        item["failure_cause"] = str(cause)
    assert may_succeed_later(through_dynamodb(item)) is later


# Key bounds: every valid S3 key (1-1,024 UTF-8 bytes, any character) must fit DynamoDB's keys.

_characters = st.characters(exclude_categories=("Cs",))  # S3 keys are UTF-8: no lone surrogates
_bucket = st.from_regex(r"[0-9A-Za-z.\-_]{3,255}", fullmatch=True)
_key = st.text(_characters, min_size=1, max_size=1024).filter(lambda k: len(k.encode()) <= MAX_KEY_BYTES)


def _fill(start: str, pad: str, size: int) -> str:
    """``start`` then ``pad`` repeated up to ``size`` UTF-8 bytes (a key near S3's limit)."""
    room = max(size - len(start.encode()), 0) // len(pad.encode())
    return start + pad * room


# Near the limit, where image_ref must shorten: 1- to 4-byte characters, cut anywhere.
_long_keys = st.builds(
    _fill,
    st.text(_characters, max_size=40),
    st.sampled_from(["a", "é", "東", "😀", "#", "~"]),
    st.one_of(st.just(MAX_KEY_BYTES), st.integers(760, MAX_KEY_BYTES)),
).filter(bool)
_version = st.one_of(st.none(), st.text(_characters, min_size=1, max_size=1024))


@settings(deadline=None, max_examples=150)
@given(_bucket, st.one_of(_key, _long_keys), _version)
@example("b" * 63, "k" * MAX_KEY_BYTES, None)  # the longest name S3 gives: found every run
@example("b" * 255, "東" * 341 + "a", "v" * 1024)
def test_every_valid_key_fits_dynamodbs_key_limits(bucket: str, key: str, version: str | None) -> None:
    assert len(image_ref(bucket, key, version).encode()) <= MAX_SORT_KEY_BYTES
    assert len(celebrity_sk(version, "1SK7cR8M").encode()) <= MAX_SORT_KEY_BYTES
    assert len(image_pk(bucket, key).encode()) <= 2048  # DynamoDB's partition key limit
    assert image_ref(bucket, key, version).startswith(image_ref_prefix(bucket, key))


@settings(deadline=None, max_examples=150)
@given(_bucket, st.one_of(_key, _long_keys), st.one_of(_key, _long_keys))
def test_distinct_keys_of_a_bucket_have_distinct_image_refs(bucket: str, first: str, second: str) -> None:
    if first == second:
        return
    assert image_ref_prefix(bucket, first) != image_ref_prefix(bucket, second)
    assert image_ref(bucket, first, "v1") != image_ref(bucket, second, "v1")


def test_keys_sharing_a_long_start_stay_apart() -> None:
    # Two 1,024-byte keys that differ only in their last character: the readable start is cut
    # at the same place, so only the hash tells them apart.
    first, second = "a" * 1023 + "1", "a" * 1023 + "2"
    assert image_ref(BUCKET, first, None) != image_ref(BUCKET, second, None)
    assert len(image_ref(BUCKET, first, None).encode()) <= MAX_SORT_KEY_BYTES
    versions = ("v" * 1024, "v" * 1023 + "w")
    assert summary_sk(versions[0]) != summary_sk(versions[1])


def test_the_old_spelled_out_image_ref_did_not_fit() -> None:
    # What the celebrity index held before: bucket/key#version, over the limit for long keys.
    key = "k" * MAX_KEY_BYTES
    assert len(f"{BUCKET}/{key}#null".encode()) > MAX_SORT_KEY_BYTES
    assert len(image_ref(BUCKET, key, None).encode()) <= MAX_SORT_KEY_BYTES


# Images


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("a.jpg", True),
        ("a.JPG", True),
        ("b.Jpeg", True),
        ("c.PnG", True),
        ("dir.png/d.gif", False),
        ("jpg", False),
        ("e.jpg.txt", False),
        ("f.jpgx", False),
    ],
)
def test_is_image_key_ignores_case(key: str, accepted: bool) -> None:
    assert is_image_key(key) is accepted


def test_every_suffix_in_any_case_is_an_image_key() -> None:
    for suffix in IMAGE_SUFFIXES:
        assert is_image_key("x" + suffix.upper()) and is_image_key("x" + suffix.lower())


def test_formats_are_told_by_magic_bytes() -> None:
    jpeg, png = (next(f for f in IMAGE_FORMATS if f.name == name) for name in ("jpeg", "png"))
    assert detect_format(png_bytes(100, 100)) == png and png.content_type == "image/png"
    assert detect_format(b"\xff\xd8\xff\xe0rest") == jpeg
    assert detect_format(b"GIF89a....") is None
    assert detect_format(b"\x89PNG") is None  # truncated signature
    assert detect_format(b"") is None


# Settings: one parser per kind


def setting(**fields: Any) -> Setting:
    return Setting("example", None, "an example", **fields)


@pytest.mark.parametrize(
    ("value", "parsed"), [("true", True), (" FALSE ", False), (True, True), (False, False)]
)
def test_bool_settings(value: Any, parsed: bool) -> None:
    assert setting(kind="bool").parse(value) is parsed


@pytest.mark.parametrize("value", ["yes", "1", 1, None, ""])
def test_bool_settings_refuse_other_spellings(value: Any) -> None:
    with pytest.raises(SettingError, match="expected true or false"):
        setting(kind="bool").parse(value)


def test_int_settings_take_whole_numbers_within_bounds() -> None:
    attempts = setting(kind="int", low=1, high=10)
    assert attempts.parse("1") == 1 and attempts.parse(" 10 ") == 10 and attempts.parse(7) == 7
    for bad in ("0", "11", "2.5", 2.0, True, "", "five", None):
        with pytest.raises(SettingError) as raised:
            attempts.parse(bad)
        assert str(raised.value) == f"{bad!r}: expected a whole number from 1 to 10"


def test_int_settings_with_choices_take_only_those() -> None:
    retention = SETTINGS_BY_KEY["log_retention_days"]
    assert retention.parse("30") == 30 and retention.parse(3653) == 3653
    with pytest.raises(SettingError, match="expected one of 1, 3, 5, 7, 14, 30"):
        retention.parse("31")


def test_number_settings() -> None:
    confidence = setting(kind="number", low=0, high=100)
    assert confidence.parse("92.5") == 92.5 and confidence.parse(100) == 100.0 and confidence.parse("0") == 0
    for bad in ("-1", "100.01", "nan", "inf", "abc", True, None):
        with pytest.raises(SettingError, match="expected a number from 0 to 100"):
            confidence.parse(bad)
    assert confidence.to_env(92.5) == "92.5" and confidence.to_env(0.0) == "0"


def test_choice_settings_ignore_case_and_return_the_listed_spelling() -> None:
    mode = setting(kind="choice", choices=("standard", "adaptive"))
    assert mode.parse("Adaptive") == "adaptive" and mode.parse(" STANDARD ") == "standard"
    for bad in ("legacy", "", 3):
        with pytest.raises(SettingError, match="expected one of standard, adaptive"):
            mode.parse(bad)


def test_text_settings_follow_their_pattern() -> None:
    email = SETTINGS_BY_KEY["alarm_email"]
    assert email.parse("") == "" and email.parse("ops@example.com") == "ops@example.com"
    with pytest.raises(SettingError, match="expected an email address, or empty"):
        email.parse("not-an-email")
    with pytest.raises(SettingError, match="expected a string"):
        setting().parse(7)


def test_every_default_is_a_value_its_setting_accepts() -> None:
    for each in SETTINGS:
        assert each.parse(each.default) == each.default, each.key
        assert each.parse(each.to_env(each.default)) == each.default, each.key
