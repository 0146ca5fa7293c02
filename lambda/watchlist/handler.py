"""Lambda entry point (``watchlist.handler.lambda_handler``): upload events from the watchlist queue.

Per image version: GetObject once, DetectFaces once, SearchUsersByImage once per searchable face;
matches at or above the threshold go to the results table (and, when configured, one SNS message
each). A version already on record is skipped, so redelivered events cost no Rekognition call and
send no second alert. Errors that may pass (throttling, 5xx, access) fail the message: SQS retries it
and then moves it to the dead-letter queue. Images that can never be searched are recorded as FAILED.
The line logged per searched image carries its CloudWatch metrics (EMF, recognizer.metrics): counts
of faces searched, too small and matched, and each search call's latency; never a person's name.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from recognizer import metrics
from recognizer.contract import (
    ANALYZED_AT_FORMAT,
    MAX_IMAGE_BYTES,
    OBJECT_CREATED,
    S3_EVENT_SOURCE,
    FaceOutcome,
    ImageRef,
    WatchlistFace,
    WatchlistMetricName,
    WatchlistResult,
    best_matches,
)
from watchlist import alerts, store
from watchlist.faces import UnreadableImageError
from watchlist.search import analyze_image
from watchlist.settings import WatchlistSettings, load_watchlist_settings

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=30)
# Errors that name the image, not the moment: retrying cannot help, so they are recorded instead.
_PERMANENT_IMAGE_ERRORS = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException", "NoSuchKey",
     "NoSuchVersion", "InvalidObjectState"}
)  # fmt: skip
_SECONDS_PER_DAY = 86400


class InvalidWatchlistEventError(ValueError):
    """An event of a shape this function does not take; the message says which shapes it takes."""


@dataclass
class Clients:
    """boto3 clients, built on first use and kept for the container's life (tests put stubs here)."""

    made: dict[str, Any] = field(default_factory=dict)

    def get(self, service: str) -> Any:
        if service not in self.made:
            self.made[service] = boto3.client(service, config=_CONFIG)
        return self.made[service]


CLIENTS = Clients()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    settings = load_watchlist_settings()
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return _handle_batch(event["Records"], settings)
    return dict(process(parse_image(event), settings))


def _handle_batch(records: list[Any], settings: WatchlistSettings) -> dict[str, Any]:
    failures = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, dict) else None
        try:
            body = json.loads(record["body"])
            if isinstance(body, dict) and body.get("Event") == "s3:TestEvent":
                continue
            process(parse_image(body), settings)
        except Exception as error:  # each message fails alone; SQS retries it, then dead-letters it
            logger.exception(
                "watchlist message failed", extra={"message_id": message_id, "error": str(error)}
            )
            if message_id:
                failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def parse_image(event: Any) -> ImageRef:
    """S3's Object Created event on EventBridge, or a direct {"bucket", "object_name", "version_id"?}."""
    if (
        isinstance(event, dict)
        and event.get("source") == S3_EVENT_SOURCE
        and event.get("detail-type") == OBJECT_CREATED
    ):
        # Any member of another shape than S3's (not an object, not a string) falls through to the
        # named error below, never to an AttributeError.
        detail = _member(event, "detail")
        bucket = _member(_member(detail, "bucket"), "name")
        obj = _member(detail, "object")
        key, version_id = _member(obj, "key"), _member(obj, "version-id") or None
        if _text(bucket) and _text(key) and (version_id is None or _text(version_id)):
            # S3 URL-encodes keys in its events ("+" is a space).
            return ImageRef(bucket, unquote_plus(key), version_id)
    bucket, key, version_id = (_member(event, name) for name in ("bucket", "object_name", "version_id"))
    if _text(bucket) and _text(key) and (not version_id or _text(version_id)):
        return ImageRef(bucket, key, version_id or None)
    raise InvalidWatchlistEventError(
        f"unsupported event {str(event)[:200]!r}: expected an SQS batch of S3 '{OBJECT_CREATED}' EventBridge "
        'events, one such event, or {"bucket": str, "object_name": str, "version_id"?: str}'
    )


