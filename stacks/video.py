"""Stored video: upload events -> start queue -> start function -> Rekognition job -> SNS -> SQS -> results.

```
S3 upload (.mp4/.mov, any case) -> EventBridge rule "VideoUploads" -> start queue (DLQ)
celeb recognize (a version's start request, whatever upload_prefix) -> start queue
  -> start function (concurrency: video_max_concurrent_jobs): limits, StartCelebrityRecognition
Rekognition -> SNS topic (KMS) -> completion queue (DLQ) -> results function: pages, timeline, table
schedule rule (every SWEEP_MINUTES) -> completion queue -> results function: sweep of overdue jobs
```

Why this shape:
- Its own rule, queue and function, beside the image path: the images' queue paces RecognizeCelebrities
  calls per second, this one paces concurrent jobs (Rekognition's quota is about 20 per account).
- Rekognition announces a finished job on SNS only; the topic feeds a queue, so notices wait out a
  broken deployment (DLQ, alarm, redrive) instead of being lost with a failed Lambda invocation.
- Rekognition publishes through a role it assumes: this stack's own, which only rekognition.amazonaws.com
  may assume (for this account's jobs only) and which may only publish to this topic. The start function
  may pass only that role, only to Rekognition.
- The sweep rides the completion queue: one consumer, one DLQ, one place where a job is recorded.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from recognizer.contract import (
    ENV_RESULTS_TABLE,
    ENV_VIDEO_INTERVAL_GAP_MS,
    ENV_VIDEO_JOB_TIMEOUT_MINUTES,
    ENV_VIDEO_MAX_CONCURRENT_JOBS,
    ENV_VIDEO_ROLE_ARN,
    ENV_VIDEO_START_QUEUE_URL,
    ENV_VIDEO_TIMELINES_BUCKET,
    ENV_VIDEO_TOPIC_ARN,
    TIMELINE_PREFIX,
    VIDEO_SUFFIXES,
    VIDEO_SWEEP_MINUTES,
    StackOutput,
)
from stacks import queues
from stacks.bundling import function_code
from stacks.compliance import acknowledge, logical_id
from stacks.config import AppConfig, retention
from stacks.ingestion import (
    DELIVERY_MAX_EVENT_AGE,
    DELIVERY_RETRY_ATTEMPTS,
    VISIBILITY_TIMEOUT_FACTOR,
    check_pattern_size,
    upload_event_pattern,
)
from stacks.recognition_function import ARCHITECTURE, RUNTIME, SOURCE
from stacks.storage import _secure_bucket_props

HANDLER_START = "video_handler.start"
HANDLER_RESULTS = "video_handler.results"
# A start is one HeadObject, a few ranged GETs, two table reads and one Rekognition call.
START_TIMEOUT = Duration.seconds(60)
# Collecting a six-hour video's results pages through hundreds of thousands of detections.
RESULTS_TIMEOUT = Duration.minutes(5)
RESULTS_MEMORY_MB = 1024
START_MEMORY_MB = 256
# Completion notices are few (one per job); two at a time keep GetCelebrityRecognition's rate low.
RESULTS_CONCURRENCY = 2
# How often overdue jobs are looked for: below the smallest video_job_timeout_minutes (a test checks).
SWEEP_MINUTES = VIDEO_SWEEP_MINUTES
# A start waits in its queue at most one delay (15 minutes) plus a visibility timeout between two
# tries; older than this, the start function is not keeping up (or not consuming at all).
START_QUEUE_MAX_AGE = Duration.minutes(30)
_PERIOD = Duration.minutes(5)
REKOGNITION = "rekognition.amazonaws.com"


class VideoAnalysis(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        images: s3.IBucket,
        access_logs: s3.IBucket,
        results: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        check_pattern_size(config.upload_prefix, VIDEO_SUFFIXES)
        self._config = config

        # Full timelines: JSON objects far beyond DynamoDB's 400 KB item limit for long videos.
        self.timelines = s3.Bucket(
            self,
            "Timelines",
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="video-timelines/",
            **_secure_bucket_props(
                dev=config.is_dev, noncurrent_days=config.noncurrent_version_expiration_days
            ),
        )

        # --- queues: starts (from EventBridge) and completions (from SNS and the schedule) ----------
        self.start_dead_letter_queue = self._dead_letter_queue("StartDeadLetterQueue")
        self.start_queue = queues.secure_queue(
            self,
            "StartQueue",
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * START_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.start_dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )
        self.completion_dead_letter_queue = self._dead_letter_queue("CompletionDeadLetterQueue")
        self.completion_queue = queues.secure_queue(
            self,
            "CompletionQueue",
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * RESULTS_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.completion_dead_letter_queue, max_receive_count=config.max_receive_count
            ),
        )

        pattern = upload_event_pattern(images.bucket_name, config.upload_prefix, VIDEO_SUFFIXES)
        self.rule = events.Rule(
            self,
            "Uploads",
            description="Video uploads (.mp4/.mov) to the images bucket, for the video start queue",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
            targets=[
                # Undeliverable events wait in the start DLQ, in the shape the start queue carries.
                targets.SqsQueue(
                    self.start_queue,
                    dead_letter_queue=self.start_dead_letter_queue,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=DELIVERY_MAX_EVENT_AGE,
                )
            ],
        )

        # --- the notification channel: topic, its key, the role Rekognition publishes with ----------
        # A key of its own: Rekognition publishes with the role below, which needs the key; SNS keeps
        # no message once delivered, so nothing encrypted outlives the stack.
        self.topic_key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Rekognition video completion topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.topic = sns.Topic(
            self,
            "Completions",
            display_name="Rekognition video job completions",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(
            subscriptions.SqsSubscription(
                self.completion_queue,
                raw_message_delivery=True,  # the body is Rekognition's notice itself
                dead_letter_queue=self.completion_dead_letter_queue,
            )
        )
        account, region, partition = Aws.ACCOUNT_ID, Aws.REGION, Aws.PARTITION
        self.notification_role = iam.Role(
            self,
            "NotificationRole",
            description="Rekognition publishes video job completions to this stack's topic",
            # Only Rekognition, acting for this account's jobs in this region (confused deputy guard).
            assumed_by=iam.ServicePrincipal(
                REKOGNITION,
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:rekognition:{region}:{account}:*"},
                },
            ),
        )
        # sns:Publish on this topic, kms:Decrypt/GenerateDataKey* on its key: nothing else.
        self.topic.grant_publish(self.notification_role)

        # --- the schedule: the sweep of jobs whose completion never came ----------------------------
        self.sweep_rule = events.Rule(
            self,
            "Sweep",
            description="Looks for video jobs pending longer than video_job_timeout_minutes",
            schedule=events.Schedule.rate(Duration.minutes(SWEEP_MINUTES)),
            targets=[
                targets.SqsQueue(
                    self.completion_queue,
                    dead_letter_queue=self.completion_dead_letter_queue,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=Duration.minutes(SWEEP_MINUTES),  # a late sweep is replaced by the next
                )
            ],
        )

        # --- the functions ---------------------------------------------------------------------------
        common = config.function_environment() | {ENV_RESULTS_TABLE: results.table_name}
        self.start_function = self._function(
            "Start",
            HANDLER_START,
            "Starts Rekognition celebrity recognition jobs for uploaded videos",
            START_TIMEOUT,
            START_MEMORY_MB,
            self.start_dead_letter_queue,
            common
            | {
                ENV_VIDEO_TOPIC_ARN: self.topic.topic_arn,
                ENV_VIDEO_ROLE_ARN: self.notification_role.role_arn,
                ENV_VIDEO_START_QUEUE_URL: self.start_queue.queue_url,
                ENV_VIDEO_MAX_CONCURRENT_JOBS: str(config.video_max_concurrent_jobs),
            },
        )
        start_role = self.start_function.role
        assert start_role is not None
        start_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartCelebrityRecognition",
                actions=["rekognition:StartCelebrityRecognition"],
                resources=["*"],  # Rekognition's video operations support no resource-level permission
            )
        )
        start_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassNotificationRole",
                actions=["iam:PassRole"],
                resources=[self.notification_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": REKOGNITION}},
            )
        )
        start_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadVideos",
                # HeadObject and the ranged GETs of the limit checks; Rekognition reads the video
                # with the caller's permissions, pinned to a version.
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[images.arn_for_objects("*")],
            )
        )
        start_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RecordJobs",
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                resources=[results.table_arn],
            )
        )
        # A start Rekognition turns away for now goes back to its own queue, delayed.
        self.start_queue.grant_send_messages(self.start_function)

        self.results_function = self._function(
            "Results",
            HANDLER_RESULTS,
            "Records Rekognition video job results and sweeps jobs whose completion never came",
            RESULTS_TIMEOUT,
            RESULTS_MEMORY_MB,
            self.completion_dead_letter_queue,
            common
            | {
                ENV_VIDEO_TIMELINES_BUCKET: self.timelines.bucket_name,
                ENV_VIDEO_JOB_TIMEOUT_MINUTES: str(config.video_job_timeout_minutes),
                ENV_VIDEO_INTERVAL_GAP_MS: str(config.video_interval_gap_ms),
            },
        )
        results_role = self.results_function.role
        assert results_role is not None
        results_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GetCelebrityRecognition",
                actions=["rekognition:GetCelebrityRecognition"],
                resources=["*"],  # Rekognition's video operations support no resource-level permission
            )
        )
        results_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteTimelines",
                actions=["s3:PutObject"],
                resources=[self.timelines.arn_for_objects(f"{TIMELINE_PREFIX}*")],
            )
        )
        results_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RecordResults",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:BatchWriteItem",
                ],
                resources=[results.table_arn],
            )
        )

        self._feed(self.start_queue, self.start_function, "Starts", config.video_max_concurrent_jobs, 1)
        self._feed(self.completion_queue, self.results_function, "Completions", RESULTS_CONCURRENCY, 5)
        self._acknowledge_policies(images)
        self.alarms = self._alarms()
        # Beside the stack's own outputs (stacks/recognition_stack.py): what the client's wait and the
        # completion DLQ's redrive need. Their logical ids are the contract's names.
        for name, value in (
            (StackOutput.VIDEO_JOB_TIMEOUT_MINUTES, str(config.video_job_timeout_minutes)),
            (StackOutput.VIDEO_COMPLETION_DEAD_LETTER_QUEUE_URL, self.completion_dead_letter_queue.queue_url),
        ):
            CfnOutput(self, str(name), value=value).override_logical_id(str(name))

    def _dead_letter_queue(self, construct_id: str) -> sqs.Queue:
        queue = queues.dead_letter_queue(self, construct_id)
        acknowledge(
            queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is a dead-letter queue; messages leave it only by a deliberate redrive (see README).",
        )
        return queue

    def _function(
        self,
        construct_id: str,
        handler: str,
        description: str,
        timeout: Duration,
        memory_mb: int,
        dead_letter_queue: sqs.IQueue,
        environment: dict[str, str],
    ) -> lambda_.Function:
        config = self._config
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )
        # Built by hand, as the recognition function's: no managed policy, only its own log group.
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        return lambda_.Function(
            self,
            f"{construct_id}Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            # The same asset as the recognition function (same source, same hash): one upload.
            code=function_code(SOURCE, RUNTIME, ARCHITECTURE),
            memory_size=memory_mb,
            timeout=timeout,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE if config.tracing else lambda_.Tracing.DISABLED,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[config.log_level],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment=environment,
            dead_letter_queue=dead_letter_queue,
        )

    def _feed(
        self,
        queue: sqs.Queue,
        function: lambda_.Function,
        construct_id: str,
        concurrency: int,
        batch_size: int,
    ) -> None:
        mapping = function.add_event_source_mapping(
            construct_id,
            event_source_arn=queue.queue_arn,
            batch_size=batch_size,
            max_concurrency=concurrency,
            report_batch_item_failures=True,
        )
        queue.grant_consume_messages(function)
        acknowledge(
            mapping,
            "Serverless::Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources do not support OnFailure destinations; the queue's redrive policy moves "
            "messages that failed max_receive_count times to its dead-letter queue instead.",
        )

    def _acknowledge_policies(self, images: s3.IBucket) -> None:
        for function in (self.start_function, self.results_function):
            role = function.role
            assert role is not None
            policy = role.node.find_child("DefaultPolicy")
            acknowledge(
                policy,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "rekognition:StartCelebrityRecognition/GetCelebrityRecognition and X-Ray's "
                "PutTraceSegments/PutTelemetryRecords support no resource-level permissions; '*' is the "
                "only Resource they accept.",
            )
        start_policy = self.start_function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        acknowledge(
            start_policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(images)}.Arn>/*]",
            "Read-only s3:GetObject/GetObjectVersion on this stack's images bucket: any uploaded video may "
            "be analyzed, so the object part of the ARN cannot be narrower.",
        )
        results_policy = self.results_function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        acknowledge(
            results_policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(self.timelines)}.Arn>/{TIMELINE_PREFIX}*]",
            "s3:PutObject on the timelines prefix of this stack's own timelines bucket: one object per job, "
            "named by its job id.",
        )
        key_finding = "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"
        acknowledge(
            self.notification_role.node.find_child("DefaultPolicy"),
            key_finding,
            "SNS's documented grant for publishers to an encrypted topic (kms:GenerateDataKey*), on this "
            "topic's own key only.",
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        alarms = [
            cloudwatch.Alarm(
                self,
                "OldestStart",
                alarm_description=f"A video start has waited in the start queue over "
                f"{START_QUEUE_MAX_AGE.to_minutes():.0f} minutes: the start function is not keeping up, "
                "or starts keep being deferred (Rekognition's concurrent-job quota)",
                metric=self.start_queue.metric_approximate_age_of_oldest_message(
                    period=_PERIOD, statistic="Maximum"
                ),
                threshold=START_QUEUE_MAX_AGE.to_seconds(),
                evaluation_periods=1,
                comparison_operator=at_least_one,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        ]
        for alarm_id, description, metric in (
            ("StartDeadLetters", "Video starts that failed every retry wait in the start dead-letter queue",
             self.start_dead_letter_queue.metric_approximate_number_of_messages_visible(
                 period=_PERIOD, statistic="Maximum")),
            ("CompletionDeadLetters", "Video job completions that failed every retry wait in the video "
             "completion dead-letter queue",
             self.completion_dead_letter_queue.metric_approximate_number_of_messages_visible(
                 period=_PERIOD, statistic="Maximum")),
            ("StartErrors", "The video start function raised errors",
             self.start_function.metric_errors(period=_PERIOD, statistic="Sum")),
            ("ResultsErrors", "The video results function raised errors",
             self.results_function.metric_errors(period=_PERIOD, statistic="Sum")),
        ):  # fmt: skip
            alarms.append(
                cloudwatch.Alarm(
                    self,
                    alarm_id,
                    alarm_description=description,
                    metric=metric,
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=at_least_one,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        return alarms
