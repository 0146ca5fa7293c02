"""Shared by the watchlist tests: the results table with the watchlist's index, enrollment in the fake."""

from __future__ import annotations

import uuid
from typing import Any

from recognizer.contract import (
    CELEBRITY_INDEX,
    CELEBRITY_INDEX_PARTITION_KEY,
    CELEBRITY_INDEX_SORT_KEY,
    PARTITION_KEY,
    PERSON_INDEX,
    PERSON_INDEX_PARTITION_KEY,
    PERSON_INDEX_SORT_KEY,
    SORT_KEY,
)
from tests.watchlist.face_collection import Face, FaceCollection

COLLECTION_ID = "CelebrityRecognition-watchlist"


def _index(name: str, partition: str, sort: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def results_table_properties() -> dict[str, Any]:
    """The results table of a stack with the watchlist, spelled with the contract's names."""
    names = {PARTITION_KEY, SORT_KEY, CELEBRITY_INDEX_PARTITION_KEY, CELEBRITY_INDEX_SORT_KEY,
             PERSON_INDEX_PARTITION_KEY, PERSON_INDEX_SORT_KEY}  # fmt: skip
    return {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in sorted(names)],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            _index(CELEBRITY_INDEX, CELEBRITY_INDEX_PARTITION_KEY, CELEBRITY_INDEX_SORT_KEY),
            _index(PERSON_INDEX, PERSON_INDEX_PARTITION_KEY, PERSON_INDEX_SORT_KEY),
        ],
    }


def enroll(collection: FaceCollection, user_id: str, colour: str, faces: int = 1) -> None:
    """A person already in the collection (state set up directly, as an earlier enrollment left it)."""
    collection.users[user_id] = "ACTIVE"
    for _ in range(faces):
        face_id = str(uuid.uuid4())
        box = {"Width": 0.5, "Height": 0.5, "Left": 0.25, "Top": 0.25}
        collection.faces[face_id] = Face(face_id, colour, box, str(uuid.uuid4()), user_id, user_id)
