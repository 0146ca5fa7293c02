"""The watchlist's records in the results table (shapes: recognizer.contract's watchlist section).

The version's summary is written last: once it exists the version is done, and a redelivered event
is answered without calling Rekognition or alerting again.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer

from recognizer.contract import (
    PARTITION_KEY,
    SORT_KEY,
    ImageRef,
    ResultStatus,
    WatchlistResult,
    image_pk,
    to_decimals,
    watchlist_match_items,
    watchlist_summary_item,
    watchlist_summary_sk,
)

_serializer = TypeSerializer()


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def is_done(dynamodb: Any, table: str, ref: ImageRef) -> bool:
    """Whether this version already has a watchlist summary (a success or a recorded failure)."""
    key = {PARTITION_KEY: image_pk(ref.bucket, ref.key), SORT_KEY: watchlist_summary_sk(ref.version_id)}
    found = dynamodb.get_item(
        TableName=table,
        Key=_typed(key),
        ProjectionExpression="#pk",
        ExpressionAttributeNames={"#pk": PARTITION_KEY},
        # A redelivery may follow the summary's write within moments: an eventually consistent read
        # could miss it and search (and alert) a second time.
        ConsistentRead=True,
    )
    return "Item" in found


def save_matches(dynamodb: Any, table: str, result: WatchlistResult, expires_at: int) -> None:
    """One item per matched person. Puts overwrite: a retried version writes the same items."""
    for item in watchlist_match_items(result, expires_at):
        dynamodb.put_item(TableName=table, Item=_typed(item))


def save_summary(dynamodb: Any, table: str, result: WatchlistResult, expires_at: int) -> None:
    """The summary that marks the version done; written after its matches (and their alerts)."""
    dynamodb.put_item(TableName=table, Item=_typed(watchlist_summary_item(result, expires_at)))


def save_failure(
    dynamodb: Any, table: str, ref: ImageRef, error_type: str, message: str, analyzed_at: str, expires_at: int
) -> None:
    """A version that can never be searched (not an image, gone): on record, so it is not retried."""
    bucket, key, version_id = ref
    result: WatchlistResult = {
        "bucket": bucket,
        "key": key,
        "version_id": version_id,
        "faces": [],
        "analyzed_at": analyzed_at,
    }
    item = watchlist_summary_item(result, expires_at)
    item |= {"status": str(ResultStatus.FAILED), "error_type": error_type, "error_message": message}
    dynamodb.put_item(TableName=table, Item=_typed(to_decimals(item)))
