"""Idempotent writes of results to the results table (schema owned by the stack).

One image version = one summary item plus one item per recognised celebrity. The celebrity items
go first (BatchWriteItem), the summary last (PutItem, conditional): the summary is the commit
marker. Order matters: a crash between the two steps leaves only celebrity items, which the retry
rewrites under the same keys before it writes the summary, so a reader never sees a summary whose
celebrity items are missing. A duplicate delivery rewrites the same celebrity keys (with its own
analysis time) and then fails the summary's condition, so no item is ever added twice. No
transaction: it costs twice the write units, and the role grants only PutItem and BatchWriteItem.
"""

from __future__ import annotations

import logging
import random
import time
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors, log
from recognizer.errors import RecognitionError, ServiceUnavailableError, StorageError
from recognizer.events import ImageRef

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
# A success may replace a recorded failure (e.g. after a fix); nothing replaces a success.
_SUCCESS_CONDITION = "attribute_not_exists(pk) OR #status = :failed"
_FAILURE_CONDITION = "attribute_not_exists(pk)"
BATCH_WRITE_LIMIT = 25  # BatchWriteItem's maximum number of items per request
# UnprocessedItems means DynamoDB throttled part of a batch. botocore does not retry those, so
# re-send them a few times, briefly (<= 0.75 s in all): if the table is still busy, the message's
# redelivery by SQS is a longer backoff that does not bill the function for waiting.
UNPROCESSED_RETRIES = 4
UNPROCESSED_BASE_DELAY = 0.05  # seconds; doubled on each re-send


def image_pk(bucket: str, key: str) -> str:
    return f"IMAGE#{bucket}/{key}"


def version_label(version_id: str | None) -> str:
    return version_id or "null"


def summary_sk(version_id: str | None) -> str:
    return f"VERSION#{version_label(version_id)}"


def celebrity_sk(version_id: str | None, celebrity_id: str) -> str:
    return f"{summary_sk(version_id)}#CELEBRITY#{celebrity_id}"


def image_ref(bucket: str, key: str, version_id: str | None) -> str:
    return f"{bucket}/{key}#{version_label(version_id)}"


