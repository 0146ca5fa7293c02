"""The recognition function, its own log group and its least-privilege role."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from recognizer.contract import ENV_RESULTS_TABLE
from stacks.bundling import function_code
from stacks.compliance import acknowledge, logical_id
from stacks.config import AppConfig, retention

SOURCE = Path(__file__).resolve().parent.parent / "lambda"
# The name the case study's handler used, so its zip layout and docs still apply.
HANDLER = "handler.lambda_handler"
# The newest Python runtime aws-cdk-lib offers; arm64 is cheaper per GB-second for the same work.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


class RecognitionFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        images: s3.IBucket,
        results: dynamodb.ITable | None,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )

        # Built by hand instead of letting lambda.Function create one: no AWSLambdaBasicExecutionRole
        # (it may write to any log group), only what this function does.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Celebrity recognition function: Rekognition, read images, write results",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="RecognizeCelebrities",
                actions=["rekognition:RecognizeCelebrities"],
                # RecognizeCelebrities supports no resource-level permission: "*" is the only valid Resource.
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadImages",
                # Rekognition reads the object with the caller's credentials;
                # GetObjectVersion because the handler pins the version it analyzes.
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[images.arn_for_objects("*")],
            )
        )

        environment = config.function_environment()
        if results is not None:
            environment[ENV_RESULTS_TABLE] = results.table_name
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="WriteResults",
                    # BatchGetItem reads a version's stored result and the content record of its bytes
                    # (no second Rekognition call for either). TransactWriteItems has no action of its
                    # own: IAM authorizes each of its Puts as PutItem, like the lone writes.
                    actions=["dynamodb:BatchGetItem", "dynamodb:PutItem"],
                    resources=[results.table_arn],
                )
            )

        self.function = lambda_.Function(
            self,
            "Function",
            description="Recognizes celebrities in an S3 image with Amazon Rekognition",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            # lambda/watchlist/ is the watchlist function's (with Pillow): not shipped here.
            code=function_code(SOURCE, RUNTIME, ARCHITECTURE, exclude=("watchlist",)),
            memory_size=config.memory_size,
            timeout=Duration.seconds(config.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if config.tracing else lambda_.Tracing.DISABLED,
            # Lambda writes each log record as JSON (the record's extra fields included) and filters
            # by level itself: CloudWatch Logs Insights queries the fields of every image's line.
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[config.log_level],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment=environment,
            # Asynchronous invocations (`InvocationType=Event`) that fail every retry land here too,
            # beside the uploads the queue gave up on: one place to look, one queue to redrive.
            dead_letter_queue=dead_letter_queue,
        )

        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "rekognition:RecognizeCelebrities and X-Ray's PutTraceSegments/PutTelemetryRecords support no "
            "resource-level permissions; '*' is the only Resource they accept.",
        )
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(images)}.Arn>/*]",
            "Read-only s3:GetObject/GetObjectVersion on this stack's images bucket: any uploaded key may be "
            "analyzed, so the object part of the ARN cannot be narrower.",
        )
