"""The facts the stack, the function and the `celeb` client share, each defined here once.

Standard library only: this module is bundled with the function, imported by `stacks/` at
synthesis and by `celeb` on the user's machine (the project installs the `recognizer` package
from `lambda/`). Whoever needs a table key, an output name, a setting's default or bounds, an
image format or the result's shape imports it from here; nothing else spells them.

Sections: images, object references, settings, stack outputs and function environment, upload
events, result shape, results table, cloud backfill, content records (deduplication), metrics,
watchlist, stored video.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, NotRequired, TypedDict

# --------------------------------------------------------------------------------------------
# Images: what Rekognition accepts (RecognizeCelebrities reads JPEG and PNG from S3).


class ImageFormat(NamedTuple):
    name: str
    content_type: str
    suffixes: tuple[str, ...]  # lower case; matched ignoring case
    magic: bytes  # the leading bytes that identify the format, whatever the file is called


IMAGE_FORMATS = (
    ImageFormat("jpeg", "image/jpeg", (".jpg", ".jpeg"), b"\xff\xd8\xff"),
    ImageFormat("png", "image/png", (".png",), b"\x89PNG\r\n\x1a\n"),
)
IMAGE_SUFFIXES = tuple(suffix for image_format in IMAGE_FORMATS for suffix in image_format.suffixes)
MAGIC_BYTES_NEEDED = max(len(image_format.magic) for image_format in IMAGE_FORMATS)
MAX_IMAGE_BYTES = 15 * 1024 * 1024  # Rekognition's limit for an image read from S3
MIN_IMAGE_SIDE_PX = 80  # Rekognition's minimum for each side
MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes


def detect_format(head: bytes) -> ImageFormat | None:
    """The format named by the leading bytes; extension and Content-Type are not trusted."""
    for image_format in IMAGE_FORMATS:
        if head.startswith(image_format.magic):
            return image_format
    return None


def is_image_key(key: str) -> bool:
    """Whether uploads under this key are analyzed automatically (suffix, any case)."""
    return key.lower().endswith(IMAGE_SUFFIXES)


def describe_formats() -> str:
    """For messages: 'JPEG (FF D8 FF) or PNG (89 50 4E 47 0D 0A 1A 0A)'."""
    return " or ".join(f"{f.name.upper()} ({f.magic.hex(' ').upper()})" for f in IMAGE_FORMATS)


# --------------------------------------------------------------------------------------------
# Object references.


class ImageRef(NamedTuple):
    """One object to analyze; `version_id` None means the latest (or an unversioned bucket)."""

    bucket: str
    key: str
    version_id: str | None = None

    def with_version(self, version_id: str | None) -> ImageRef:
        return self._replace(version_id=version_id)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def describe(self) -> str:
        """How messages name the object: s3://bucket/key plus the version when known."""
        return f"{self.uri} (version {self.version_id})" if self.version_id else self.uri

    def error_fields(self) -> dict[str, str | None]:
        """The keywords that name the object in the function's errors."""
        return {"bucket": self.bucket, "key": self.key, "version_id": self.version_id}


# S3 user metadata set by an upload whose uploader asks the function itself (celeb recognize):
# the upload event then leaves the object alone, so Rekognition is paid once per image.
ANALYSIS_METADATA_KEY = "analysis"
ANALYSIS_ON_REQUEST = "on-request"


# --------------------------------------------------------------------------------------------
# Settings: CDK context keys, their defaults and bounds. The stack parses `-c key=value` with
# these, and the function parses its environment variables with the same ones.


class SettingError(ValueError):
    """A value a setting cannot take; `allowed` says what it can."""

    def __init__(self, value: Any, allowed: str) -> None:
        super().__init__(f"{value!r}: expected {allowed}")
        self.value = value
        self.allowed = allowed


class Setting(NamedTuple):
    key: str  # the CDK context key
    default: Any
    help: str
    kind: str = "text"  # bool, int, number, choice, text
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()  # choice: the spellings allowed; int: the only values allowed
    pattern: str | None = None  # text: a full-match regular expression
    allowed: str = ""  # text: how messages describe what the pattern allows
    env: str | None = None  # the function's environment variable carrying it, if it reads it

    def parse(self, value: Any) -> Any:
        """The typed value of a JSON value or its string spelling (`-c` and the environment give strings)."""
        if self.kind == "bool":
            return _parse_bool(value)
        if self.kind == "int":
            return _parse_int(value, self)
        if self.kind == "number":
            return _parse_number(value, self)
        if self.kind == "choice":
            return _parse_choice(value, self.choices)
        if not isinstance(value, str) or (self.pattern and not re.fullmatch(self.pattern, value)):
            raise SettingError(value, self.allowed or "a string")
        return value

    def to_env(self, value: Any) -> str:
        """How the stack writes a parsed value into the function's environment."""
        return f"{value:g}" if self.kind == "number" else str(value)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SettingError(value, "true or false")


def _parse_int(value: Any, setting: Setting) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        number = int(value)
    if setting.choices:
        if number not in setting.choices:
            raise SettingError(value, "one of " + ", ".join(map(str, setting.choices)))
        return number
    assert setting.low is not None and setting.high is not None
    if number is None or not setting.low <= number <= setting.high:
        raise SettingError(value, f"a whole number from {setting.low:g} to {setting.high:g}")
    return number


def _parse_number(value: Any, setting: Setting) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    assert setting.low is not None and setting.high is not None
    if number is None or number != number or not setting.low <= number <= setting.high:
        raise SettingError(value, f"a number from {setting.low:g} to {setting.high:g}")
    return number


def _parse_choice(value: Any, choices: tuple[Any, ...]) -> str:
    # Case-insensitive: the spelling in `choices` is the one returned.
    spelled = {str(choice).lower(): choice for choice in choices}
    if not isinstance(value, str) or value.strip().lower() not in spelled:
        raise SettingError(value, "one of " + ", ".join(map(str, choices)))
    return spelled[value.strip().lower()]


# CloudWatch Logs accepts only these retentions (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)  # fmt: skip
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")

