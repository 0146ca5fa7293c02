"""The optional watchlist: a Rekognition face collection and a second consumer of the upload events.

The upload rule (stacks/ingestion.py) gets a second target: the watchlist's own queue, so the
celebrity analysis and this one never wait on, nor fail with, each other. Its function searches every
face of an upload against the collection (lambda/watchlist/) and records matches in the results
table; an optional SNS topic sends one message per match. Enrollment is the client's
(`celeb watchlist add`); the collection keeps face vectors only, never images.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rekognition as rekognition
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from recognizer.contract import (
    ENV_RESULTS_TABLE,
    SETTINGS_BY_KEY,
    WATCHLIST_ENV_COLLECTION,
    WATCHLIST_ENV_RETENTION_DAYS,
    WATCHLIST_ENV_THRESHOLD,
    WATCHLIST_ENV_TOPIC,
    StackOutput,
)
from stacks import queues
from stacks.alarms import OperationalAlarms
from stacks.bundling import function_code
from stacks.compliance import acknowledge, logical_id
from stacks.config import AppConfig, retention
from stacks.ingestion import (
    DELIVERY_MAX_EVENT_AGE,
    DELIVERY_RETRY_ATTEMPTS,
    VISIBILITY_TIMEOUT_FACTOR,
    UploadIngestion,
)
from stacks.recognition_function import ARCHITECTURE, RUNTIME, SOURCE

HANDLER = "watchlist.handler.lambda_handler"
# The watchlist function's package: its own code, the shared contract and the metrics helper (with
# the two modules it imports), nothing else of the celebrity function's; Pillow comes from its own
# requirements file.
INCLUDE = ("watchlist", "recognizer/__init__.py", "recognizer/contract.py", "recognizer/metrics.py",
           "recognizer/errors.py", "recognizer/outcome.py")  # fmt: skip
REQUIREMENTS = "watchlist/requirements.txt"
# Decoding a 15 MB photo (tens of megapixels) takes a few hundred MB, and Lambda's CPU share grows
# with memory, which Pillow's decoding and cropping use.
MEMORY_MB = 1024
# One image per invocation: its faces are the batch (up to 100 searches), so the timeout is per image.
BATCH_SIZE = 1


class Watchlist(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        images: s3.IBucket,
        results: dynamodb.ITable,
        ingestion: UploadIngestion,
        alarm_topic: sns.ITopic | None,
    ) -> None:
        super().__init__(scope, construct_id)

        # The collection id is the stack's name plus a suffix: readable in the console, one per stack.
        self.collection = rekognition.CfnCollection(
            self, "Collection", collection_id=f"{config.stack_name}-watchlist"
        )
        # Retained in prod: the enrolled vectors are the operator's work (and deletion must be their
        # decision, see README); a dev stack takes them along.
        self.collection.apply_removal_policy(RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN)

        # Messages the function failed max_receive_count times and events EventBridge could not
        # deliver wait here alike: both are the upload's EventBridge event, redriven to the queue.
        self.dead_letter_queue = queues.dead_letter_queue(self, "DeadLetterQueue")
        acknowledge(
            self.dead_letter_queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is the dead-letter queue; messages leave it only by a deliberate redrive (see README).",
        )
        self.queue = queues.secure_queue(
            self,
            "Queue",
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * config.timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )
        ingestion.rule.add_target(
            targets.SqsQueue(
                self.queue,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                max_event_age=DELIVERY_MAX_EVENT_AGE,
            )
        )

        self.topic: sns.Topic | None = None
        if config.watchlist_alert_email:
            self.topic = self._alert_topic(config.watchlist_alert_email)

        self.function = self._function(config, images, results)
        # `celeb watchlist search` shows matches at the threshold the function stores them at.
        threshold = CfnOutput(
            self,
            "ThresholdOutput",
            value=SETTINGS_BY_KEY["watchlist_threshold"].to_env(config.watchlist_threshold),
        )
        threshold.override_logical_id(str(StackOutput.WATCHLIST_THRESHOLD))
        mapping = self.function.add_event_source_mapping(
            "Uploads",
            event_source_arn=self.queue.queue_arn,
            batch_size=BATCH_SIZE,
            # Both functions draw on the account's Rekognition TPS quota: each is capped alike.
            max_concurrency=config.max_concurrency,
            report_batch_item_failures=True,
        )
        self.queue.grant_consume_messages(self.function)
        acknowledge(
            mapping,
            "Serverless::Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources do not support OnFailure destinations; the queue's redrive policy moves "
            "messages that failed max_receive_count times to the dead-letter queue instead.",
        )

        self.alarms = OperationalAlarms(
            self,
            "Alarms",
            function=self.function,
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            delivery_dead_letter_queue=None,
            oldest_message_seconds=config.oldest_message_alarm_seconds,
            email="",
            label="watchlist",
            topic=alarm_topic,
        )

    def _alert_topic(self, email: str) -> sns.Topic:
        topic = sns.Topic(
            self,
            "Alerts",
            display_name="Watchlist matches",
            enforce_ssl=True,
            # AWS's managed SNS key: its key policy lets SNS use it for publishers of this account, so
            # the function needs no KMS grant.
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
        undelivered = queues.dead_letter_queue(self, "UndeliveredAlerts")
        for finding in ("Serverless::Serverless-SQSRedrivePolicy", "AwsSolutions::AwsSolutions-SQS3"):
            acknowledge(
                undelivered,
                finding,
                "This queue is the alert email subscription's dead-letter queue (cdk-nag only recognizes "
                "queue-to-queue redrives); it has no consumer that could fail.",
            )
        topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=undelivered))
        return topic

    def _function(self, config: AppConfig, images: s3.IBucket, results: dynamodb.ITable) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Watchlist function: find faces, search them in the collection, write matches",
        )
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="DetectFaces",
                actions=["rekognition:DetectFaces"],
                # DetectFaces supports no resource-level permission: "*" is the only valid Resource.
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="SearchCollection",
                # Search only: enrollment and deletion are the operator's, from the client.
                actions=["rekognition:SearchUsersByImage"],
                resources=[self.collection.attr_arn],
            ),
            iam.PolicyStatement(
                sid="ReadImages",
                # GetObjectVersion: the function reads the version the event names; DetectFaces reads
                # images over 5 MB from S3 with these credentials too.
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[images.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="WriteMatches",
                # GetItem: is this version already on record (a redelivery)? PutItem: matches, summary.
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[results.table_arn],
            ),
        ]
        environment = {
            WATCHLIST_ENV_COLLECTION: self.collection.ref,
            ENV_RESULTS_TABLE: results.table_name,
            WATCHLIST_ENV_THRESHOLD: SETTINGS_BY_KEY["watchlist_threshold"].to_env(
                config.watchlist_threshold
            ),
            WATCHLIST_ENV_RETENTION_DAYS: str(config.watchlist_match_retention_days),
            # The celebrity function's namespace: the dashboard finds both functions' metrics there.
            str(SETTINGS_BY_KEY["metrics_namespace"].env): config.metrics_namespace,
        }
        if self.topic is not None:
            environment[WATCHLIST_ENV_TOPIC] = self.topic.topic_arn
            statements.append(
                iam.PolicyStatement(
                    sid="PublishAlerts", actions=["sns:Publish"], resources=[self.topic.topic_arn]
                )
            )
        for statement in statements:
            role.add_to_policy(statement)

        function = lambda_.Function(
            self,
            "Function",
            description="Searches every face of an S3 image against the watchlist face collection",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=function_code(SOURCE, RUNTIME, ARCHITECTURE, requirements=REQUIREMENTS, include=INCLUDE),
            memory_size=MEMORY_MB,
            timeout=Duration.seconds(config.timeout_seconds),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE if config.tracing else lambda_.Tracing.DISABLED,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[config.log_level],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment=environment,
            # Failed asynchronous invocations land beside the uploads the queue gave up on.
            dead_letter_queue=self.dead_letter_queue,
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "rekognition:DetectFaces and X-Ray's PutTraceSegments/PutTelemetryRecords support no "
            "resource-level permissions; '*' is the only Resource they accept.",
        )
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(images)}.Arn>/*]",
            "Read-only s3:GetObject/GetObjectVersion on this stack's images bucket: any uploaded key may be "
            "searched, so the object part of the ARN cannot be narrower.",
        )
        return function
