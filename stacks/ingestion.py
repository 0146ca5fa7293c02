"""The event path: S3 upload events -> EventBridge rule -> SQS queue -> the function in batches.

The images bucket publishes its events to the account's default event bus (a property of the bucket,
see `storage.py`); consumers of uploads take them from this rule (the watchlist is a second target)
or a rule of their own (stored video). This one delivers image
uploads to the queue, which absorbs bursts so that the function's concurrency, and so the Rekognition
call rate, stays under the account's TPS quota; partial batch responses retry only the images that
failed. An optional archive of the same events allows replaying a time window after an outage.
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import quote_plus

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from recognizer.contract import IMAGE_SUFFIXES, OBJECT_CREATED, S3_EVENT_SOURCE
from stacks import queues
from stacks.compliance import acknowledge
from stacks.config import AppConfig, ConfigError

# AWS's guidance for SQS event sources: at least six times the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
# EventBridge's most patient retry policy. Missing permissions or a deleted queue go to the
# dead-letter queue at once, without retries (EventBridge user guide, "Event retry policy"); what is
# left is throttling and service errors, which are worth retrying for as long as EventBridge allows.
DELIVERY_RETRY_ATTEMPTS = 185
DELIVERY_MAX_EVENT_AGE = Duration.hours(24)
# EventBridge's default quota on the size of an event pattern, in characters.
MAX_EVENT_PATTERN_CHARS = 2048
# The longest bucket name S3 allows: the size check holds whatever name CloudFormation generates.
_LONGEST_BUCKET_NAME = "b" * 63


def _spellings(suffix: str) -> list[str]:
    """Every upper/lower-case spelling of `suffix`: '.png' -> '.png', '.pnG', ..., '.PNG'."""
    return ["".join(chars) for chars in itertools.product(*({c.lower(), c.upper()} for c in suffix))]


def upload_key_filter(upload_prefix: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[dict[str, Any]]:
    """The matchers on `detail.object.key` for uploads under `upload_prefix` ending in `suffixes` (images).

    EventBridge ORs the matchers of one field, one matcher holds exactly one operator, and a field
    repeated inside `$or` replaces the outer one instead of adding to it (aws/event-ruler compiles
    each `$or` branch into a copy of the rule in which the branch's field overwrites the outer
    field). So "starts with the prefix AND ends with .jpg in any case" has no direct spelling.
    Without a prefix, `suffix` + `equals-ignore-case` says it exactly. With one, `wildcard` is the
    only operator that constrains both ends of the key, and it is case-sensitive: one wildcard per
    spelling of each suffix (8 + 16 + 8 = 32, "incoming/*.jPeG" among them) matches the suffixes
    ignoring case. The size of the whole pattern is checked against EventBridge's quota below.

    The pattern sees the key as S3 publishes it, URL-encoded like the keys of S3's other
    notifications (whose prefix filters AWS likewise asks to spell URL-encoded): the prefix is
    spelled that way too. Letters, digits, "/", "_", "." and "-" read the same either way.
    """
    if not upload_prefix:
        return [{"suffix": {"equals-ignore-case": suffix}} for suffix in suffixes]
    # Wildcard syntax reserves "*" and the backslash: escaped, should the encoding ever leave one.
    literal = quote_plus(upload_prefix, safe="/").replace("\\", "\\\\").replace("*", "\\*")
    return [
        {"wildcard": f"{literal}*{spelling}"}
        for suffix in suffixes
        for spelling in sorted(_spellings(suffix))
    ]


def upload_event_pattern(
    bucket_name: str, upload_prefix: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES
) -> dict[str, Any]:
    """The event pattern of uploads to `bucket_name` ending in `suffixes` (images), for EventBridge."""
    keys = upload_key_filter(upload_prefix, suffixes)
    return {
        "source": [S3_EVENT_SOURCE],
        "detail-type": [OBJECT_CREATED],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": keys}},
    }


def check_pattern_size(upload_prefix: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> None:
    size = len(json.dumps(upload_event_pattern(_LONGEST_BUCKET_NAME, upload_prefix, suffixes)))
    if size > MAX_EVENT_PATTERN_CHARS:
        raise ConfigError(
            "upload_prefix",
            upload_prefix,
            f"a shorter prefix: its EventBridge pattern has {size} characters, over EventBridge's "
            f"{MAX_EVENT_PATTERN_CHARS}-character quota",
        )


class UploadIngestion(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        images: s3.Bucket,
    ) -> None:
        super().__init__(scope, construct_id)
        check_pattern_size(config.upload_prefix)

        self.dead_letter_queue = queues.dead_letter_queue(self, "DeadLetterQueue")
        acknowledge(
            self.dead_letter_queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is the dead-letter queue; messages leave it only by a deliberate redrive (see README).",
        )
        self.queue = queues.secure_queue(
            self,
            "Queue",
            visibility_timeout=Duration.seconds(
                VISIBILITY_TIMEOUT_FACTOR * config.timeout_seconds + config.max_batching_window_seconds
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )
        # Upload events EventBridge could not put into the queue. Nothing consumes this queue: its
        # messages wait for a redrive into the upload queue (see README). One that a person receives
        # without deleting it (the console's "poll for messages" counts) moves on to the upload
        # dead-letter queue after as many receives as any upload, where the same redrive finds it.
        self.delivery_dead_letter_queue = queues.dead_letter_queue(
            self,
            "DeliveryDeadLetterQueue",
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )

        pattern = upload_event_pattern(images.bucket_name, config.upload_prefix)
        event_pattern = events.EventPattern(
            source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
        )
        # On the default bus, where S3 publishes; its queue policy statement names this rule's ARN.
        self.rule = events.Rule(
            self,
            "Uploads",
            description="Image uploads to the images bucket, for the recognition queue",
            event_pattern=event_pattern,
            targets=[
                targets.SqsQueue(
                    self.queue,
                    dead_letter_queue=self.delivery_dead_letter_queue,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=DELIVERY_MAX_EVENT_AGE,
                )
            ],
        )

        self.archive: events.Archive | None = None
        if config.event_archive_days:
            self.archive = events.Archive(
                self,
                "Archive",
                source_event_bus=events.EventBus.from_event_bus_name(self, "DefaultBus", "default"),
                event_pattern=event_pattern,
                retention=Duration.days(config.event_archive_days),
                description="Image uploads to the images bucket, for replay into the recognition queue",
            )
        self._config = config

    def feed(self, function: lambda_.IFunction) -> lambda_.EventSourceMapping:
        """Connect the queue to `function`; the concurrency cap is what keeps Rekognition under quota."""
        mapping = function.add_event_source_mapping(
            "Uploads",
            event_source_arn=self.queue.queue_arn,
            batch_size=self._config.batch_size,
            max_batching_window=Duration.seconds(self._config.max_batching_window_seconds),
            max_concurrency=self._config.max_concurrency,
            report_batch_item_failures=True,
        )
        self.queue.grant_consume_messages(function)
        acknowledge(
            mapping,
            "Serverless::Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources do not support OnFailure destinations; the queue's redrive policy moves "
            "messages that failed max_receive_count times to the dead-letter queue instead.",
        )
        return mapping
