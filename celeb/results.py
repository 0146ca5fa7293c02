"""Reading the results table (schema owned by the stack, see stacks/results_table.py).

- summary item per image version: `pk = IMAGE#<bucket>/<key>`, `sk = VERSION#<version or null>`;
- one item per recognized celebrity: same `pk`, `sk = VERSION#<version>#CELEBRITY#<id>`;
- GSI `by-celebrity`: `celebrity_name` -> `image_ref = <bucket>/<key>#<version>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from celeb.images import ImageRef

VERSION_PREFIX = "VERSION#"
CELEBRITY_MARKER = "#CELEBRITY#"
IMAGE_PREFIX = "IMAGE#"
CELEBRITY_INDEX = "by-celebrity"

_deserializer = TypeDeserializer()


def image_pk(ref: ImageRef) -> str:
    return f"{IMAGE_PREFIX}{ref.bucket}/{ref.key}"


def has_result(dynamodb: Any, table: str, ref: ImageRef) -> bool:
    """Whether any version of the image has a result (succeeded or failed) in the table."""
    response = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :version)",
        ExpressionAttributeValues={":pk": {"S": image_pk(ref)}, ":version": {"S": VERSION_PREFIX}},
        ProjectionExpression="pk",
        Limit=1,
    )
    return bool(response["Items"])


def image_history(dynamodb: Any, table: str, ref: ImageRef, *, limit: int) -> list[dict[str, Any]]:
    """The summary item of each analyzed version of one image, oldest analysis first."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :version)",
        FilterExpression="NOT contains(sk, :celebrity)",
        ExpressionAttributeValues={
            ":pk": {"S": image_pk(ref)},
            ":version": {"S": VERSION_PREFIX},
            ":celebrity": {"S": CELEBRITY_MARKER},
        },
    )
    items = list(_first(_items(pages), limit))
    # Version ids are opaque strings: the sort key order says nothing about which came first.
    return sorted(items, key=lambda item: str(item.get("analyzed_at", "")))


def celebrity_appearances(
    dynamodb: Any, table: str, name: str, *, image: ImageRef | None, limit: int
) -> list[dict[str, Any]]:
    """Every image version the celebrity (exact name) was recognized in, via the GSI."""
    condition = "celebrity_name = :name"
    values: dict[str, Any] = {":name": {"S": name}}
    if image is not None:
        # image_ref = <bucket>/<key>#<version>: the index's sort key narrows it to one image.
        condition += " AND begins_with(image_ref, :image)"
        values[":image"] = {"S": f"{image.bucket}/{image.key}#"}
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=CELEBRITY_INDEX,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
    )
    return list(_first(_items(pages), limit))


def scan_summaries(dynamodb: Any, table: str, *, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` summary items, in table order (a scan: it reads pages until it has enough)."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression=(
            "begins_with(pk, :image) AND begins_with(sk, :version) AND NOT contains(sk, :celebrity)"
        ),
        ExpressionAttributeValues={
            ":image": {"S": IMAGE_PREFIX},
            ":version": {"S": VERSION_PREFIX},
            ":celebrity": {"S": CELEBRITY_MARKER},
        },
    )
    items = list(_first(_items(pages), limit))
    # A scan returns items in hash order; by image, then analysis time, is what people look for.
    return sorted(
        items, key=lambda item: (str(item.get("bucket")), str(item.get("key")), str(item.get("analyzed_at")))
    )


def _items(pages: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for page in pages:
        for item in page.get("Items", []):
            yield plain({name: _deserializer.deserialize(value) for name, value in item.items()})


def _first(items: Iterator[dict[str, Any]], limit: int) -> Iterator[dict[str, Any]]:
    # Returning right after the last wanted item stops the paginator: no further page is read.
    if limit <= 0:
        return
    for count, item in enumerate(items, start=1):
        yield item
        if count >= limit:
            return


def plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) and sets as JSON-friendly ints, floats and lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(item) for item in value]
    return value