def _member(value: Any, name: str) -> Any:
    """`value[name]` when `value` is a JSON object, else None."""
    return value.get(name) if isinstance(value, dict) else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def process(ref: ImageRef, settings: WatchlistSettings, now: datetime | None = None) -> WatchlistResult:
    """Search every face of one image version and record the outcome (idempotent per version)."""
    started = time.monotonic()
    moment = now or datetime.now(UTC)
    analyzed_at = moment.strftime(ANALYZED_AT_FORMAT)
    expires_at = int(moment.timestamp()) + settings.retention_days * _SECONDS_PER_DAY
    dynamodb = CLIENTS.get("dynamodb")
    if ref.version_id is not None and store.is_done(dynamodb, settings.table_name, ref):
        logger.info("watchlist: already on record", extra={"image": ref.describe(), "outcome": "duplicate"})
        return _result(ref, [], analyzed_at)
    try:
        data, ref = _read(ref)
        if ref.version_id is not None and store.is_done(dynamodb, settings.table_name, ref):
            return _result(ref, [], analyzed_at)
        search_ms: list[float] = []
        faces = analyze_image(
            CLIENTS.get("rekognition"),
            data,
            collection_id=settings.collection_id,
            threshold=settings.threshold,
            s3_object=_s3_object(ref),
            search_ms=search_ms,
        )
    except (UnreadableImageError, ImageTooLargeError) as error:
        return _record_failure(ref, type(error).__name__, str(error), settings, analyzed_at, expires_at)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in _PERMANENT_IMAGE_ERRORS:
            raise
        return _record_failure(ref, code, str(error), settings, analyzed_at, expires_at)
    result = _result(ref, faces, analyzed_at)
    matches = best_matches(result)
    store.save_matches(dynamodb, settings.table_name, result, expires_at)
    if settings.topic_arn and matches:
        alerts.publish_matches(CLIENTS.get("sns"), settings.topic_arn, ref, matches, analyzed_at)
    # Last: the summary marks the version done, so a failure before it (an alert SNS did not take)
    # retries the whole version: an alert may repeat, none is lost.
    store.save_summary(dynamodb, settings.table_name, result, expires_at)
    logger.info(
        "watchlist: searched",
        extra={
            "image": ref.describe(),
            "outcome": "searched",
            "faces": len(faces),
            "outcomes": [face["outcome"] for face in faces],
            # A count, not names: who was seen where lives only in the table, where removal finds it.
            "match_count": len(matches),
            "duration_ms": round((time.monotonic() - started) * 1000),
            **search_metrics(faces, len(matches), search_ms, settings.metrics_namespace, moment),
        },
    )
    return result


def search_metrics(
    faces: list[WatchlistFace], matches: int, search_ms: list[float], namespace: str, moment: datetime
) -> dict[str, Any]:
    """The EMF fields of one searched image's line (recognizer/metrics.py): per function only.

    Zeros are published too, so an image without faces counts; the latency is one value per
    SearchUsersByImage call (none when no face was searched).
    """
    too_small = sum(1 for face in faces if face["outcome"] == FaceOutcome.TOO_SMALL)
    figures = {
        WatchlistMetricName.FACES_SEARCHED: metrics.Measurement(len(faces) - too_small),
        WatchlistMetricName.FACES_TOO_SMALL: metrics.Measurement(too_small),
        WatchlistMetricName.WATCHLIST_MATCHES: metrics.Measurement(matches),
    }
    if search_ms:
        figures[WatchlistMetricName.WATCHLIST_SEARCH_LATENCY] = metrics.Measurement(
            [round(ms, 1) for ms in search_ms[: metrics.MAX_VALUES]], metrics.MILLISECONDS
        )
    return metrics.function_metrics(
        namespace,
        {str(name): value for name, value in figures.items()},
        timestamp_ms=metrics.timestamp_ms(moment),
    )


class ImageTooLargeError(ValueError):
    """The object is larger than Rekognition reads from S3."""


def _read(ref: ImageRef) -> tuple[bytes, ImageRef]:
    """The object's bytes and the version S3 served (an event of an unversioned bucket names none)."""
    request: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id is not None:
        request["VersionId"] = ref.version_id
    response = CLIENTS.get("s3").get_object(**request)
    if response.get("ContentLength", 0) > MAX_IMAGE_BYTES:
        response["Body"].close()
        raise ImageTooLargeError(
            f"{ref.describe()} is {response['ContentLength']} bytes: Rekognition reads at most "
            f"{MAX_IMAGE_BYTES} bytes"
        )
    with response["Body"] as body:
        data = body.read()
    return data, ref.with_version(response.get("VersionId") or ref.version_id)


def _s3_object(ref: ImageRef) -> dict[str, str]:
    s3_object = {"Bucket": ref.bucket, "Name": ref.key}
    if ref.version_id is not None:
        s3_object["Version"] = ref.version_id
    return s3_object


def _record_failure(
    ref: ImageRef,
    error_type: str,
    message: str,
    settings: WatchlistSettings,
    analyzed_at: str,
    expires_at: int,
) -> WatchlistResult:
    store.save_failure(
        CLIENTS.get("dynamodb"), settings.table_name, ref, error_type, message, analyzed_at, expires_at
    )
    logger.warning(
        "watchlist: image cannot be searched",
        extra={"image": ref.describe(), "outcome": "failed", "error_type": error_type, "error": message},
    )
    return _result(ref, [], analyzed_at)


def _result(ref: ImageRef, faces: list[Any], analyzed_at: str) -> WatchlistResult:
    bucket, key, version_id = ref
    return {
        "bucket": bucket,
        "key": key,
        "version_id": version_id,
        "faces": faces,
        "analyzed_at": analyzed_at,
    }
