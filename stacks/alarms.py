"""Alarms on what a user would otherwise only notice as missing results."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance import acknowledge

_PERIOD = Duration.minutes(5)


class PipelineAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        oldest_message_seconds: int,
        email: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms = [
            cloudwatch.Alarm(
                self,
                "DeadLetters",
                alarm_description="Uploads that failed every retry are waiting in the dead-letter queue",
                metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "FunctionErrors",
                alarm_description="The recognition function raised errors",
                metric=function.metric_errors(period=_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "FunctionThrottles",
                alarm_description="Invocations of the recognition function were throttled",
                metric=function.metric_throttles(period=_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "OldestUpload",
                alarm_description=f"An upload has waited over {oldest_message_seconds} s to be analyzed",
                metric=queue.metric_approximate_age_of_oldest_message(period=_PERIOD, statistic="Maximum"),
                threshold=oldest_message_seconds,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]

        self.topic: sns.Topic | None = None
        if email:
            self.topic = sns.Topic(
                self, "Topic", display_name="Celebrity recognition alarms", enforce_ssl=True
            )
            # Undeliverable notifications are kept, not dropped (and not mixed with upload failures).
            self.undelivered = sqs.Queue(
                self,
                "Undelivered",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            for finding in ("Serverless::Serverless-SQSRedrivePolicy", "AwsSolutions::AwsSolutions-SQS3"):
                acknowledge(
                    self.undelivered,
                    finding,
                    "This queue is the email subscription's dead-letter queue (cdk-nag only recognizes "
                    "queue-to-queue redrives); it has no consumer that could fail.",
                )
            self.topic.add_subscription(
                subscriptions.EmailSubscription(email, dead_letter_queue=self.undelivered)
            )
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(self.topic))
