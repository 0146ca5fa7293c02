"""Reading the results table. Its keys, index and item shapes are the contract's (recognizer.contract).

- one summary item per image version: `pk = image_pk(bucket, key)`, `sk = summary_sk(version)`;
- one item per recognized celebrity: same `pk`, `sk` with CELEBRITY_MARKER, indexed by
  CELEBRITY_INDEX (`celebrity_name` -> `image_ref`, which starts with `image_ref_prefix`).

Summary items are checked with the contract's readers as they are read: an item this client
cannot read is one clear error, not a traceback halfway through a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from celeb.errors import ConfigProblem
from recognizer.contract import (
    CELEBRITY_INDEX,
    CELEBRITY_INDEX_PARTITION_KEY,
    CELEBRITY_INDEX_SORT_KEY,
    CELEBRITY_MARKER,
    IMAGE_PREFIX,
    PARTITION_KEY,
    PERSON_INDEX,
    PERSON_INDEX_PARTITION_KEY,
    PERSON_INDEX_SORT_KEY,
    PERSON_MARKER,
    SORT_KEY,
    VERSION_PREFIX,
    WATCHLIST_PREFIX,
    ContractError,
    ImageRef,
    ResultStatus,
    failure_of,
    from_decimals,
    image_pk,
    image_ref_prefix,
    is_video_item,
    result_of,
    summary_sk,
    video_result_of,
    watchlist_match_of,
)

_deserializer = TypeDeserializer()
# Attribute names go through placeholders: `status` and `key` are DynamoDB reserved words.
_NAMES = {"#pk": PARTITION_KEY, "#sk": SORT_KEY}
_SUMMARIES_OF_IMAGE = "#pk = :pk AND begins_with(#sk, :version)"
_NOT_CELEBRITY = "NOT contains(#sk, :celebrity)"


def image_summaries(dynamodb: Any, table: str, ref: ImageRef, *, limit: int) -> list[dict[str, Any]]:
    """The summary item of each analyzed version of one image, oldest analysis first."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression=_SUMMARIES_OF_IMAGE,
        FilterExpression=_NOT_CELEBRITY,
        ExpressionAttributeNames=_NAMES,
        ExpressionAttributeValues=_image_values(ref),
    )
    items = [checked_summary(item, table) for item in _first(_items(pages), limit)]
    # Version ids are opaque strings: the sort key order says nothing about which came first.
    return sorted(items, key=lambda item: str(item["analyzed_at"]))


def latest_summary(dynamodb: Any, table: str, ref: ImageRef) -> dict[str, Any] | None:
    """The most recently analyzed version's summary item (status and cause only), None if none."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression=_SUMMARIES_OF_IMAGE,
        FilterExpression=_NOT_CELEBRITY,
        ProjectionExpression="#sk, #status, failure_cause, analyzed_at",
        ExpressionAttributeNames=_NAMES | {"#status": "status"},
        ExpressionAttributeValues=_image_values(ref),
    )
    # Analyses are stamped to the second; within one, a success is the later word (a success may
    # replace a recorded failure, never the other way round).
    return max(_items(pages), key=_recency, default=None)


def _recency(item: dict[str, Any]) -> tuple[str, bool]:
    return str(item.get("analyzed_at", "")), item.get("status") == ResultStatus.SUCCEEDED


def celebrity_appearances(
    dynamodb: Any, table: str, name: str, *, image: ImageRef | None, limit: int
) -> list[dict[str, Any]]:
    """Every image version the celebrity (exact name) was recognized in, via the index."""
    pages = _index_pages(dynamodb, table, CELEBRITY_INDEX, CELEBRITY_INDEX_PARTITION_KEY,
                         CELEBRITY_INDEX_SORT_KEY, name, image)  # fmt: skip
    return list(_first(_items(pages), limit))


def _index_pages(dynamodb: Any, table: str, index: str, partition_key: str, sort_key: str, value: str,
                 image: ImageRef | None) -> Any:  # fmt: skip
    """The pages of a query of `index` for `value`, limited to one object's versions when `image`."""
    condition = "#value = :value"
    names = {"#value": partition_key}
    values: dict[str, Any] = {":value": {"S": value}}
    if image is not None:
        # Every version of one object shares this prefix, also for keys the contract shortens.
        condition += " AND begins_with(#ref, :image)"
        names["#ref"] = sort_key
        values[":image"] = {"S": image_ref_prefix(image.bucket, image.key)}
    return dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=index,
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def person_matches(
    dynamodb: Any, table: str, name: str, *, image: ImageRef | None, limit: int
) -> list[dict[str, Any]]:
    """Every image version a watchlist person was matched in, via the person index."""
    pages = _index_pages(dynamodb, table, PERSON_INDEX, PERSON_INDEX_PARTITION_KEY, PERSON_INDEX_SORT_KEY,
                         name, image)  # fmt: skip
    try:
        return [watchlist_match_of(item) for item in _first(_items(pages), limit)]
    except ContractError as exc:
        raise ConfigProblem(
            f"results table {table!r} holds a watchlist item this client cannot read ({exc})"
        ) from exc


