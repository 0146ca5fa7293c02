"""The cloud backfill: a Step Functions Distributed Map over the images bucket's listing that hands
every image without a result to the upload queue, the way its upload event would have.

    execution input {"prefix", "retry_failed", "dry_run"}      (the contract's BackfillInput)
    -> Distributed Map: ItemReader ListObjectsV2(images, prefix), ItemBatcher, EXPRESS child workflows
       child: for each object                                    (inline Map)
                 not an image suffix (any case)       -> not_image
                 HeadObject -> its current version    (404: gone)
                 GetItem(results table, contract key) -> analyzed | retried | queued
              SendMessageBatch of the queued and retried, 10 a call (nothing in a dry run)
              output: one count per BackfillCount
    -> ResultWriter: the child workflows' outputs (JSON Lines) in this construct's reports bucket

Why no Lambda function of its own: the per-object check is two service calls (HeadObject for the
version, GetItem with the contract's key) and a Choice, which Step Functions runs directly; a
function would add code to bundle, a role, a log group and cold starts for no decision a Choice
cannot make. The analysis stays where it is: each message is the function's direct payload
`{"bucket", "object_name", "version_id"}`, pinned to the version that was checked, so the queue's
`max_concurrency` keeps Rekognition under its quota exactly as for live uploads. (A direct payload is
analyzed even for objects uploaded with `analysis: on-request`: what the backfill sends has no result,
so its uploader's own request never finished.)

Why HeadObject: ListObjectsV2 returns no version id, and results are kept per version. Skipping by
key ("some version has a result") would miss an overwritten object whose new version was never
analyzed. Without a results table there is nothing to skip by: every image is sent, unpinned.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from recognizer.contract import (
    BACKFILL_INPUT_DEFAULTS,
    IMAGE_SUFFIXES,
    PARTITION_KEY,
    SORT_KEY,
    BackfillCount,
    FailureCause,
    ResultStatus,
    image_pk,
    summary_sk,
)
from stacks.compliance import acknowledge, logical_id
from stacks.config import AppConfig, retention
from stacks.ingestion import _spellings
from stacks.storage import _secure_bucket_props

# SendMessageBatch takes at most 10 entries.
SQS_BATCH_ENTRIES = 10
# A batch's input is capped below Step Functions' 256 KiB payload quota: while a child workflow
# examines its objects it holds the listing entries and one result per object (about as large:
# the key again, in the message body), so the two together stay under the quota for any keys.
MAX_BATCH_INPUT_BYTES = 96 * 1024
# Objects one child workflow examines at a time. With `backfill_max_concurrency` child workflows
# this bounds the HeadObject rate, which S3 serves at up to 5,500 a second per key prefix.
OBJECT_CONCURRENCY = 10
# SendMessageBatch calls one child workflow makes at a time.
SEND_CONCURRENCY = 5
# Where the ResultWriter puts each Map Run's manifest and result files in the reports bucket.
REPORT_PREFIX = "backfill"
# The Distributed Map's label: it names the Map Run (`.../Backfill:<id>`) that progress is read from.
MAP_LABEL = "Backfill"


def image_key_condition(path: str) -> sfn.Condition:
    """The contract's `is_image_key` as a Choice rule: the key ends with an image suffix, any case.

    StringMatches compares case-sensitively, so one wildcard per spelling of each suffix (32 in all,
    as the upload rule's; sorted, for a stable template).
    """
    return sfn.Condition.or_(
        *(sfn.Condition.string_matches(path, f"*{spelling}") for suffix in IMAGE_SUFFIXES
          for spelling in sorted(_spellings(suffix)))
    )  # fmt: skip


def _retry_transient(task: sfn.TaskStateBase) -> None:
    # Throttling and 5xx arrive as the service's generic exception: retry any task failure a few
    # times with jitter, then let the catcher or the batch's failure decide.
    task.add_retry(
        errors=["States.TaskFailed"],
        interval=Duration.seconds(1),
        max_attempts=3,
        backoff_rate=2,
        jitter_strategy=sfn.JitterType.FULL,
    )


class CloudBackfill(Construct):
    """`state_machine` backfills `images` into `queue`; `reports` holds each run's ResultWriter output."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        images: s3.IBucket,
        access_logs: s3.IBucket,
        queue: sqs.IQueue,
        results: dynamodb.ITable | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._images = images
        self._queue = queue
        self._results = results

        self.reports = s3.Bucket(
            self,
            "Reports",
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="backfill-reports/",
            **_secure_bucket_props(
                dev=config.is_dev, noncurrent_days=config.noncurrent_version_expiration_days
            ),
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # Step Functions writes through CloudWatch Logs' vended-log delivery; names under this
            # prefix need no entry in the account's 5,120-character log resource policy.
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-backfill",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Backfill: list the images bucket and queue every image version without a result",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(config)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(
                destination=self.log_group,
                # ALL events (cdk-nag AwsSolutions-SF1); their data (object keys, messages) only when
                # the app logs at DEBUG, as the function does.
                level=sfn.LogLevel.ALL,
                include_execution_data=config.log_level == "DEBUG",
            ),
            tracing_enabled=config.tracing,
        )
        self._acknowledge()
        if not config.tracing:
            untraced = (
                "AwsSolutions::AwsSolutions-SF2",
                "Serverless::Serverless-StepFunctionStateMachineXray",
            )
            for finding in untraced:
                acknowledge(
                    self.state_machine,
                    finding,
                    "X-Ray tracing is switched off by configuration (-c tracing=false), as for the function.",
                )

    # The parent workflow.

    def _definition(self, config: AppConfig) -> sfn.IChainable:
        # Missing input fields take the contract's defaults, so `{}` from the console backfills all.
        defaults = sfn.Pass(
            self,
            "Defaults",
            parameters={"defaults": dict(BACKFILL_INPUT_DEFAULTS), "input": sfn.JsonPath.entire_payload},
        )
        options = sfn.Pass(
            self,
            "Options",
            parameters={
                "options": sfn.JsonPath.json_merge(
                    sfn.JsonPath.object_at("$.defaults"), sfn.JsonPath.object_at("$.input")
                )
            },
            output_path="$.options",
        )
        invalid = sfn.Fail(
            self,
            "InvalidInput",
            error="Backfill.InvalidInput",
            cause='expected {"prefix": string, "retry_failed": boolean, "dry_run": boolean} (each optional)',
        )
        backfill = sfn.DistributedMap(
            self,
            "Backfill",
            label=MAP_LABEL,
            item_reader=sfn.S3ObjectsItemReader(
                bucket=self._images, prefix=sfn.JsonPath.string_at("$.prefix")
            ),
            item_batcher=sfn.ItemBatcher(
                max_items_per_batch=config.backfill_batch_size,
                max_input_bytes_per_batch=MAX_BATCH_INPUT_BYTES,
                # CDK passes BatchInput through as written: paths need their ".$" spelled out.
                batch_input={"retry_failed.$": "$.retry_failed", "dry_run.$": "$.dry_run"},
            ),
            # Express: a batch takes seconds, and Express child workflows are billed by duration
            # rather than by state transition (a batch of 100 objects makes about 900 transitions).
            map_execution_type=sfn.StateMachineType.EXPRESS,
            max_concurrency=config.backfill_max_concurrency,
            tolerated_failure_percentage=config.backfill_tolerated_failure_percentage,
            result_writer_v2=sfn.ResultWriterV2(
                bucket=self.reports,
                prefix=REPORT_PREFIX,
                # One line per batch holding only its counts (the listing entries would make the
                # report as large as the listing); failed batches keep their error and cause.
                writer_config=sfn.WriterConfig(
                    output_type=sfn.OutputType.JSONL, transformation=sfn.Transformation.COMPACT
                ),
            ),
            result_path="$.report",
        )
        backfill.item_processor(self._batch())
        valid = sfn.Condition.and_(
            sfn.Condition.is_string("$.prefix"),
            sfn.Condition.is_boolean("$.retry_failed"),
            sfn.Condition.is_boolean("$.dry_run"),
        )
        check = sfn.Choice(self, "CheckInput").when(valid, backfill).otherwise(invalid)
        return defaults.next(options).next(check)

    # One child workflow: a batch of listed objects.

    def _batch(self) -> sfn.IChainable:
        examine = sfn.Map(
            self,
            "Examine",
            items_path="$.Items",
            item_selector={
                "key": sfn.JsonPath.string_at("$$.Map.Item.Value.Key"),
                "index": sfn.JsonPath.number_at("$$.Map.Item.Index"),
                "retry_failed": sfn.JsonPath.string_at("$.BatchInput.retry_failed"),
                "message": {
                    "bucket": self._images.bucket_name,
                    "object_name": sfn.JsonPath.string_at("$$.Map.Item.Value.Key"),
                },
            },
            max_concurrency=OBJECT_CONCURRENCY,
            result_path="$.examined",
        )
        examine.item_processor(self._object())
        # Each object's result holds one field named by its BackfillCount (and the message to send,
        # if any): wildcard paths collect them, States.ArrayLength counts them. A wildcard that
        # matches nothing gives an empty list, so every count exists.
        tally = sfn.Pass(
            self,
            "Tally",
            parameters={
                "entries": sfn.JsonPath.list_at("$.examined[*].entry"),
                "dry_run": sfn.JsonPath.string_at("$.BatchInput.dry_run"),
                **{
                    count.value: sfn.JsonPath.list_at(f"$.examined[*].{count.value}")
                    for count in BackfillCount
                },
            },
        )
        count = sfn.Pass(
            self,
            "Count",
            parameters={
                "chunks": sfn.JsonPath.array_partition(sfn.JsonPath.list_at("$.entries"), SQS_BATCH_ENTRIES),
                "dry_run": sfn.JsonPath.string_at("$.dry_run"),
                "counts": {
                    count.value: sfn.JsonPath.array_length(sfn.JsonPath.list_at(f"$.{count.value}"))
                    for count in BackfillCount
                },
            },
        )
        send = sfn.Map(
            self,
            "Send",
            items_path="$.chunks",
            item_selector={"entries": sfn.JsonPath.list_at("$$.Map.Item.Value")},
            max_concurrency=SEND_CONCURRENCY,
            result_path=sfn.JsonPath.DISCARD,
        )
        send.item_processor(self._send_chunk())
        done = sfn.Pass(self, "BatchDone", output_path="$.counts")
        dry_run = (
            sfn.Choice(self, "DryRun?")
            .when(sfn.Condition.boolean_equals("$.dry_run", True), done)
            .otherwise(send.next(done))
        )
        return examine.next(tally).next(count).next(dry_run)

    def _send_chunk(self) -> sfn.IChainable:
        send = tasks.CallAwsService(
            self,
            "SendMessageBatch",
            service="sqs",
            action="sendMessageBatch",
            parameters={"QueueUrl": self._queue.queue_url, "Entries": sfn.JsonPath.list_at("$.entries")},
            # IAM authorizes SendMessageBatch as sqs:SendMessage.
            iam_action="sqs:SendMessage",
            iam_resources=[self._queue.queue_arn],
            result_selector={"failed": sfn.JsonPath.list_at("$.Failed[*].Id")},
        )
        _retry_transient(send)
        refused = sfn.Fail(
            self,
            "SendRefused",
            error="Backfill.SendRefused",
            cause="SQS refused messages of this batch: redrive the execution (the function answers "
            "a version it has already analyzed from the table)",
        )
        sent = sfn.Succeed(self, "Sent")
        return send.next(
            sfn.Choice(self, "AllSent?")
            .when(sfn.Condition.is_present("$.failed[0]"), refused)
            .otherwise(sent)
        )

    # One object of a batch.

    def _object(self) -> sfn.IChainable:
        counted = {count: self._counted(count) for count in (BackfillCount.NOT_IMAGE, BackfillCount.ANALYZED,
                                                               BackfillCount.GONE)}  # fmt: skip
        queued = self._to_send(BackfillCount.QUEUED)
        is_image = sfn.Choice(self, "Image?")
        if self._results is None:
            # Nothing to skip by: send the key; the function pins the version it finds.
            return is_image.when(image_key_condition("$.key"), queued).otherwise(
                counted[BackfillCount.NOT_IMAGE]
            )

        head = tasks.CallAwsService(
            self,
            "HeadObject",
            service="s3",
            action="headObject",
            parameters={"Bucket": self._images.bucket_name, "Key": sfn.JsonPath.string_at("$.key")},
            # HeadObject is authorized as s3:GetObject.
            iam_action="s3:GetObject",
            iam_resources=[self._images.arn_for_objects("*")],
            result_selector={"version_id": sfn.JsonPath.string_at("$.VersionId")},
            result_path="$.pinned",
        )
        _retry_transient(head)
        head_failed = sfn.Fail(
            self, "HeadObjectFailed", error="Backfill.HeadObjectFailed", cause_path="$.error.Cause"
        )
        # S3 answers HEAD without a body, so a missing key reaches Step Functions as the service's
        # generic error; only its status code tells "deleted since the listing" from "access denied".
        vanished = (
            sfn.Choice(self, "Vanished?")
            .when(
                sfn.Condition.string_matches("$.error.Cause", "*Status Code: 404*"),
                counted[BackfillCount.GONE],
            )
            .otherwise(head_failed)
        )
        head.add_catch(vanished, errors=["States.ALL"], result_path="$.error")

        # The summary item's key, spelled by the contract's functions with Format's placeholder in
        # place of key and version. (A version id over 128 bytes, which S3 does not issue, would be
        # stored under a hashed key and not be found here: the function itself then answers it
        # from the table.)
        lookup = tasks.DynamoGetItem(
            self,
            "Lookup",
            table=self._results,
            key={
                PARTITION_KEY: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.format(
                        image_pk(self._images.bucket_name, "{}"), sfn.JsonPath.string_at("$.key")
                    )
                ),
                SORT_KEY: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.format(summary_sk("{}"), sfn.JsonPath.string_at("$.pinned.version_id"))
                ),
            },
            expression_attribute_names={"#status": "status", "#cause": "failure_cause"},
            projection_expression=[
                tasks.DynamoProjectionExpression().with_attribute("#status"),
                tasks.DynamoProjectionExpression().with_attribute("#cause"),
            ],
            result_path="$.stored",
        )
        _retry_transient(lookup)

        # The contract's `may_succeed_later`, in rule order: each rule only reads what the earlier
        # ones showed to be there (a Choice rule on a missing field is an error).
        item = "$.stored.Item"
        retried = self._to_send(BackfillCount.RETRIED)
        decide = (
            sfn.Choice(self, "Decide")
            .when(sfn.Condition.is_not_present(item), queued)
            .when(sfn.Condition.not_(sfn.Condition.string_equals(f"{item}.status.S", ResultStatus.FAILED)),
                  counted[BackfillCount.ANALYZED])
            .when(sfn.Condition.boolean_equals("$.retry_failed", False), counted[BackfillCount.ANALYZED])
            .when(sfn.Condition.is_not_present(f"{item}.failure_cause"), retried)
            .when(sfn.Condition.string_equals(f"{item}.failure_cause.S", FailureCause.IMAGE.value),
                  counted[BackfillCount.ANALYZED])
            .otherwise(retried)
        )  # fmt: skip
        return is_image.when(image_key_condition("$.key"), head.next(lookup).next(decide)).otherwise(
            counted[BackfillCount.NOT_IMAGE]
        )

    def _counted(self, count: BackfillCount) -> sfn.Pass:
        return sfn.Pass(
            self,
            f"Count{count.value.title().replace('_', '')}",
            result=sfn.Result.from_object({count.value: 1}),
        )

    def _to_send(self, count: BackfillCount) -> sfn.Pass:
        # The function's direct payload: pinned to the checked version when there is one.
        message = (
            sfn.JsonPath.json_merge(sfn.JsonPath.object_at("$.message"), sfn.JsonPath.object_at("$.pinned"))
            if self._results is not None
            else sfn.JsonPath.object_at("$.message")
        )
        return sfn.Pass(
            self,
            f"Send{count.value.title()}",
            parameters={
                count.value: 1,
                "entry": {
                    # Unique within the batch, as SendMessageBatch requires.
                    "Id": sfn.JsonPath.format("{}", sfn.JsonPath.string_at("$.index")),
                    "MessageBody": sfn.JsonPath.json_to_string(message),
                },
            },
        )

    def _acknowledge(self) -> None:
        """The wildcard findings on the grants CDK derives from the states above, each for its reason."""
        machine = logical_id(self.state_machine)
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs' log-delivery actions (logs:CreateLogDelivery, GetLogDelivery, "
            "UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, "
            "DescribeResourcePolicies, DescribeLogGroups) and X-Ray's PutTraceSegments, PutTelemetryRecords, "
            "GetSamplingRules and GetSamplingTargets support no resource-level permissions; '*' is the only "
            "Resource they accept.",
        )
        acknowledge(
            policy,
            # Bucket ARNs keep the partition as a pseudo-parameter, whatever the stack's environment.
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{logical_id(self.reports)}>/*]",
            "The ResultWriter writes each Map Run's manifest and result files under a key named by the run; "
            "the bucket holds nothing but these reports.",
        )
        if self._results is not None:
            acknowledge(
                policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(self._images)}.Arn>/*]",
                "HeadObject (authorized as s3:GetObject, read-only) on whichever keys the listing returns "
                "in this stack's images bucket, to learn the version to look up.",
            )
        # cdk-nag prints the partition, region and account as CDK resolved them: literal when the
        # CLI gives the stack an environment (CDK_DEFAULT_ACCOUNT/REGION), pseudo-parameters if not.
        stack = Stack.of(self)
        partition, region, account = (
            _as_nag_prints(stack, value) for value in (stack.partition, stack.region, stack.account)
        )
        executions = (
            f"arn:{partition}:states:{region}:{account}:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine}"}}]}}]}}'
        )
        children = self.state_machine.node.find_child("DistributedMapPolicy")
        acknowledge(
            children,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{executions}:*]",
            "Describe/stop this state machine's own executions, whose names are chosen at run time.",
        )
        acknowledge(
            children,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{executions}/{MAP_LABEL}:*]",
            "Redrive the child workflows of this state machine's Map Runs, named at run time.",
        )


def _as_nag_prints(stack: Stack, value: str) -> str:
    """A pseudo-parameter as cdk-nag spells it in a finding: its value once resolved, else <AWS::Name>."""
    resolved = stack.resolve(value)
    return f"<{resolved['Ref']}>" if isinstance(resolved, dict) and "Ref" in resolved else str(resolved)
