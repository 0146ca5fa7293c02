"""Reads and idempotent writes of the results table (items and keys: recognizer.contract).

One image version = one summary item plus one index item per recognised celebrity; one distinct
image content analyzed = one content record. A new image costs two round trips:
- `lookup`: one BatchGetItem for the version's summary and the content record of its bytes;
- `save_result`: one TransactWriteItems with the summary, guarded by a condition, its index items
  and the content record of a fresh analysis (at most 1 + 64 + 1 items: Rekognition returns at
  most 64 faces; DynamoDB takes 100 per transaction).
The transaction is all or nothing, so:
- a crash never leaves a half-written result (a summary without its index items, or the reverse);
- a duplicate delivery that re-analysed the image meets the summary's condition, writes nothing
  and gets the stored summary back (ReturnValuesOnConditionCheckFailure): a second analysis that
  found other celebrities leaves no stale index item;
- nothing replaces a success; a success may replace a recorded failure.
A transaction costs twice the write units of plain writes: a lone summary (no celebrity, no content
record) is one conditional PutItem instead, with the same guarantees.

Content records are written without a condition: two analyses of the same bytes that raced both
stand for those bytes, and the last one is kept for the next copy.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors, log
from recognizer.contract import (
    ANSWERED_FROM_TABLE,
    CONTENT_SK,
    PARTITION_KEY,
    SORT_KEY,
    ContentAnalysis,
    ContractError,
    ImageRef,
    RecognitionResult,
    ResultStatus,
    celebrity_items,
    content_item,
    content_of,
    content_pk,
    failure_item,
    image_pk,
    result_of,
    summary_item,
    summary_sk,
)
from recognizer.errors import (
    RecognitionError,
    ServiceUnavailableError,
    StorageAccessDeniedError,
    StorageError,
)

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

# A success may replace a recorded failure (e.g. after a fix); nothing replaces a success.
_SUCCESS_CONDITION = "attribute_not_exists(pk) OR #status = :failed"
_FAILURE_CONDITION = "attribute_not_exists(pk)"
TRANSACTION_LIMIT = 100  # TransactWriteItems' maximum number of items
# UnprocessedKeys means DynamoDB throttled part of a BatchGetItem. botocore does not retry those, so
# ask again a few times, briefly (<= 0.75 s in all); then the read is given up (it only saves calls).
UNPROCESSED_RETRIES = 4
UNPROCESSED_BASE_DELAY = 0.05  # seconds; doubled on each retry
# Cancellation reasons that a later delivery may not meet again.
_TRANSIENT_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)

_codec: tuple[TypeSerializer, TypeDeserializer] | None = None


def _types() -> tuple[TypeSerializer, TypeDeserializer]:
    # Imported on first use: a function without a results table never needs it.
    global _codec
    if _codec is None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        _codec = (TypeSerializer(), TypeDeserializer())
    return _codec


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed form of a contract item (numbers already Decimal)."""
    serializer = _types()[0].serialize
    return {name: serializer(value) for name, value in item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = _types()[1].deserialize
    return {name: deserializer(value) for name, value in item.items()}


class Found(NamedTuple):
    """What `lookup` found: this version's stored success and an analysis of the same bytes."""

    stored: RecognitionResult | None = None
    content: ContentAnalysis | None = None


def lookup(client: Any, table: str, ref: ImageRef, sha256: str | None) -> Found:
    """The stored success of exactly this version and the content record of ``sha256``, in one read.

    Only a pinned version can be matched (an unversioned key may hold a new upload); ``sha256`` None
    skips the content record. Lets a duplicate delivery, `celeb recognize` racing the upload's own
    event, or a copy of analysed bytes answer without a RecognizeCelebrities call. Only an
    optimisation: when the read fails the image is analysed, and the summary's condition still
    guards the write.
    """
    keys: list[dict[str, Any]] = []
    if ref.version_id is not None:
        keys.append(_summary_key(ref))
    if sha256 is not None:
        keys.append({PARTITION_KEY: {"S": content_pk(sha256)}, SORT_KEY: {"S": CONTENT_SK}})
    stored = content = None
    for item in _read(client, table, ref, keys):
        if item[SORT_KEY] == {"S": CONTENT_SK}:
            content = _content(item, ref)
        elif item.get("status") == {"S": ResultStatus.SUCCEEDED}:
            stored = _stored(item)
    return Found(stored, content)


def load_success(client: Any, table: str, ref: ImageRef) -> RecognitionResult | None:
    """The stored success of exactly this version (or of "no version"), None when there is none."""
    items = _read(client, table, ref, [_summary_key(ref)])
    return next(
        (_stored(item) for item in items if item.get("status") == {"S": ResultStatus.SUCCEEDED}), None
    )


def _read(client: Any, table: str, ref: ImageRef, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``keys`` that exist; none when the read fails (the caller analyses anyway)."""
    if not keys:
        return []
    try:
        return _batch_get(client, table, keys)
    except (ClientError, BotoCoreError) as error:
        log.log_event(
            "stored result not readable; analysing anyway",
            logging.WARNING,
            **ref.error_fields(),
            error_type=type(error).__name__,
            error_message=str(error),
        )
        return []


def _batch_get(client: Any, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item of ``keys`` that exists; keys DynamoDB leaves unprocessed are asked for again."""
    found: list[dict[str, Any]] = []
    pending = keys
    for attempt in range(UNPROCESSED_RETRIES + 1):
        if attempt:
            _backoff(attempt)
        response = client.batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
        found += (response.get("Responses") or {}).get(table) or []
        pending = ((response.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys") or []
        if not pending:
            break
    return found


def _backoff(attempt: int) -> None:
    # Jittered, so invocations throttled together do not come back together.
    time.sleep(UNPROCESSED_BASE_DELAY * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))


def _content(item: dict[str, Any], ref: ImageRef) -> ContentAnalysis | None:
    try:
        return content_of(deserialize(item))
    except ContractError as error:
        # A record this version cannot read is ignored, not fatal: the image is analysed again and
        # its analysis replaces the record.
        log.log_event("content record not readable; analysing anyway", logging.WARNING,
                      **ref.error_fields(), error_message=str(error))  # fmt: skip
        return None


def save_result(
    client: Any, table: str, result: RecognitionResult, content: ContentAnalysis | None = None
) -> tuple[RecognitionResult, bool]:
    """Commit a success with its index items (and ``content``'s record) in one request.

    Returns the result that stands, and whether it is this one (False: the version already had a
    success, which is returned; nothing was written).
    """
    ref = ImageRef(result["bucket"], result["key"], result["version_id"])
    summary = summary_item(result)
    others = celebrity_items(result) + ([content_item(content)] if content is not None else [])
    if not others:
        refused_by = _conditional_put(client, table, ref, summary, **_success_condition())
    else:
        refused_by = _transaction(client, table, ref, [summary, *others])
    if refused_by is None:
        return result, True
    # Only a success refuses a success; read it if the refusal did not carry it.
    standing = _stored(refused_by) if refused_by else load_success(client, table, ref)
    if standing is None:
        raise StorageError(
            f"{ref.describe()} already has a result in table {table!r} that could not be read: "
            "expected to read it on a later delivery",
            **ref.error_fields(),
        )
    return standing, False


def _success_condition() -> dict[str, Any]:
    return {
        "ConditionExpression": _SUCCESS_CONDITION,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":failed": {"S": ResultStatus.FAILED}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _transaction(
    client: Any, table: str, ref: ImageRef, items: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """One TransactWriteItems, the first item guarded: None when written, else the refusing item."""
    if len(items) > TRANSACTION_LIMIT:
        raise StorageError(
            f"The result of {ref.describe()} needs {len(items)} items, more than one transaction's "
            f"{TRANSACTION_LIMIT}: expected at most 64 faces from Rekognition",
            **ref.error_fields(),
        )
    puts = [{"Put": {"TableName": table, "Item": serialize(items[0]), **_success_condition()}}]
    puts += [{"Put": {"TableName": table, "Item": serialize(item)}} for item in items[1:]]
    try:
        # The token makes botocore's retry of a request whose answer was lost a no-op, not a
        # refusal by our own summary.
        client.transact_write_items(TransactItems=puts, ClientRequestToken=str(uuid.uuid4()))
    except ClientError as error:
        if aws_errors.error_code(error) != "TransactionCanceledException":
            raise map_dynamodb_error(error, table, ref) from error
        reasons = error.response.get("CancellationReasons") or []
        codes = [str(reason.get("Code") or "None") for reason in reasons]
        if codes[:1] == ["ConditionalCheckFailed"]:
            return reasons[0].get("Item") or {}
        raise _cancelled(codes, table, ref) from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "DynamoDB") from error
    return None


def _cancelled(codes: list[str], table: str, ref: ImageRef) -> RecognitionError:
    reasons = ", ".join(code for code in codes if code != "None") or "no reason given"
    if set(codes) & _TRANSIENT_REASONS:
        return ServiceUnavailableError(
            f"DynamoDB table {table!r} is busy for {ref.describe()} (transaction cancelled: {reasons})",
            **ref.error_fields(),
        )
    return StorageError(
        f"Could not store the result for {ref.describe()} in table {table!r} (transaction cancelled: "
        f"{reasons}): expected the stack's results table and write access",
        **ref.error_fields(),
    )


def save_failure(client: Any, table: str, ref: ImageRef, error: RecognitionError, analyzed_at: str) -> bool:
    """Record a permanent failure; False when the version already has a record (never overwritten)."""
    item = failure_item(ref, error.error_type, error.message, error.cause, analyzed_at)
    return _conditional_put(client, table, ref, item, ConditionExpression=_FAILURE_CONDITION) is None


def _conditional_put(
    client: Any, table: str, ref: ImageRef, item: dict[str, Any], **condition: Any
) -> dict[str, Any] | None:
    """PutItem guarded by `condition`: None when written, else the item that refused it ({} if unknown)."""
    try:
        client.put_item(TableName=table, Item=serialize(item), **condition)
    except ClientError as error:
        if aws_errors.error_code(error) == "ConditionalCheckFailedException":
            return error.response.get("Item") or {}
        raise map_dynamodb_error(error, table, ref) from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "DynamoDB") from error
    return None


def _summary_key(ref: ImageRef) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": image_pk(ref.bucket, ref.key)}, SORT_KEY: {"S": summary_sk(ref.version_id)}}


def _stored(item: dict[str, Any]) -> RecognitionResult:
    result = result_of(deserialize(item))
    result["answered_from"] = ANSWERED_FROM_TABLE
    return result


def map_dynamodb_error(error: ClientError, table: str, ref: ImageRef) -> RecognitionError:
    if aws_errors.is_transient(error):
        return ServiceUnavailableError(
            f"DynamoDB table {table!r} is busy or unavailable for {ref.describe()} after retries "
            f"({aws_errors.describe_client_error(error)})",
            **ref.error_fields(),
        )
    code = aws_errors.error_code(error)
    if code in ("AccessDeniedException", "UnrecognizedClientException") or code.startswith("KMS"):
        return StorageAccessDeniedError(
            f"The function may not write the result for {ref.describe()} to table {table!r} "
            f"({aws_errors.describe_client_error(error)}): its role needs dynamodb:PutItem and "
            "dynamodb:BatchGetItem on the stack's results table",
            **ref.error_fields(),
        )
    return StorageError(
        f"Could not store the result for {ref.describe()} in table {table!r} "
        f"({aws_errors.describe_client_error(error)}): expected the stack's results table and write access",
        **ref.error_fields(),
    )
