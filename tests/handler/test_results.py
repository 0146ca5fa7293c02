"""Shaping RecognizeCelebrities responses into results (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from recognizer.contract import ImageRef, read_result
from recognizer.results import build_result, content_analysis, reuse_result, shape_celebrities, utc_timestamp
from tests.handler.recognizer_testkit import WHEN, celebrities_response, celebrity_face


def test_result_shape_and_order() -> None:
    response = celebrities_response(
        celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5, box=(0.2, 0.3, 0.4, 0.1)),
        celebrity_face("Werner Vogels", "3Ir0du6", 99.9, face_confidence=99.1, gender=None),
        celebrity_face("Andy Jassy", "2Pd9tZ", 91.0, gender="Male"),
        unrecognized=2,
    )
    result = build_result(ImageRef("photos-bucket", "team.jpg", "v1"), response, 0.0, WHEN)
    assert result == {
        "bucket": "photos-bucket",
        "key": "team.jpg",
        "version_id": "v1",
        "celebrities": [
            {
                "name": "Werner Vogels",
                "id": "3Ir0du6",
                "confidence": 99.9,
                "face_confidence": 99.1,
                "urls": ["www.wikidata.org/wiki/Q3Ir0du6", "www.imdb.com/name/nm3Ir0du6"],
                "known_gender": None,
                "bounding_box": {"width": 0.25, "height": 0.3, "left": 0.1, "top": 0.2},
            },
            {
                "name": "Jeff Bezos",
                "id": "1SK7cR8M",
                "confidence": 98.5,
                "face_confidence": 99.9,
                "urls": ["www.wikidata.org/wiki/Q1SK7cR8M", "www.imdb.com/name/nm1SK7cR8M"],
                "known_gender": "Male",
                "bounding_box": {"width": 0.2, "height": 0.3, "left": 0.4, "top": 0.1},
            },
            {
                "name": "Andy Jassy",
                "id": "2Pd9tZ",
                "confidence": 91.0,
                "face_confidence": 99.9,
                "urls": ["www.wikidata.org/wiki/Q2Pd9tZ", "www.imdb.com/name/nm2Pd9tZ"],
                "known_gender": "Male",
                "bounding_box": {"width": 0.25, "height": 0.3, "left": 0.1, "top": 0.2},
            },
        ],
        "unrecognized_faces": 2,
        "analyzed_at": "2026-11-26T11:29:25Z",
    }
    assert json.loads(json.dumps(result)) == result  # JSON as Lambda returns it
    assert read_result(result) == result  # the contract's shape


def test_min_confidence_drops_lower_matches_but_keeps_equal() -> None:
    response = celebrities_response(
        celebrity_face("A", "1", 80.0), celebrity_face("B", "2", 95.0), celebrity_face("C", "3", 94.99)
    )
    assert [c["name"] for c in shape_celebrities(response, 95.0)] == ["B"]
    assert [c["name"] for c in shape_celebrities(response, 80.0)] == ["B", "C", "A"]


def test_no_face_is_an_empty_result() -> None:
    result = build_result(ImageRef("photos-bucket", "sky.png"), celebrities_response(), 0.0, WHEN)
    assert result["celebrities"] == [] and result["unrecognized_faces"] == 0 and result["version_id"] is None


def test_missing_fields_become_null_or_empty_not_key_errors() -> None:
    shaped = shape_celebrities({"CelebrityFaces": [{"Name": "X", "MatchConfidence": 50}, "junk"]}, 0.0)
    assert shaped == [
        {
            "name": "X",
            "id": "",
            "confidence": 50.0,
            "face_confidence": 0.0,
            "urls": [],
            "known_gender": None,
            "bounding_box": {"width": 0.0, "height": 0.0, "left": 0.0, "top": 0.0},
        }
    ]
    assert shape_celebrities({}, 0.0) == []


def test_timestamps_are_utc_with_z() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert utc_timestamp(datetime(2026, 11, 26, 16, 59, 25, tzinfo=ist)) == "2026-11-26T11:29:25Z"


def test_a_content_analysis_keeps_every_celebrity_whatever_min_confidence_is() -> None:
    response = celebrities_response(
        celebrity_face("A", "1", 10.0), celebrity_face("B", "2", 95.0), unrecognized=2
    )
    content = content_analysis(
        "ab" * 32, ImageRef("photos-bucket", "a.png", "v1"), response, "2026-11-26T11:29:25Z"
    )
    assert [c["name"] for c in content.celebrities] == ["B", "A"] and content.unrecognized_faces == 2


def test_a_reused_result_is_the_new_objects_own_filtered_afresh_and_names_its_source() -> None:
    response = celebrities_response(
        celebrity_face("A", "1", 10.0), celebrity_face("B", "2", 95.0), unrecognized=2
    )
    source = ImageRef("photos-bucket", "a.png", "v1")
    content = content_analysis("ab" * 32, source, response, "2026-11-26T11:29:25Z")
    later = WHEN + timedelta(days=3)
    result = reuse_result(ImageRef("other-bucket", "copy.png", None), content, 50.0, later)
    assert result == {
        "bucket": "other-bucket",
        "key": "copy.png",
        "version_id": None,
        "celebrities": [content.celebrities[0]],
        "unrecognized_faces": 2,
        "analyzed_at": "2026-11-29T11:29:25Z",  # now: the latest analyzed_at is a key's latest result
        "reused_from": {"sha256": "ab" * 32, "bucket": "photos-bucket", "key": "a.png", "version_id": "v1",
                        "analyzed_at": "2026-11-26T11:29:25Z"},
    }  # fmt: skip
    assert read_result(json.loads(json.dumps(result))) == result