SETTINGS: tuple[Setting, ...] = (
    Setting("stack_name", "CelebrityRecognition",
            "CloudFormation stack name (also the `celeb --stack` default)",
            pattern=r"[A-Za-z][A-Za-z0-9-]{0,127}",
            allowed="a CloudFormation stack name (a letter, then letters, digits, '-')"),
    Setting("deployment", "prod", "`prod` retains buckets and table; `dev` deletes them (and the objects) "
            "with the stack", kind="choice", choices=("prod", "dev")),
    Setting("results_table", True, "create the DynamoDB results table; `false` leaves out the table, its "
            "grant and `RESULTS_TABLE_NAME`", kind="bool"),
    # Content deduplication needs the results table: the content records live there.
    Setting("dedup", True, "answer an image whose exact bytes (SHA-256) were analyzed before from that "
            "analysis, without calling Rekognition (needs `results_table`)", kind="bool", env="DEDUP"),
    Setting("memory_size", 256, "function memory in MB", kind="int", low=128, high=10240),
    Setting("timeout_seconds", 60, "function timeout, room for a whole batch with retries; the queue's "
            "visibility timeout is 6x this plus the batching window", kind="int", low=1, high=900),
    Setting("log_retention_days", 30, "retention of the function's own log group (a CloudWatch Logs value)",
            kind="int", choices=LOG_RETENTION_DAYS),
    Setting("log_level", "INFO", "the function's application log level (Lambda's JSON log format)",
            kind="choice", choices=LOG_LEVELS),
    Setting("tracing", True, "X-Ray active tracing", kind="bool"),
    Setting("min_confidence", 0.0, "drop celebrity matches below this confidence", kind="number", low=0,
            high=100, env="MIN_CONFIDENCE"),
    Setting("rekognition_retry_mode", "standard", "botocore retry mode for Rekognition", kind="choice",
            choices=("standard", "adaptive"), env="REKOGNITION_RETRY_MODE"),
    # Each attempt may itself wait for Rekognition; more only burns the function's timeout.
    Setting("rekognition_max_attempts", 5, "botocore attempts per Rekognition call, then the image is "
            "retried via the queue", kind="int", low=1, high=10, env="REKOGNITION_MAX_ATTEMPTS"),
    Setting("noncurrent_version_expiration_days", 30,
            "noncurrent object versions expire after this many days", kind="int", low=1, high=3650),
    # S3 keys may hold almost anything, but a prefix filter with these would never match a sane upload.
    Setting("upload_prefix", "", "only uploads under this key prefix are analyzed automatically",
            pattern=r"[A-Za-z0-9!_.*'()/=-]*",
            allowed="an S3 key prefix of letters, digits and !_.*'()/=- (or empty)"),
    Setting("event_archive_days", 7, "days the EventBridge archive keeps matched upload events for "
            "replay (0: no archive)", kind="int", low=0, high=3650),
    # SQS event source limits: batch 1-10 without a window, up to 10000 with one; window 0-300 s.
    Setting("batch_size", 10, "SQS messages per invocation (over 10 needs a batching window)", kind="int",
            low=1, high=10000),
    Setting("max_batching_window_seconds", 1, "how long SQS gathers a batch", kind="int", low=0, high=300),
    Setting("max_concurrency", 5, "the most concurrent invocations the queue drives: size it to your "
            "Rekognition quota", kind="int", low=2, high=1000),
    Setting("max_receive_count", 3, "receives before a message moves to the dead-letter queue", kind="int",
            low=1, high=1000),
    Setting("oldest_message_alarm_seconds", 600, "alarm when an upload has waited longer than this",
            kind="int", low=60, high=1209600),
    Setting("alarm_email", "", "when set, an SNS topic emails this address on every alarm",
            pattern=r"(?:[^@\s]+@[^@\s]+\.[^@\s]+)?", allowed="an email address, or empty for no topic"),
    # The cloud backfill (stacks/backfill.py): a Step Functions Distributed Map over the bucket listing.
    Setting("cloud_backfill", True, "create the Step Functions state machine that backfills the images "
            "bucket in the cloud (`celeb backfill`)", kind="bool"),
    # ItemBatcher's MaxItemsPerBatch; a batch's bytes are capped too, so long keys make smaller batches.
    Setting("backfill_batch_size", 100, "objects each child workflow of the cloud backfill examines",
            kind="int", low=1, high=1000),
    # Distributed Map runs up to 10,000 child workflows at once; each reads S3 and DynamoDB per object.
    Setting("backfill_max_concurrency", 50, "child workflows the cloud backfill runs at once", kind="int",
            low=1, high=10000),
    Setting("backfill_tolerated_failure_percentage", 5.0, "share of listed objects (in failed batches) "
            "the cloud backfill tolerates before it stops", kind="number", low=0, high=100),
    # metrics and dashboard: the function's Embedded Metric Format lines (recognizer/metrics.py) and the
    # stack's CloudWatch dashboard (stacks/dashboard.py). CloudWatch namespaces: 1-255 of these
    # characters, at least one not a space, not starting with ':' (PutMetricData's pattern) nor with
    # AWS/ (reserved for AWS's own metrics).
    Setting("metrics_namespace", "CelebrityRecognition", "CloudWatch namespace of the function's metrics "
            "(Embedded Metric Format in its log lines) and of the dashboard's graphs of them",
            pattern=r"(?!AWS/|:)(?=.*[^ ])[0-9A-Za-z._/#: -]{1,255}",
            allowed="a CloudWatch namespace: 1-255 letters, digits, spaces and ._/#:- (not only spaces, "
            "not starting with ':' or AWS/)", env="METRICS_NAMESPACE"),
    Setting("dashboard", True, "create the CloudWatch dashboard of the pipeline (images, failures, "
            "Rekognition latency, queues, function, alarms)", kind="bool"),
    # watchlist: every face of every upload searched against the operator's own face collection
    # (stacks/watchlist.py, lambda/watchlist/). Read by the watchlist function only, so no `env` here:
    # its construct writes its environment (WATCHLIST_ENV_* below).
    Setting("watchlist", False, "create a Rekognition face collection and a second consumer of uploads "
            "that searches every face against it (`celeb watchlist`; needs `results_table`)", kind="bool"),
    # AWS's guidance for public-safety uses is 99; lower values trade false matches for recall.
    Setting("watchlist_threshold", 99.0, "store (and alert on) watchlist matches at or above this "
            "similarity", kind="number", low=0, high=100),
    Setting("watchlist_alert_email", "", "when set, an SNS topic emails this address once per watchlist "
            "match (image, person, similarity; never the image)",
            pattern=r"(?:[^@\s]+@[^@\s]+\.[^@\s]+)?", allowed="an email address, or empty for no alerts"),
    Setting("watchlist_match_retention_days", 365, "days a watchlist match record lives in the results "
            "table before DynamoDB's TTL deletes it", kind="int", low=1, high=3650),
    # video: stored-video celebrity recognition (stacks/video.py, recognizer/video/); needs the table.
    Setting("video", False, "recognize celebrities in uploaded `.mp4`/`.mov` videos (H.264) with "
            "Rekognition's stored-video jobs (needs `results_table`)", kind="bool"),
    # Rekognition keeps a job's results for 7 days: a later look would find nothing to record.
    Setting("video_job_timeout_minutes", 120, "a video job without a completion after this long is "
            "looked up, then recorded as its result, its failure or a timeout", kind="int", low=15,
            high=7 * 24 * 60),
    # Rekognition's default quota is 20 concurrent stored-video jobs per account and region; SQS
    # event sources need a maximum concurrency of at least 2.
    Setting("video_max_concurrent_jobs", 10, "the most video jobs this stack keeps running at once "
            "(also the start function's concurrency): leave room under Rekognition's quota of 20",
            kind="int", low=2, high=1000),
    Setting("video_interval_gap_ms", 2000, "detections of one celebrity closer than this (ms) form one "
            "interval of the video timeline", kind="int", low=0, high=600000),
)  # fmt: skip
SETTINGS_BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}
# Old context keys: they still answer, with an error naming the new key.
RENAMED_SETTINGS = {"env": "deployment"}


# --------------------------------------------------------------------------------------------
# Stack outputs (CloudFormation output keys the client reads) and the function's environment.


class StackOutput(StrEnum):
    IMAGES_BUCKET = "ImagesBucketName"
    FUNCTION_NAME = "FunctionName"
    FUNCTION_ARN = "FunctionArn"
    RESULTS_TABLE = "ResultsTableName"  # only when the stack has the results table
    QUEUE_URL = "QueueUrl"
    DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
    BACKFILL_STATE_MACHINE = "BackfillStateMachineArn"  # only when the stack has the cloud backfill
    DASHBOARD_NAME = "DashboardName"  # only when the stack has the dashboard
    DASHBOARD_URL = "DashboardUrl"  # the console's address of it (the aws partition's console)
    WATCHLIST_COLLECTION = "WatchlistCollectionId"  # only with -c watchlist=true
    WATCHLIST_FUNCTION_NAME = "WatchlistFunctionName"  # only with -c watchlist=true
    # watchlist_threshold as the function's environment has it: `celeb watchlist search`'s default.
    WATCHLIST_THRESHOLD = "WatchlistThreshold"  # only with -c watchlist=true
    # video: only when the stack has stored-video recognition
    VIDEO_TIMELINES_BUCKET = "VideoTimelinesBucketName"
    VIDEO_START_QUEUE_URL = "VideoStartQueueUrl"
    VIDEO_DEAD_LETTER_QUEUE_URL = "VideoDeadLetterQueueUrl"
    VIDEO_JOB_TIMEOUT_MINUTES = "VideoJobTimeoutMinutes"  # video_job_timeout_minutes, for the client's wait
    VIDEO_COMPLETION_DEAD_LETTER_QUEUE_URL = "VideoCompletionDeadLetterQueueUrl"  # to redrive notices


