"""The contract's watchlist part: user ids, and items that readers of celebrity results pass by."""

from __future__ import annotations

import pytest

from recognizer.contract import (
    PERSON_INDEX_PARTITION_KEY,
    PERSON_INDEX_SORT_KEY,
    SETTINGS_BY_KEY,
    ContractError,
    WatchlistResult,
    best_matches,
    check_user_id,
    image_ref,
    is_summary_item,
    is_watchlist_item,
    watchlist_match_items,
    watchlist_match_of,
    watchlist_summary_item,
)

BOX = {"width": 0.1, "height": 0.2, "left": 0.3, "top": 0.4}


def _result() -> WatchlistResult:
    def match(person: str, similarity: float) -> dict:
        return {"person": person, "similarity": similarity, "bounding_box": BOX}

    return {
        "bucket": "photos",
        "key": "a/b.jpg",
        "version_id": "v1",
        "analyzed_at": "2026-11-26T10:00:00Z",
        "faces": [
            {
                "outcome": "matched",
                "bounding_box": BOX,
                "matches": [match("alice", 99.2), match("bob", 99.1)],
            },
            {"outcome": "matched", "bounding_box": BOX, "matches": [match("alice", 99.9)]},
            {"outcome": "too_small", "bounding_box": BOX, "matches": []},
        ],
    }  # type: ignore[typeddict-item]


@pytest.mark.parametrize("name", ["alice", "Doe:Jane", "jane.doe-2_x", "x" * 128])
def test_user_ids_rekognition_accepts(name: str) -> None:
    assert check_user_id(name) == name


@pytest.mark.parametrize(
    ("name", "says"),
    [("", "is empty"), ("Jane Doe", "not allowed: ' '"), ("José", "not allowed: 'é'"),
     ("a/b", "not allowed: '/'"), ("x" * 129, "129 characters")],
)  # fmt: skip
def test_user_ids_rekognition_refuses_say_what_is_allowed(name: str, says: str) -> None:
    with pytest.raises(ContractError, match="expected 1 to 128 characters") as error:
        check_user_id(name)
    assert says in str(error.value)


def test_one_match_item_per_person_with_their_best_face() -> None:
    result = _result()
    assert [(m["person"], m["similarity"]) for m in best_matches(result)] == [("alice", 99.9), ("bob", 99.1)]
    items = watchlist_match_items(result, 1234)
    assert [item[PERSON_INDEX_PARTITION_KEY] for item in items] == ["alice", "bob"]
    assert {item[PERSON_INDEX_SORT_KEY] for item in items} == {image_ref("photos", "a/b.jpg", "v1")}
    assert all(item["expires_at"] == 1234 for item in items)
    assert watchlist_match_of(items[0])["similarity"] == 99.9


def test_summary_counts_outcomes_and_names_nobody() -> None:
    summary = watchlist_summary_item(_result(), 1234)
    assert (summary["face_count"], summary["match_count"], summary["too_small"]) == (3, 2, 1)
    assert "alice" not in str(summary) and "bob" not in str(summary)


def test_readers_of_celebrity_results_pass_watchlist_items_by() -> None:
    for item in [watchlist_summary_item(_result(), 1), *watchlist_match_items(_result(), 1)]:
        assert is_watchlist_item(item)
        assert not is_summary_item(item)


def test_threshold_setting_bounds() -> None:
    setting = SETTINGS_BY_KEY["watchlist_threshold"]
    assert setting.parse("0") == 0 and setting.parse("100") == 100 and setting.default == 99
    with pytest.raises(ValueError, match="a number from 0 to 100"):
        setting.parse("100.5")