def image_watchlist(dynamodb: Any, table: str, ref: ImageRef, *, limit: int) -> list[dict[str, Any]]:
    """The watchlist's summary of each searched version of one image, each with its matches."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#pk = :pk AND begins_with(#sk, :watchlist)",
        ExpressionAttributeNames=_NAMES,
        ExpressionAttributeValues={
            ":pk": {"S": image_pk(ref.bucket, ref.key)},
            ":watchlist": {"S": WATCHLIST_PREFIX},
        },
    )
    summaries: dict[str, dict[str, Any]] = {}
    matches: list[dict[str, Any]] = []
    try:
        for item in _items(pages):
            if PERSON_MARKER in str(item[SORT_KEY]):
                matches.append(watchlist_match_of(item) | {SORT_KEY: item[SORT_KEY]})
                continue
            if not isinstance(item.get("analyzed_at"), str):
                raise ContractError(
                    f"item {item.get(PARTITION_KEY)!r} {item[SORT_KEY]!r}.analyzed_at is "
                    f"{item.get('analyzed_at')!r}: expected a string"
                )
            summaries[str(item[SORT_KEY])] = {**item, "matches": []}
    except ContractError as exc:
        raise ConfigProblem(
            f"results table {table!r} holds a watchlist item this client cannot read ({exc})"
        ) from exc
    for match in matches:
        summary = summaries.get(str(match.pop(SORT_KEY)).split(PERSON_MARKER)[0])
        if summary is not None:
            summary["matches"].append(match)
    ordered = sorted(summaries.values(), key=lambda item: item["analyzed_at"])
    return ordered[-limit:]


def scan_summaries(dynamodb: Any, table: str, *, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` summary items, in table order (a scan: it reads pages until it has enough)."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression=f"begins_with(#pk, :image) AND begins_with(#sk, :version) AND {_NOT_CELEBRITY}",
        ExpressionAttributeNames=_NAMES,
        ExpressionAttributeValues={
            ":image": {"S": IMAGE_PREFIX},
            ":version": {"S": VERSION_PREFIX},
            ":celebrity": {"S": CELEBRITY_MARKER},
        },
    )
    items = [checked_summary(item, table) for item in _first(_items(pages), limit)]
    # A scan returns items in hash order; by image, then analysis time, is what people look for.
    return sorted(items, key=lambda item: (item["bucket"], item["key"], item["analyzed_at"]))


def checked_summary(item: dict[str, Any], table: str) -> dict[str, Any]:
    """`item` once the contract's reader for its status accepted it."""
    try:
        if item.get("status") == ResultStatus.SUCCEEDED:
            video_result_of(item) if is_video_item(item) else result_of(item)
        elif item.get("status") != ResultStatus.IN_PROGRESS:  # a video job that runs: nothing to read yet
            failure_of(item)
    except ContractError as exc:
        raise ConfigProblem(
            f"results table {table!r} holds an item this client cannot read ({exc}): "
            "is celeb the same version as the deployed stack?"
        ) from exc
    return item


def _image_values(ref: ImageRef) -> dict[str, Any]:
    return {
        ":pk": {"S": image_pk(ref.bucket, ref.key)},
        ":version": {"S": VERSION_PREFIX},
        ":celebrity": {"S": CELEBRITY_MARKER},
    }


def _items(pages: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for page in pages:
        for item in page.get("Items", []):
            yield from_decimals({name: _deserializer.deserialize(value) for name, value in item.items()})


def _first(items: Iterator[dict[str, Any]], limit: int) -> Iterator[dict[str, Any]]:
    # Returning right after the last wanted item stops the paginator: no further page is read.
    if limit <= 0:
        return
    for count, item in enumerate(items, start=1):
        yield item
        if count >= limit:
            return


def version_summary(dynamodb: Any, table: str, ref: ImageRef) -> dict[str, Any] | None:
    """The summary item of one image version (`ref.version_id`, None: unversioned), None if not analyzed."""
    key = {PARTITION_KEY: {"S": image_pk(ref.bucket, ref.key)}, SORT_KEY: {"S": summary_sk(ref.version_id)}}
    response = dynamodb.get_item(TableName=table, Key=key)
    if "Item" not in response:
        return None
    item = from_decimals({name: _deserializer.deserialize(value) for name, value in response["Item"].items()})
    return checked_summary(item, table)