def success_items(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary item first, then one item per distinct celebrity id (plain Python values)."""
    bucket, key, version_id = result["bucket"], result["key"], result["version_id"]
    celebrities = result["celebrities"]
    summary = _base_item(bucket, key, version_id, SUCCEEDED, result["analyzed_at"])
    summary |= {
        "celebrity_count": len(celebrities),
        "unrecognized_faces": result["unrecognized_faces"],
        "celebrities": celebrities,
    }
    items = [summary]
    seen: set[str] = set()
    # Sorted by confidence, so a celebrity found twice in one image keeps its best match; one
    # BatchWriteItem may not hold the same key twice.
    for celebrity in celebrities:
        celebrity_id = celebrity["id"]
        if not celebrity_id or celebrity_id in seen:
            continue
        seen.add(celebrity_id)
        item = {
            "pk": image_pk(bucket, key),
            "sk": celebrity_sk(version_id, celebrity_id),
            "celebrity_name": celebrity["name"],
            "celebrity_id": celebrity_id,
            "image_ref": image_ref(bucket, key, version_id),
            "bucket": bucket,
            "key": key,
            "confidence": celebrity["confidence"],
            "analyzed_at": result["analyzed_at"],
        }
        if version_id is not None:
            item["version_id"] = version_id
        items.append(item)
    return items


def failure_item(ref: ImageRef, error: RecognitionError, analyzed_at: str) -> dict[str, Any]:
    item = _base_item(ref.bucket, ref.key, ref.version_id, FAILED, analyzed_at)
    item |= {
        "celebrity_count": 0,
        "celebrities": [],
        "error_type": error.error_type,
        "error_message": error.message,
    }
    return item


def load_success(client: Any, table: str, ref: ImageRef) -> dict[str, Any] | None:
    """The stored result of exactly this version, or None when there is none (or it failed).

    Lets a duplicate delivery, or `celeb recognize` racing the upload's own notification, answer
    from the table instead of paying for a second RecognizeCelebrities call. Only an optimisation:
    when the read fails the image is analysed, and the summary's condition still guards the write.
    """
    key = {"pk": {"S": image_pk(ref.bucket, ref.key)}, "sk": {"S": summary_sk(ref.version_id)}}
    try:
        item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    except (ClientError, BotoCoreError) as error:
        log.log_event(
            "stored result not readable; analysing anyway",
            logging.WARNING,
            **ref.error_fields(),
            error_type=type(error).__name__,
            error_message=str(error),
        )
        return None
    if not item or item.get("status") != {"S": SUCCEEDED}:
        return None
    stored = {name: from_attribute_value(value) for name, value in item.items()}
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "celebrities": stored.get("celebrities", []),
        "unrecognized_faces": stored.get("unrecognized_faces", 0),
        "analyzed_at": stored.get("analyzed_at"),
    }


def save_result(client: Any, table: str, result: dict[str, Any]) -> bool:
    """Write a success; False when this version was already recorded as a success (a duplicate)."""
    summary, *celebrities = success_items(result)
    ref = ImageRef(result["bucket"], result["key"], result["version_id"])
    for start in range(0, len(celebrities), BATCH_WRITE_LIMIT):
        write_batch(client, table, ref, celebrities[start : start + BATCH_WRITE_LIMIT])
    return _put_unless_recorded(
        client,
        table,
        ref,
        summary,
        ConditionExpression=_SUCCESS_CONDITION,
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":failed": {"S": FAILED}},
    )


def write_batch(client: Any, table: str, ref: ImageRef, items: list[dict[str, Any]]) -> None:
    """One BatchWriteItem of at most 25 items; what DynamoDB leaves unprocessed is sent again."""
    pending = [{"PutRequest": {"Item": to_attribute_map(item)}} for item in items]
    for attempt in range(UNPROCESSED_RETRIES + 1):
        if attempt:
            # Jittered, so invocations throttled together do not come back together.
            time.sleep(UNPROCESSED_BASE_DELAY * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
        try:
            response = client.batch_write_item(RequestItems={table: pending})
        except ClientError as error:
            raise map_dynamodb_error(error, table, ref) from error
        except BotoCoreError as error:
            raise aws_errors.from_botocore_error(error, ref, "DynamoDB") from error
        pending = (response.get("UnprocessedItems") or {}).get(table) or []
        if not pending:
            return
    raise ServiceUnavailableError(
        f"DynamoDB table {table!r} left {len(pending)} of {len(items)} celebrity items of "
        f"{ref.describe()} unprocessed after {UNPROCESSED_RETRIES + 1} attempts: expected it to "
        "accept them on a later delivery",
        **ref.error_fields(),
    )


def save_failure(client: Any, table: str, ref: ImageRef, error: RecognitionError, analyzed_at: str) -> bool:
    """Record a permanent failure; False when the version already has a record (never overwritten)."""
    return _put_unless_recorded(
        client, table, ref, failure_item(ref, error, analyzed_at), ConditionExpression=_FAILURE_CONDITION
    )


def _put_unless_recorded(
    client: Any, table: str, ref: ImageRef, item: dict[str, Any], **condition: Any
) -> bool:
    """PutItem guarded by `condition`; False when the condition refuses it (already recorded)."""
    try:
        client.put_item(TableName=table, Item=to_attribute_map(item), **condition)
    except ClientError as error:
        if aws_errors.error_code(error) == "ConditionalCheckFailedException":
            return False
        raise map_dynamodb_error(error, table, ref) from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "DynamoDB") from error
    return True


def map_dynamodb_error(error: ClientError, table: str, ref: ImageRef) -> RecognitionError:
    if aws_errors.is_transient(error):
        return _unavailable(table, ref, error)
    return StorageError(
        f"Could not store the result for {ref.describe()} in table {table!r} "
        f"({aws_errors.describe_client_error(error)}): expected the stack's results table and write access",
        **ref.error_fields(),
    )


def to_attribute_map(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed form of an item built here (str, int, float, bool, None, list, dict only)."""
    return {name: attribute_value(value) for name, value in item.items()}


def attribute_value(value: Any) -> dict[str, Any]:
    # A small serializer instead of boto3's TypeSerializer: our items hold only these types, and
    # TypeSerializer's generic dispatch was the largest share of the function's own per-image work.
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float | Decimal):
        # Decimal(str(x)) keeps the printed value (0.1 stays 0.1, not 0.1000000000000000055...).
        return {"N": str(Decimal(str(value)))}
    if isinstance(value, dict):
        return {"M": {str(k): attribute_value(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [attribute_value(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")  # a bug here, not bad input


def from_attribute_value(value: dict[str, Any]) -> Any:
    """The reverse of attribute_value, for the types it writes; numbers come back as int or float."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return data
    if kind == "N":
        number = Decimal(data)
        return int(number) if number == number.to_integral_value() and "." not in data else float(number)
    if kind == "BOOL":
        return data
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: from_attribute_value(v) for name, v in data.items()}
    if kind == "L":
        return [from_attribute_value(v) for v in data]
    raise TypeError(f"unexpected DynamoDB attribute type {kind}")  # not written by this module


def _base_item(
    bucket: str, key: str, version_id: str | None, status: str, analyzed_at: str
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": image_pk(bucket, key),
        "sk": summary_sk(version_id),
        "bucket": bucket,
        "key": key,
        "status": status,
        "analyzed_at": analyzed_at,
    }
    if version_id is not None:
        item["version_id"] = version_id
    return item


def _unavailable(table: str, ref: ImageRef, error: ClientError) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"DynamoDB table {table!r} is busy or unavailable for {ref.describe()} after retries "
        f"({aws_errors.describe_client_error(error)})",
        **ref.error_fields(),
    )