# The outputs only a stack with that option has (ResultsTableName: only with the results table).
WATCHLIST_OUTPUTS = frozenset(
    {StackOutput.WATCHLIST_COLLECTION, StackOutput.WATCHLIST_FUNCTION_NAME, StackOutput.WATCHLIST_THRESHOLD}
)
VIDEO_OUTPUTS = frozenset(
    {
        StackOutput.VIDEO_TIMELINES_BUCKET,
        StackOutput.VIDEO_START_QUEUE_URL,
        StackOutput.VIDEO_DEAD_LETTER_QUEUE_URL,
        StackOutput.VIDEO_JOB_TIMEOUT_MINUTES,
        StackOutput.VIDEO_COMPLETION_DEAD_LETTER_QUEUE_URL,
    }
)


ENV_RESULTS_TABLE = "RESULTS_TABLE_NAME"  # absent: results are returned, not stored
FUNCTION_SETTINGS = tuple(setting for setting in SETTINGS if setting.env)


# --------------------------------------------------------------------------------------------
# Upload events on EventBridge (S3's events on the default bus): what the rule matches and the
# function reads.

S3_EVENT_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"


# --------------------------------------------------------------------------------------------
# The result: what a direct invocation returns and what the results table stores per version.


class BoundingBox(TypedDict):
    """Ratios of the image's width and height, as Rekognition gives them."""

    width: float
    height: float
    left: float
    top: float


class Celebrity(TypedDict):
    name: str
    id: str
    confidence: float  # Rekognition's MatchConfidence, 0-100
    face_confidence: float
    urls: list[str]
    known_gender: str | None
    bounding_box: BoundingBox


class RecognitionResult(TypedDict):
    bucket: str
    key: str
    version_id: str | None
    celebrities: list[Celebrity]  # highest confidence first
    unrecognized_faces: int
    analyzed_at: str  # ANALYZED_AT_FORMAT, UTC
    answered_from: NotRequired[str]  # "table" when a stored result answered (no Rekognition call)
    # Content deduplication answered it from an earlier analysis of the same bytes (no Rekognition call).
    reused_from: NotRequired[ReusedAnalysis]


class ReusedAnalysis(TypedDict):
    """The analysis a deduplicated result comes from: the first object seen with the same bytes."""

    sha256: str  # hex SHA-256 of the image's bytes (the content record's key)
    bucket: str
    key: str
    version_id: str | None
    analyzed_at: str  # when Rekognition analyzed those bytes (the result's own analyzed_at is later)


ANALYZED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ANALYZED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ContractError(ValueError):
    """A payload or item that does not have the shape this module defines."""


def read_result(document: Any) -> RecognitionResult:
    """Check that `document` is a RecognitionResult (from an invocation or the table) and return it."""
    where = "result"
    _expect(isinstance(document, dict), where, "an object", document)
    for name, kind, expected in (("bucket", str, "a string"), ("key", str, "a string"),
                                 ("celebrities", list, "a list"),
                                 ("unrecognized_faces", int, "a whole number"),
                                 ("analyzed_at", str, "a string")):  # fmt: skip
        _expect(isinstance(document.get(name), kind), f"{where}.{name}", expected, document.get(name))
    _expect(document.get("version_id") is None or isinstance(document["version_id"], str),
            f"{where}.version_id", "a string or null", document.get("version_id"))  # fmt: skip
    _expect(bool(_ANALYZED_AT.fullmatch(document["analyzed_at"])), f"{where}.analyzed_at",
            "UTC time as 2026-11-26T11:29:25Z", document["analyzed_at"])  # fmt: skip
    for index, celebrity in enumerate(document["celebrities"]):
        _read_celebrity(celebrity, f"{where}.celebrities[{index}]")
    if "reused_from" in document:
        _read_reused(document["reused_from"], f"{where}.reused_from")
    return document  # type: ignore[return-value]


def _read_reused(source: Any, where: str) -> None:
    _expect(isinstance(source, dict), where, "an object", source)
    _expect(isinstance(source.get("sha256"), str) and bool(_SHA256_HEX.fullmatch(source["sha256"])),
            f"{where}.sha256", "64 lower-case hex digits", source.get("sha256"))  # fmt: skip
    for name in ("bucket", "key", "analyzed_at"):
        _expect(isinstance(source.get(name), str), f"{where}.{name}", "a string", source.get(name))
    _expect(source.get("version_id") is None or isinstance(source["version_id"], str),
            f"{where}.version_id", "a string or null", source.get("version_id"))  # fmt: skip


def _read_celebrity(celebrity: Any, where: str) -> None:
    _expect(isinstance(celebrity, dict), where, "an object", celebrity)
    number = (int, float)
    for name, kinds, expected in (("name", str, "a string"), ("id", str, "a string"),
                                  ("confidence", number, "a number"), ("face_confidence", number, "a number"),
                                  ("urls", list, "a list"), ("bounding_box", dict, "an object")):  # fmt: skip
        _expect(isinstance(celebrity.get(name), kinds), f"{where}.{name}", expected, celebrity.get(name))
    for side in BoundingBox.__annotations__:
        value = celebrity["bounding_box"].get(side)
        _expect(isinstance(value, int | float), f"{where}.bounding_box.{side}", "a number", value)


def _expect(condition: bool, where: str, expected: str, got: Any) -> None:
    if not condition:
        raise ContractError(f"{where} is {got!r}: expected {expected}")


# --------------------------------------------------------------------------------------------
# The results table. One image version = one summary item plus one item per distinct celebrity:
# - `pk = IMAGE#<bucket>/<key>`, `sk = VERSION#<version or null>`: the summary (status, result);
# - same `pk`, `sk = VERSION#<version>#CELEBRITY#<id>`: one celebrity, indexed by CELEBRITY_INDEX
#   (`celebrity_name` -> `image_ref`); only these items carry `celebrity_name`, so it is sparse.

PARTITION_KEY = "pk"
SORT_KEY = "sk"
CELEBRITY_INDEX = "by-celebrity"
CELEBRITY_INDEX_PARTITION_KEY = "celebrity_name"
CELEBRITY_INDEX_SORT_KEY = "image_ref"
IMAGE_PREFIX = "IMAGE#"
VERSION_PREFIX = "VERSION#"
CELEBRITY_MARKER = "#CELEBRITY#"
# DynamoDB's limit for a sort key, of the table or of an index, in UTF-8 bytes.
MAX_SORT_KEY_BYTES = 1024
# `image_ref` spells bucket/key out up to this length and shortens longer ones with a hash; every
# shortened form is longer than this, so no spelled-out name can equal one.
_SPELLED_OUT_BYTES = 800
_SPELLED_OUT_VERSION_BYTES = 128


