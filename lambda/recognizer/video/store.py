"""The video path's reads and writes: the results table (items: recognizer.contract) and the timelines.

Every write can be repeated with the same effect, so a redelivered message or a retried sweep
never leaves a different state than one delivery. Failures to write are StorageError (retryable):
the message goes back to its queue rather than losing the job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors
from recognizer.contract import (
    PARTITION_KEY,
    PENDING_JOB_PREFIX,
    SORT_KEY,
    VIDEO_JOBS_PK,
    FailureCause,
    ImageRef,
    ResultStatus,
    VideoResult,
    image_pk,
    pending_job_item,
    pending_job_key,
    summary_sk,
    timeline_key,
    video_celebrity_items,
    video_failure_item,
    video_started_item,
    video_summary_item,
)
from recognizer.errors import StorageAccessDeniedError, StorageError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
# Never replace a success: a late failure or a second start must not hide a recorded result.
_NOT_A_SUCCESS = "attribute_not_exists(pk) OR #status <> :succeeded"
_BATCH_WRITE = 25  # BatchWriteItem's most items a call
_UNPROCESSED_RETRIES = 5


class VideoStore:
    def __init__(
        self, dynamodb: Any, table: str, s3: Any = None, timelines_bucket: str | None = None
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._s3 = s3
        self._timelines_bucket = timelines_bucket

    # --- reads ---------------------------------------------------------------------------------

    def summary(self, ref: ImageRef) -> dict[str, Any] | None:
        key = {PARTITION_KEY: image_pk(ref.bucket, ref.key), SORT_KEY: summary_sk(ref.version_id)}
        response = self._call(
            ref, lambda: self._dynamodb.get_item(TableName=self._table, Key=_typed(key), ConsistentRead=True)
        )
        item = response.get("Item")
        return _plain(item) if item else None

    def pending_job(self, job_id: str) -> dict[str, Any] | None:
        response = self._call(
            None,
            lambda: self._dynamodb.get_item(
                TableName=self._table, Key=_typed(pending_job_key(job_id)), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return _plain(item) if item else None

    def pending_jobs(self) -> list[dict[str, Any]]:
        """Every job in flight (a handful: at most the concurrent-job quota, plus lost ones)."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :pending)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {":pk": {"S": VIDEO_JOBS_PK}, ":pending": {"S": PENDING_JOB_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            response = self._call(None, lambda: self._dynamodb.query(**request))
            items += [_plain(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- writes --------------------------------------------------------------------------------

    def record_started(self, ref: ImageRef, job_id: str, started_at: str) -> None:
        """The pending marker first: should the summary's write fail, the sweep still finds the job."""
        self._put(ref, pending_job_item(ref, job_id, started_at))
        self._put(ref, video_started_item(ref, job_id, started_at), condition=True)

    def record_failure(
        self,
        ref: ImageRef,
        error_type: str,
        message: str,
        cause: FailureCause,
        analyzed_at: str,
        job_id: str | None = None,
    ) -> None:
        self._put(
            ref, video_failure_item(ref, error_type, message, cause, analyzed_at, job_id), condition=True
        )
        if job_id is not None:
            self.forget_job(job_id)

    def record_result(self, result: VideoResult) -> None:
        """Index items, then the summary (readers look at it first), then the job leaves the pending list."""
        ref = ImageRef(result["bucket"], result["key"], result["version_id"])
        self._batch_write(ref, video_celebrity_items(result))
        self._put(ref, video_summary_item(result))
        self.forget_job(result["job_id"])

    def forget_job(self, job_id: str) -> None:
        self._call(
            None,
            lambda: self._dynamodb.delete_item(TableName=self._table, Key=_typed(pending_job_key(job_id))),
        )

    def write_timeline(self, job_id: str, document: dict[str, Any]) -> str | None:
        """The full timeline as JSON in the timelines bucket; its s3:// URI (None without a bucket)."""
        if self._s3 is None or not self._timelines_bucket:
            return None
        key = timeline_key(job_id)
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        self._call(
            None,
            lambda: self._s3.put_object(
                Bucket=self._timelines_bucket, Key=key, Body=body, ContentType="application/json"
            ),
        )
        return f"s3://{self._timelines_bucket}/{key}"

    # --- plumbing ------------------------------------------------------------------------------

    def _put(self, ref: ImageRef, item: dict[str, Any], *, condition: bool = False) -> None:
        request: dict[str, Any] = {"TableName": self._table, "Item": _typed(item)}
        if condition:
            request |= {
                "ConditionExpression": _NOT_A_SUCCESS,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":succeeded": {"S": ResultStatus.SUCCEEDED}},
            }
        try:
            self._call(ref, lambda: self._dynamodb.put_item(**request), reraise_conditional=True)
        except ClientError as error:  # only the condition: a success is stored, which stands
            assert aws_errors.error_code(error) == "ConditionalCheckFailedException"

    def _batch_write(self, ref: ImageRef, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), _BATCH_WRITE):
            requests = [
                {"PutRequest": {"Item": _typed(item)}} for item in items[start : start + _BATCH_WRITE]
            ]
            for attempt in range(_UNPROCESSED_RETRIES + 1):
                batch = {self._table: requests}
                response = self._call(ref, lambda b=batch: self._dynamodb.batch_write_item(RequestItems=b))
                requests = response.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    break
                time.sleep(0.05 * 2**attempt)  # DynamoDB throttled part of the batch
            else:
                raise StorageError(
                    f"DynamoDB kept throttling the index items of {ref.describe()}", **ref.error_fields()
                )

    def _call(
        self, ref: ImageRef | None, call: Callable[[], Any], *, reraise_conditional: bool = False
    ) -> Any:
        named = ref.error_fields() if ref else {}
        where = f" for {ref.describe()}" if ref else ""
        try:
            return call()
        except ClientError as error:
            code = aws_errors.error_code(error)
            if reraise_conditional and code == "ConditionalCheckFailedException":
                raise
            detail = aws_errors.describe_client_error(error)
            if code in ("AccessDenied", "AccessDeniedException") or code.startswith("KMS"):
                raise StorageAccessDeniedError(
                    f"Storing video results{where} was denied ({detail}): the function role needs its "
                    f"grants on table {self._table!r} and the timelines bucket",
                    **named,
                ) from error
            raise StorageError(f"Storing video results{where} failed ({detail})", **named) from error
        except BotoCoreError as error:
            raise StorageError(f"Storing video results{where} failed: {error}", **named) from error


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
