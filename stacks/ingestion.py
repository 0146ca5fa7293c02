"""The event path: S3 uploads -> SQS queue (with a dead-letter queue) -> the function in batches.

The queue absorbs bursts so that the function's concurrency, and so the Rekognition call rate,
stays under the account's TPS quota; partial batch responses retry only the images that failed.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import queues
from stacks.compliance import acknowledge
from stacks.config import PipelineConfig

# S3 suffix filters are case-sensitive: both spellings of each extension Rekognition accepts.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
# CDK's singleton that configures bucket notifications (a fixed id in aws-cdk-lib's source).
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
# AWS's guidance for SQS event sources: at least six times the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6


class UploadIngestion(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        images: s3.Bucket,
    ) -> None:
        super().__init__(scope, construct_id)

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

        destination = s3n.SqsDestination(self.queue)
        for suffix in IMAGE_SUFFIXES:
            images.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                destination,
                s3.NotificationKeyFilter(prefix=config.upload_prefix or None, suffix=suffix),
            )
        self._config = config

        # CDK's own helper Lambda that writes the notification configuration at deploy time.
        handler = Stack.of(self).node.find_child(NOTIFICATIONS_HANDLER_ID)
        acknowledge(
            handler.node.find_child("Role"),
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "CDK's BucketNotificationsHandler (deploy-time only) hard-codes this managed policy; it "
            "cannot be replaced without forking aws-cdk-lib. It only grants writing its own logs.",
        )

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