class ResultStatus(StrEnum):
    """The `status` of a summary item."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"  # a video whose Rekognition job has started and not yet been recorded


class FailureCause(StrEnum):
    """Why a FAILED item failed: `image` (its bytes; only a new upload helps) or something else."""

    IMAGE = "image"
    ENVIRONMENT = "environment"  # e.g. the object was missing: a later attempt may succeed


def image_pk(bucket: str, key: str) -> str:
    return f"{IMAGE_PREFIX}{bucket}/{key}"


def version_label(version_id: str | None) -> str:
    """The version as keys spell it: "null" for none (S3's own name for it), hashed when very long."""
    if version_id is None:
        return "null"
    return _bounded(version_id, _SPELLED_OUT_VERSION_BYTES)


def summary_sk(version_id: str | None) -> str:
    return f"{VERSION_PREFIX}{version_label(version_id)}"


def celebrity_sk(version_id: str | None, celebrity_id: str) -> str:
    return f"{summary_sk(version_id)}{CELEBRITY_MARKER}{celebrity_id}"


def image_ref_prefix(bucket: str, key: str) -> str:
    """What every `image_ref` of this object starts with (for begins_with on the index)."""
    return _bounded(f"{bucket}/{key}", _SPELLED_OUT_BYTES) + "#"


def image_ref(bucket: str, key: str, version_id: str | None) -> str:
    """The celebrity index's sort key: at most 1,024 bytes for every valid bucket, key and version."""
    return image_ref_prefix(bucket, key) + version_label(version_id)


def _bounded(text: str, limit: int) -> str:
    """`text` when it fits in `limit` UTF-8 bytes; else its start, "~" and its SHA-256, limit + 1 bytes."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    digest = hashlib.sha256(data).hexdigest()
    # Cut on a character boundary (a split UTF-8 sequence is no string), then pad with "~" so that
    # every shortened form has the same length, one byte more than any spelled-out one.
    readable = data[: limit - len(digest)].decode("utf-8", "ignore")
    return readable + "~" * (limit + 1 - len(digest) - len(readable.encode())) + digest


def to_decimals(value: Any) -> Any:
    """Floats as Decimal (DynamoDB numbers), keeping the printed value: 0.1 stays 0.1."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {name: to_decimals(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_decimals(item) for item in value]
    return value


def from_decimals(value: Any) -> Any:
    """DynamoDB numbers (Decimal) and sets as JSON-friendly ints, floats and lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: from_decimals(item) for name, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [from_decimals(item) for item in value]
    return value


def _base_item(bucket: str, key: str, version_id: str | None, status: ResultStatus, analyzed_at: str,
               ) -> dict[str, Any]:  # fmt: skip
    item: dict[str, Any] = {
        PARTITION_KEY: image_pk(bucket, key),
        SORT_KEY: summary_sk(version_id),
        "bucket": bucket,
        "key": key,
        "status": str(status),
        "analyzed_at": analyzed_at,
    }
    # Absent rather than null for unversioned objects: DynamoDB keeps no attribute for "no version".
    if version_id is not None:
        item["version_id"] = version_id
    return item


def summary_item(result: RecognitionResult) -> dict[str, Any]:
    """The SUCCEEDED summary item of a result (numbers as Decimal, ready for a serializer)."""
    item = _base_item(result["bucket"], result["key"], result["version_id"], ResultStatus.SUCCEEDED,
                      result["analyzed_at"])  # fmt: skip
    item |= {
        "celebrity_count": len(result["celebrities"]),
        "unrecognized_faces": result["unrecognized_faces"],
        "celebrities": result["celebrities"],
    }
    if "reused_from" in result:
        source = result["reused_from"]
        # Absent rather than null, as on the item itself.
        item["reused_from"] = {name: value for name, value in source.items() if value is not None}
    return to_decimals(item)


def celebrity_items(result: RecognitionResult) -> list[dict[str, Any]]:
    """One index item per distinct celebrity id; the first (highest confidence) occurrence wins."""
    bucket, key, version_id = result["bucket"], result["key"], result["version_id"]
    items: dict[str, dict[str, Any]] = {}
    for celebrity in result["celebrities"]:
        celebrity_id = celebrity["id"]
        # DynamoDB refuses an empty string as a key: a match without an id or a name stays in the
        # summary, unindexed (its write would otherwise fail on every delivery).
        if not celebrity_id or not celebrity["name"] or celebrity_id in items:
            continue
        item = {
            PARTITION_KEY: image_pk(bucket, key),
            SORT_KEY: celebrity_sk(version_id, celebrity_id),
            CELEBRITY_INDEX_PARTITION_KEY: celebrity["name"],
            CELEBRITY_INDEX_SORT_KEY: image_ref(bucket, key, version_id),
            "celebrity_id": celebrity_id,
            "bucket": bucket,
            "key": key,
            "confidence": celebrity["confidence"],
            "analyzed_at": result["analyzed_at"],
        }
        if version_id is not None:
            item["version_id"] = version_id
        items[celebrity_id] = to_decimals(item)
    return list(items.values())


def failure_item(ref: ImageRef, error_type: str, message: str, cause: FailureCause, analyzed_at: str,
                 ) -> dict[str, Any]:  # fmt: skip
    item = _base_item(ref.bucket, ref.key, ref.version_id, ResultStatus.FAILED, analyzed_at)
    item |= {
        "celebrity_count": 0,
        "unrecognized_faces": 0,
        "celebrities": [],
        "error_type": error_type,
        "error_message": message,
        "failure_cause": str(cause),
    }
    return item


def is_celebrity_item(item: Mapping[str, Any]) -> bool:
    return CELEBRITY_MARKER in str(item.get(SORT_KEY, ""))


def is_summary_item(item: Mapping[str, Any]) -> bool:
    """A version's result (not an index item, not a content record); plain or typed items alike."""
    pk, sk = (_plain_key(item.get(name)) for name in (PARTITION_KEY, SORT_KEY))
    return pk.startswith(IMAGE_PREFIX) and sk.startswith(VERSION_PREFIX) and CELEBRITY_MARKER not in sk


def _plain_key(value: Any) -> str:
    # DynamoDB's typed form ({"S": "..."}) as a client's scan returns it, or the plain string.
    return str(value.get("S", "")) if isinstance(value, dict) else str(value or "")


def result_of(item: Mapping[str, Any]) -> RecognitionResult:
    """The result a SUCCEEDED summary item holds (plain values, as `from_decimals` gives them)."""
    plain = from_decimals(dict(item))
    if plain.get("status") != ResultStatus.SUCCEEDED:
        raise ContractError(f"item {plain.get(PARTITION_KEY)!r} {plain.get(SORT_KEY)!r} is not a success")
    result = {
        "bucket": plain.get("bucket"),
        "key": plain.get("key"),
        "version_id": plain.get("version_id"),
        "celebrities": plain.get("celebrities"),
        "unrecognized_faces": plain.get("unrecognized_faces"),
        "analyzed_at": plain.get("analyzed_at"),
    }
    if "reused_from" in plain:
        source = plain["reused_from"]
        result["reused_from"] = {"version_id": None, **source} if isinstance(source, dict) else source
    return read_result(result)


def may_succeed_later(item: Mapping[str, Any]) -> bool:
    """Whether a FAILED item's cause may have passed (items from before causes were recorded: yes)."""
    return item.get("status") == ResultStatus.FAILED and item.get("failure_cause") != FailureCause.IMAGE


class RecordedFailure(TypedDict):
    """What a FAILED summary item records (see `failure_item`), as readers get it from `failure_of`."""

    bucket: str
    key: str
    version_id: str | None
    error_type: str
    error_message: str
    failure_cause: str | None  # None on items written before causes were recorded
    analyzed_at: str  # ANALYZED_AT_FORMAT, UTC


def failure_of(item: Mapping[str, Any]) -> RecordedFailure:
    """The failure a FAILED summary item records; ContractError when it is not one."""
    plain = from_decimals(dict(item))
    where = f"item {plain.get(PARTITION_KEY)!r} {plain.get(SORT_KEY)!r}"
    _expect(plain.get("status") == ResultStatus.FAILED, f"{where}.status", ResultStatus.FAILED,
            plain.get("status"))  # fmt: skip
    for name in ("bucket", "key", "error_type", "error_message", "analyzed_at"):
        _expect(isinstance(plain.get(name), str), f"{where}.{name}", "a string", plain.get(name))
    _expect(plain.get("version_id") is None or isinstance(plain["version_id"], str),
            f"{where}.version_id", "a string or absent", plain.get("version_id"))  # fmt: skip
    causes = {str(cause) for cause in FailureCause}
    _expect(plain.get("failure_cause") is None or plain["failure_cause"] in causes,
            f"{where}.failure_cause", " or ".join(sorted(causes)), plain.get("failure_cause"))  # fmt: skip
    _expect(bool(_ANALYZED_AT.fullmatch(plain["analyzed_at"])), f"{where}.analyzed_at",
            "UTC time as 2026-11-26T11:29:25Z", plain["analyzed_at"])  # fmt: skip
    return {
        "bucket": plain["bucket"],
        "key": plain["key"],
        "version_id": plain.get("version_id"),
        "error_type": plain["error_type"],
        "error_message": plain["error_message"],
        "failure_cause": plain.get("failure_cause"),
        "analyzed_at": plain["analyzed_at"],
    }


# `answered_from` of a result the results table answered: no Rekognition call was made for it.
ANSWERED_FROM_TABLE = "table"


# --------------------------------------------------------------------------------------------
# The cloud backfill (stacks/backfill.py builds it, celeb/cloud_backfill.py starts and reads it):
# what one execution takes, and what each of its batches reports about the objects it examined.


class BackfillInput(TypedDict):
    prefix: str  # list only keys that start with this
    retry_failed: bool  # also send versions whose recorded failure may pass (`may_succeed_later`)
    dry_run: bool  # count, send nothing


BACKFILL_INPUT_DEFAULTS: BackfillInput = {"prefix": "", "retry_failed": False, "dry_run": False}


class BackfillCount(StrEnum):
    """What the backfill did with a listed object; each batch's output counts each of these."""

    QUEUED = "queued"  # no result yet: sent to the upload queue (a dry run only counts it)
    RETRIED = "retried"  # a recorded failure that may pass, with retry_failed: sent again
    ANALYZED = "analyzed"  # the version has a result (or a failure not retried): skipped
    NOT_IMAGE = "not_image"  # no image suffix (`is_image_key`): skipped
    GONE = "gone"  # deleted between the listing and its check: skipped


# --------------------------------------------------------------------------------------------
# Content records: one per distinct image content analyzed, in the results table, so that the same
# bytes under another key or version are answered without a second Rekognition call.
# - `pk = CONTENT#sha256:<hex digest of the bytes>`, `sk = CONTENT_SK`; no `celebrity_name`, so the
#   celebrity index never holds one, and readers of results select `pk` by IMAGE_PREFIX.
# - `analysis`: one JSON string with where the bytes were analyzed and every celebrity Rekognition
#   returned (unfiltered: `min_confidence` applies afresh to each result built from it). The
#   function alone reads it, and one string costs DynamoDB and botocore far less than nested maps.

CONTENT_PREFIX = "CONTENT#sha256:"
CONTENT_SK = "ANALYSIS"


class ContentAnalysis(NamedTuple):
    """What a content record holds: Rekognition's answer for some bytes, and where they were seen."""

    sha256: str
    source: ImageRef  # the object version whose analysis this is
    celebrities: list[Celebrity]  # every match, unfiltered, highest confidence first
    unrecognized_faces: int
    analyzed_at: str  # ANALYZED_AT_FORMAT, UTC

    def reused(self) -> ReusedAnalysis:
        """How a result built from this analysis names it (RecognitionResult.reused_from)."""
        bucket, key, version_id = self.source
        return {"sha256": self.sha256, "bucket": bucket, "key": key, "version_id": version_id,
                "analyzed_at": self.analyzed_at}  # fmt: skip


def content_pk(sha256: str) -> str:
    if not _SHA256_HEX.fullmatch(sha256):
        raise ContractError(f"content digest {sha256!r}: expected 64 lower-case hex digits")
    return f"{CONTENT_PREFIX}{sha256}"


def content_item(content: ContentAnalysis) -> dict[str, Any]:
    """The content record of an analysis."""
    bucket, key, version_id = content.source
    analysis = {
        "bucket": bucket,
        "key": key,
        "version_id": version_id,
        "celebrities": content.celebrities,
        "unrecognized_faces": content.unrecognized_faces,
        "analyzed_at": content.analyzed_at,
    }
    return {
        PARTITION_KEY: content_pk(content.sha256),
        SORT_KEY: CONTENT_SK,
        "analysis": json.dumps(analysis, separators=(",", ":"), ensure_ascii=False),
    }


def content_of(item: Mapping[str, Any]) -> ContentAnalysis:
    """The analysis a content record holds; ContractError when it is not one."""
    where = f"item {item.get(PARTITION_KEY)!r} {item.get(SORT_KEY)!r}"
    key = item.get(PARTITION_KEY)
    _expect(isinstance(key, str) and key.startswith(CONTENT_PREFIX), f"{where}.{PARTITION_KEY}",
            f"{CONTENT_PREFIX}<sha256>", key)  # fmt: skip
    sha256 = key.removeprefix(CONTENT_PREFIX)
    content_pk(sha256)
    _expect(isinstance(item.get("analysis"), str), f"{where}.analysis", "a string", item.get("analysis"))
    try:
        analysis = json.loads(item["analysis"])
    except ValueError:
        raise ContractError(f"{where}.analysis is not JSON") from None
    where += ".analysis"
    _expect(isinstance(analysis, dict), where, "a JSON object", analysis)
    for name, kind, expected in (("bucket", str, "a string"), ("key", str, "a string"),
                                 ("celebrities", list, "a list"), ("analyzed_at", str, "a string"),
                                 ("unrecognized_faces", int, "a whole number")):  # fmt: skip
        _expect(isinstance(analysis.get(name), kind), f"{where}.{name}", expected, analysis.get(name))
    _expect(analysis.get("version_id") is None or isinstance(analysis["version_id"], str),
            f"{where}.version_id", "a string or null", analysis.get("version_id"))  # fmt: skip
    for index, celebrity in enumerate(analysis["celebrities"]):
        _read_celebrity(celebrity, f"{where}.celebrities[{index}]")
    return ContentAnalysis(
        sha256,
        ImageRef(analysis["bucket"], analysis["key"], analysis.get("version_id")),
        analysis["celebrities"],
        analysis["unrecognized_faces"],
        analysis["analyzed_at"],
    )


# --------------------------------------------------------------------------------------------
# Metrics (metrics and dashboard): the names the function publishes in Embedded Metric Format
# (recognizer/metrics.py) and the dashboard graphs (stacks/dashboard.py), in the namespace of the
# `metrics_namespace` setting. Dimensions stay few and low-cardinality: the function's name, and a
# failure's error class, never a bucket, key or celebrity.


class MetricName(StrEnum):
    IMAGES_ANALYZED = "ImagesAnalyzed"  # images answered with a result, by Rekognition or the table
    CELEBRITIES_FOUND = "CelebritiesFound"  # celebrities in those results
    UNRECOGNIZED_FACES = "UnrecognizedFaces"  # faces in those results that matched no celebrity
    ANSWERED_FROM_TABLE = "AnsweredFromTable"  # results answered without a Rekognition call
    FAILURES = "Failures"  # images that failed (recorded, or handed back for a retry)
    REKOGNITION_LATENCY = "RekognitionLatency"  # one RecognizeCelebrities call, botocore's retries included


METRIC_FUNCTION_DIMENSION = "FunctionName"  # every metric; Lambda's own metrics use the same name
METRIC_ERROR_TYPE_DIMENSION = "ErrorType"  # Failures also: the error's class (a closed set)
# The ErrorType of a failure that is no named error of the function (a bug): keeps the set closed.
METRIC_INTERNAL_ERROR = "InternalError"


# The other functions' metrics: same namespace (`metrics_namespace`), METRIC_FUNCTION_DIMENSION as the
# only dimension, published with recognizer.metrics.function_metrics; the dashboard graphs each one
# per the function named in its comment.


class WatchlistMetricName(StrEnum):
    """The watchlist function's metrics (lambda/watchlist/)."""

    FACES_SEARCHED = "FacesSearched"  # Count: faces searched against the collection
    FACES_TOO_SMALL = "FacesTooSmall"  # Count: faces too small to search (not searched)
    WATCHLIST_MATCHES = "WatchlistMatches"  # Count: matches at or above the threshold
    WATCHLIST_SEARCH_LATENCY = "WatchlistSearchLatency"  # Milliseconds: Rekognition's search calls


# Watchlist (stacks/watchlist.py, lambda/watchlist/, celeb/watchlist.py): the face collection's user
# ids, the watchlist function's environment, and its records in the results table.
# - `pk = image_pk(bucket, key)`, `sk = WATCHLIST#<version>`: one summary per searched version (faces
#   found, searched, too small, matches). The sort key does not start with VERSION_PREFIX, so every
#   reader of celebrity results (summaries, backfill, history) passes these items by.
# - same `pk`, `sk = WATCHLIST#<version>#PERSON#<user id>`: one match per person and version (the
#   most similar face), indexed by PERSON_INDEX (`watchlist_person` -> `image_ref`), sparse like the
#   celebrity index.
# - every watchlist item carries WATCHLIST_TTL_ATTRIBUTE (epoch seconds): DynamoDB's TTL deletes it
#   `watchlist_match_retention_days` after the analysis.

# Rekognition's UserId (botocore model: pattern [a-zA-Z0-9_.\-:]+, 1 to 128 characters).
USER_ID_PATTERN = re.compile(r"[a-zA-Z0-9_.\-:]+")
MAX_USER_ID_CHARS = 128
USER_ID_ALLOWED = "1 to 128 characters, each a letter a-z or A-Z, a digit, '_', '.', '-' or ':'"

# Rekognition's limit for an image sent as bytes (Image.Bytes): enrollment photos and `celeb watchlist
# search` photos travel so; the watchlist function sends larger uploads (up to MAX_IMAGE_BYTES) to
# DetectFaces as an S3Object instead.
MAX_IMAGE_BYTES_INLINE = 5 * 1024 * 1024

WATCHLIST_ENV_COLLECTION = "WATCHLIST_COLLECTION_ID"
WATCHLIST_ENV_THRESHOLD = "WATCHLIST_THRESHOLD"
WATCHLIST_ENV_RETENTION_DAYS = "WATCHLIST_MATCH_RETENTION_DAYS"
WATCHLIST_ENV_TOPIC = "WATCHLIST_ALERT_TOPIC_ARN"  # absent: no alerts
# The results table's name: the same variable as the recognition function's (ENV_RESULTS_TABLE).

WATCHLIST_PREFIX = "WATCHLIST#"
PERSON_MARKER = "#PERSON#"
PERSON_INDEX = "by-person"
PERSON_INDEX_PARTITION_KEY = "watchlist_person"
PERSON_INDEX_SORT_KEY = CELEBRITY_INDEX_SORT_KEY  # the same `image_ref` attribute
WATCHLIST_TTL_ATTRIBUTE = "expires_at"


def check_user_id(user_id: str) -> str:
    """`user_id` when Rekognition accepts it as a UserId, else ContractError saying what is allowed."""
    if not isinstance(user_id, str) or not user_id:
        raise ContractError(f"person name {user_id!r} is empty: expected {USER_ID_ALLOWED}")
    if len(user_id) > MAX_USER_ID_CHARS or not USER_ID_PATTERN.fullmatch(user_id):
        bad = sorted({char for char in user_id if not USER_ID_PATTERN.fullmatch(char)})
        which = f" (not allowed: {''.join(bad)!r})" if bad else f" ({len(user_id)} characters)"
        raise ContractError(f"person name {user_id!r} cannot be a Rekognition user id{which}: "
                            f"expected {USER_ID_ALLOWED}")  # fmt: skip
    return user_id


class FaceOutcome(StrEnum):
    """What became of one face DetectFaces found in an upload."""

    MATCHED = "matched"  # searched; at least one person at or above the threshold
    NO_MATCH = "no_match"  # searched; nobody at or above the threshold
    TOO_SMALL = "too_small"  # under the smallest face Rekognition searches: not searched
    UNSEARCHABLE = "unsearchable"  # searched, but Rekognition found no face in the crop


class WatchlistMatch(TypedDict):
    person: str  # the collection's user id
    similarity: float  # SearchUsersByImage's Similarity, 0-100
    bounding_box: BoundingBox  # the face in the upload (ratios of the upright image)


class WatchlistFace(TypedDict):
    outcome: str  # FaceOutcome
    bounding_box: BoundingBox
    matches: list[WatchlistMatch]  # most similar first; empty unless MATCHED


class WatchlistResult(TypedDict):
    bucket: str
    key: str
    version_id: str | None
    faces: list[WatchlistFace]  # as DetectFaces listed them
    analyzed_at: str  # ANALYZED_AT_FORMAT, UTC


def watchlist_summary_sk(version_id: str | None) -> str:
    return f"{WATCHLIST_PREFIX}{version_label(version_id)}"


def watchlist_match_sk(version_id: str | None, person: str) -> str:
    return f"{watchlist_summary_sk(version_id)}{PERSON_MARKER}{person}"


def best_matches(result: WatchlistResult) -> list[WatchlistMatch]:
    """One match per person (their most similar face), most similar first."""
    best: dict[str, WatchlistMatch] = {}
    for face in result["faces"]:
        for match in face["matches"]:
            if match["person"] not in best or match["similarity"] > best[match["person"]]["similarity"]:
                best[match["person"]] = match
    return sorted(best.values(), key=lambda match: (-match["similarity"], match["person"]))


def _watchlist_base(result: WatchlistResult, sort_key: str, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        PARTITION_KEY: image_pk(result["bucket"], result["key"]),
        SORT_KEY: sort_key,
        "bucket": result["bucket"],
        "key": result["key"],
        "analyzed_at": result["analyzed_at"],
        WATCHLIST_TTL_ATTRIBUTE: expires_at,
    }
    if result["version_id"] is not None:
        item["version_id"] = result["version_id"]
    return item


def watchlist_summary_item(result: WatchlistResult, expires_at: int) -> dict[str, Any]:
    """The version's watchlist summary: every face's outcome, so a face too small is on record."""
    item = _watchlist_base(result, watchlist_summary_sk(result["version_id"]), expires_at)
    outcomes = [face["outcome"] for face in result["faces"]]
    item |= {
        "status": str(ResultStatus.SUCCEEDED),
        "face_count": len(result["faces"]),
        "match_count": len(best_matches(result)),
        "too_small": outcomes.count(FaceOutcome.TOO_SMALL),
        # Outcomes and boxes only: who matched is in the match items, which `celeb watchlist remove`
        # deletes with the person, so no summary names anyone.
        "faces": [{"outcome": f["outcome"], "bounding_box": f["bounding_box"]} for f in result["faces"]],
    }
    return to_decimals(item)


def watchlist_match_items(result: WatchlistResult, expires_at: int) -> list[dict[str, Any]]:
    """One item per matched person, indexed by PERSON_INDEX."""
    items = []
    for match in best_matches(result):
        item = _watchlist_base(result, watchlist_match_sk(result["version_id"], match["person"]), expires_at)
        item |= {
            PERSON_INDEX_PARTITION_KEY: match["person"],
            PERSON_INDEX_SORT_KEY: image_ref(result["bucket"], result["key"], result["version_id"]),
            "similarity": match["similarity"],
            "bounding_box": match["bounding_box"],
        }
        items.append(to_decimals(item))
    return items


def watchlist_match_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """A match item as readers show it (plain values); ContractError when it is not one."""
    plain = from_decimals(dict(item))
    where = f"item {plain.get(PARTITION_KEY)!r} {plain.get(SORT_KEY)!r}"
    for name in ("bucket", "key", PERSON_INDEX_PARTITION_KEY, "analyzed_at"):
        _expect(isinstance(plain.get(name), str), f"{where}.{name}", "a string", plain.get(name))
    _expect(isinstance(plain.get("similarity"), int | float), f"{where}.similarity", "a number",
            plain.get("similarity"))  # fmt: skip
    _expect(isinstance(plain.get("bounding_box"), dict), f"{where}.bounding_box", "an object",
            plain.get("bounding_box"))  # fmt: skip
    return {
        "person": plain[PERSON_INDEX_PARTITION_KEY],
        "bucket": plain["bucket"],
        "key": plain["key"],
        "version_id": plain.get("version_id"),
        "similarity": plain["similarity"],
        "bounding_box": plain["bounding_box"],
        "analyzed_at": plain["analyzed_at"],
    }


def is_watchlist_item(item: Mapping[str, Any]) -> bool:
    return _plain_key(item.get(SORT_KEY)).startswith(WATCHLIST_PREFIX)


# --------------------------------------------------------------------------------------------
# Stored video (stacks/video.py starts and collects Rekognition's stored-video jobs; celeb reads
# them). Rekognition's limits for StartCelebrityRecognition: H.264 in an MP4 or MOV container, at
# most 10 GB, at most 6 hours. One video version in the results table:
# - the summary item, as for an image (`image_pk`, `summary_sk`), with `media = "video"` and the
#   `job_id`: status IN_PROGRESS from the start, then SUCCEEDED (per-celebrity summary) or FAILED;
# - one index item per celebrity (`celebrity_sk`, CELEBRITY_INDEX), so `--celebrity` finds videos;
# - while its job runs, a pending item `pk = VIDEO_JOBS_PK`, `sk = PENDING#<job id>`: the jobs in
#   flight in one small partition, which the completion and the sweep read and delete.
# The full timeline (every detection) is a JSON object in the stack's timelines bucket: a six-hour
# video can hold hundreds of thousands of detections, far beyond DynamoDB's 400 KB per item.

VIDEO_SUFFIXES = (".mp4", ".mov")
VIDEO_CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime"}
MAX_VIDEO_BYTES = 10 * 1024**3  # Rekognition's 10 GB limit for a stored video
MAX_VIDEO_SECONDS = 6 * 3600
H264_SAMPLE_ENTRIES = ("avc1", "avc3")  # ISO BMFF sample entry codes of H.264 (AVC) video tracks
MEDIA_VIDEO = "video"  # the `media` attribute of a video's items (images carry none)
VIDEO_JOBS_PK = "VIDEOJOBS"
PENDING_JOB_PREFIX = "PENDING#"
TIMELINE_PREFIX = "timelines/"
# Summary items keep at most this many intervals per celebrity (the timeline object keeps all).
SUMMARY_INTERVALS = 20
# ... and at most this many celebrities, those with the most appearances (then the highest
# confidence); `celebrity_count` stays the video's total and `summary_celebrities` says how many the
# item kept, the timeline object and the index items keep every one. A kept celebrity is at most a
# kilobyte or two (20 intervals, a few URLs), so the item stays far under DynamoDB's 400 KB; should
# names or URLs be unusually long, celebrities are dropped from the end until the item's size (as
# DynamoDB counts it, numbers at their largest) is under SUMMARY_MAX_BYTES.
SUMMARY_CELEBRITIES = 100
DYNAMODB_MAX_ITEM_BYTES = 400 * 1024
SUMMARY_MAX_BYTES = 300 * 1024
# Top-level boxes an MP4/MOV starts with (`ftyp` in MP4; old QuickTime files may start otherwise):
# the client's check of a local file and the start function's limit checks.
LEADING_BOXES = frozenset({"ftyp", "moov", "mdat", "wide", "free", "skip", "pnot", "uuid"})
# How often the stack's sweep looks for overdue jobs (stacks/video.py); below the smallest
# video_job_timeout_minutes (a test checks), so a timeout is recorded within one sweep of it.
VIDEO_SWEEP_MINUTES = 10
# `celeb recognize` waits for a video's settled summary at most video_job_timeout_minutes plus this:
# two sweeps (the one that records the timeout may run just before the deadline) and a start deferred
# once at SQS's longest delay (15 minutes).
VIDEO_WAIT_MARGIN_MINUTES = 2 * VIDEO_SWEEP_MINUTES + 15


class VideoMetricName(StrEnum):
    """The video functions' figures (EMF on their log lines, dimension FunctionName, metrics_namespace)."""

    JOBS_STARTED = "VideoJobsStarted"  # a Rekognition job started (the start function)
    STARTS_DEFERRED = "VideoStartsDeferred"  # a start sent back to the start queue, delayed
    JOBS_SUCCEEDED = "VideoJobsSucceeded"  # a job's results recorded (the results function)
    # a video recorded FAILED: by the start function (limit checks, a refused start) or the results
    # function (Rekognition's failure, a timeout)
    JOBS_FAILED = "VideoJobsFailed"


def video_wait_minutes(job_timeout_minutes: int) -> int:
    """How long the client waits for a video's settled summary before it gives up watching."""
    return job_timeout_minutes + VIDEO_WAIT_MARGIN_MINUTES


# Environment of the video functions (the stack writes them; recognizer.video.settings reads them).
ENV_VIDEO_TOPIC_ARN = "VIDEO_TOPIC_ARN"
ENV_VIDEO_ROLE_ARN = "VIDEO_ROLE_ARN"
ENV_VIDEO_START_QUEUE_URL = "VIDEO_START_QUEUE_URL"
ENV_VIDEO_TIMELINES_BUCKET = "VIDEO_TIMELINES_BUCKET"
ENV_VIDEO_MAX_CONCURRENT_JOBS = "VIDEO_MAX_CONCURRENT_JOBS"
ENV_VIDEO_JOB_TIMEOUT_MINUTES = "VIDEO_JOB_TIMEOUT_MINUTES"
ENV_VIDEO_INTERVAL_GAP_MS = "VIDEO_INTERVAL_GAP_MS"


def is_video_key(key: str) -> bool:
    """Whether uploads under this key start a video job (suffix, any case)."""
    return key.lower().endswith(VIDEO_SUFFIXES)


def video_job_token(bucket: str, key: str, version_id: str | None) -> str:
    """StartCelebrityRecognition's ClientRequestToken for one object version.

    64 hex digits: the API allows 1-64 characters of [a-zA-Z0-9-_]. The same version always gives
    the same token, so a redelivered upload event gets the job already started, not a second one.
    """
    name = "\0".join((bucket, key, version_label(version_id)))
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def timeline_key(job_id: str) -> str:
    """Where the timelines bucket keeps a job's full timeline."""
    return f"{TIMELINE_PREFIX}{job_id}.json"


class VideoAppearance(TypedDict):
    """One celebrity in one video version, aggregated over every detection of the job."""

    name: str
    id: str
    urls: list[str]
    known_gender: str | None
    confidence: float  # the highest match confidence over the detections
    best_ms: int  # the timestamp of that detection
    bounding_box: BoundingBox  # the face's box in that frame
    first_seen_ms: int
    last_seen_ms: int
    appearances: int  # detections (sampled frames) the celebrity was recognized in
    intervals: list[list[int]]  # [start_ms, end_ms] pairs, detections within the gap merged
    interval_count: int  # all intervals (summary items keep the first SUMMARY_INTERVALS)


class VideoResult(TypedDict):
    bucket: str
    key: str
    version_id: str | None
    job_id: str
    celebrities: list[VideoAppearance]  # highest confidence first
    detections: int  # recognitions Rekognition returned (after min_confidence)
    duration_ms: int | None  # from Rekognition's VideoMetadata, when given
    timeline: str | None  # s3://bucket/key of the full timeline, None when not written
    analyzed_at: str  # ANALYZED_AT_FORMAT, UTC: when the result was recorded
    # From a summary item: the video's celebrities in all (`celebrities` keeps SUMMARY_CELEBRITIES)
    celebrity_count: NotRequired[int]


def pending_job_key(job_id: str) -> dict[str, str]:
    return {PARTITION_KEY: VIDEO_JOBS_PK, SORT_KEY: f"{PENDING_JOB_PREFIX}{job_id}"}


def pending_job_item(ref: ImageRef, job_id: str, started_at: str) -> dict[str, Any]:
    """The marker of a job in flight: which version it analyzes and since when."""
    item: dict[str, Any] = {**pending_job_key(job_id), "bucket": ref.bucket, "key": ref.key,
                            "job_id": job_id, "started_at": started_at}  # fmt: skip
    if ref.version_id is not None:
        item["version_id"] = ref.version_id
    return item


def pending_job_of(item: Mapping[str, Any]) -> tuple[ImageRef, str, str]:
    """(the version, the job id, started_at) of a pending item; ContractError when it is not one."""
    plain = from_decimals(dict(item))
    where = f"item {plain.get(PARTITION_KEY)!r} {plain.get(SORT_KEY)!r}"
    for name in ("bucket", "key", "job_id", "started_at"):
        _expect(isinstance(plain.get(name), str), f"{where}.{name}", "a string", plain.get(name))
    _expect(plain.get("version_id") is None or isinstance(plain["version_id"], str),
            f"{where}.version_id", "a string or absent", plain.get("version_id"))  # fmt: skip
    ref = ImageRef(plain["bucket"], plain["key"], plain.get("version_id"))
    return ref, plain["job_id"], plain["started_at"]


def video_started_item(ref: ImageRef, job_id: str, started_at: str) -> dict[str, Any]:
    """The summary item of a video whose job runs (status IN_PROGRESS)."""
    item = _base_item(ref.bucket, ref.key, ref.version_id, ResultStatus.IN_PROGRESS, started_at)
    return item | {"media": MEDIA_VIDEO, "job_id": job_id, "started_at": started_at,
                   "celebrity_count": 0, "unrecognized_faces": 0, "celebrities": []}  # fmt: skip


def video_summary_item(result: VideoResult) -> dict[str, Any]:
    """The SUCCEEDED summary item of a video, bounded: at most SUMMARY_CELEBRITIES celebrities (the most
    appearances), SUMMARY_INTERVALS intervals each, and SUMMARY_MAX_BYTES in all."""
    item = _base_item(result["bucket"], result["key"], result["version_id"], ResultStatus.SUCCEEDED,
                      result["analyzed_at"])  # fmt: skip
    ranked = sorted(
        range(len(result["celebrities"])),
        key=lambda index: (
            -result["celebrities"][index]["appearances"],
            -result["celebrities"][index]["confidence"],
            index,
        ),
    )
    kept = sorted(ranked[:SUMMARY_CELEBRITIES])  # in the result's order: highest confidence first
    item |= {
        "media": MEDIA_VIDEO,
        "job_id": result["job_id"],
        "celebrity_count": len(result["celebrities"]),
        "unrecognized_faces": 0,  # Rekognition's video API reports recognized celebrities only
        "detections": result["detections"],
    }
    for name in ("duration_ms", "timeline"):
        if result[name] is not None:  # type: ignore[literal-required]
            item[name] = result[name]  # type: ignore[literal-required]
    celebrities = [
        {**celebrity, "intervals": celebrity["intervals"][:SUMMARY_INTERVALS]}
        for celebrity in (result["celebrities"][index] for index in kept)
    ]
    size = dynamodb_item_bytes(to_decimals(item)) + 64  # room for the two attributes below
    sizes = [dynamodb_value_bytes(to_decimals(celebrity)) + 1 for celebrity in celebrities]
    while celebrities and size + 3 + sum(sizes) > SUMMARY_MAX_BYTES:
        celebrities.pop()
        sizes.pop()
    item |= {"celebrities": celebrities, "summary_celebrities": len(celebrities)}
    return to_decimals(item)


def dynamodb_item_bytes(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it against its 400 KB limit (numbers counted at 21 bytes)."""
    return sum(len(name.encode()) + dynamodb_value_bytes(value) for name, value in item.items())


def dynamodb_value_bytes(value: Any) -> int:
    """One attribute value's size: UTF-8 strings, binary, numbers (at most 21), lists and maps (3 bytes,
    plus one a member, plus a map's names), booleans and nulls (1)."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, int | float | Decimal):
        return 21
    if isinstance(value, Mapping):
        return 3 + sum(len(str(k).encode()) + dynamodb_value_bytes(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(dynamodb_value_bytes(member) + 1 for member in value)
    raise ContractError(f"{type(value).__name__} {value!r:.80}: not a DynamoDB attribute value")


def video_celebrity_items(result: VideoResult) -> list[dict[str, Any]]:
    """One index item per celebrity of the video, as `celebrity_items` writes them for an image."""
    bucket, key, version_id = result["bucket"], result["key"], result["version_id"]
    items = []
    for celebrity in result["celebrities"]:
        if not celebrity["id"] or not celebrity["name"]:
            continue  # DynamoDB refuses empty key strings; the summary keeps such a match
        item = {
            PARTITION_KEY: image_pk(bucket, key),
            SORT_KEY: celebrity_sk(version_id, celebrity["id"]),
            CELEBRITY_INDEX_PARTITION_KEY: celebrity["name"],
            CELEBRITY_INDEX_SORT_KEY: image_ref(bucket, key, version_id),
            "celebrity_id": celebrity["id"],
            "bucket": bucket,
            "key": key,
            "confidence": celebrity["confidence"],
            "analyzed_at": result["analyzed_at"],
            "media": MEDIA_VIDEO,
            "first_seen_ms": celebrity["first_seen_ms"],
            "last_seen_ms": celebrity["last_seen_ms"],
            "appearances": celebrity["appearances"],
        }
        if version_id is not None:
            item["version_id"] = version_id
        items.append(to_decimals(item))
    return items


def video_failure_item(ref: ImageRef, error_type: str, message: str, cause: FailureCause, analyzed_at: str,
                       job_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A FAILED video summary: `failure_item` marked as a video, with its job when one started."""
    item = failure_item(ref, error_type, message, cause, analyzed_at) | {"media": MEDIA_VIDEO}
    if job_id is not None:
        item["job_id"] = job_id
    return item


def is_video_item(item: Mapping[str, Any]) -> bool:
    return item.get("media") == MEDIA_VIDEO


def video_result_of(item: Mapping[str, Any]) -> VideoResult:
    """The result a SUCCEEDED video summary item holds; ContractError when it is not one."""
    plain = from_decimals(dict(item))
    where = f"item {plain.get(PARTITION_KEY)!r} {plain.get(SORT_KEY)!r}"
    _expect(plain.get("status") == ResultStatus.SUCCEEDED and is_video_item(plain), where,
            "a SUCCEEDED video summary", plain.get("status"))  # fmt: skip
    fields = (("bucket", str, "a string"), ("key", str, "a string"), ("job_id", str, "a string"),
              ("celebrities", list, "a list"), ("analyzed_at", str, "a string"),
              ("detections", int, "a whole number"))  # fmt: skip
    for name, kind, expected in fields:
        _expect(isinstance(plain.get(name), kind), f"{where}.{name}", expected, plain.get(name))
    for index, celebrity in enumerate(plain["celebrities"]):
        _read_appearance(celebrity, f"{where}.celebrities[{index}]")
    return {
        "bucket": plain["bucket"],
        "key": plain["key"],
        "version_id": plain.get("version_id"),
        "job_id": plain["job_id"],
        "celebrities": plain["celebrities"],
        "detections": plain["detections"],
        "duration_ms": plain.get("duration_ms"),
        "timeline": plain.get("timeline"),
        "analyzed_at": plain["analyzed_at"],
        "celebrity_count": count
        if isinstance(count := plain.get("celebrity_count"), int)
        else len(plain["celebrities"]),
    }


def _read_appearance(celebrity: Any, where: str) -> None:
    _expect(isinstance(celebrity, dict), where, "an object", celebrity)
    number = (int, float)
    fields = (("name", str, "a string"), ("id", str, "a string"), ("confidence", number, "a number"),
              ("first_seen_ms", int, "a whole number"), ("last_seen_ms", int, "a whole number"),
              ("appearances", int, "a whole number"), ("intervals", list, "a list"),
              ("bounding_box", dict, "an object"))  # fmt: skip
    for name, kinds, expected in fields:
        _expect(isinstance(celebrity.get(name), kinds), f"{where}.{name}", expected, celebrity.get(name))
