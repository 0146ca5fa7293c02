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

from stacks import queues
from stacks.compliance import acknowledge

_PERIOD = Duration.minutes(5)


class OperationalAlarms(Construct):
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
        delivery_dead_letter_queue: sqs.IQueue | None,
        label: str = "recognition",
        topic: sns.ITopic | None = None,
    ) -> None:
        """`label` names the function in descriptions; `topic` (else one for `email`) gets every alarm;
        without `delivery_dead_letter_queue` (EventBridge's failures share `dead_letter_queue`) no alarm
        of its own."""
        super().__init__(scope, construct_id)
        at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        dead_letters = {
            "DeadLetters": (f"Uploads that failed every retry are waiting in the {label} dead-letter queue",
                            dead_letter_queue),
        }  # fmt: skip
        if delivery_dead_letter_queue is not None:
            dead_letters["DeliveryDeadLetters"] = (
                "Upload events EventBridge could not deliver to the upload queue are waiting in its "
                "dead-letter queue",
                delivery_dead_letter_queue,
            )
        self.alarms = [
            *(
                self._alarm(
                    alarm_id,
                    description,
                    queue_.metric_approximate_number_of_messages_visible(period=_PERIOD, statistic="Maximum"),
                    1,
                    at_least_one,
                )
                for alarm_id, (description, queue_) in dead_letters.items()
            ),
            self._alarm(
                "FunctionErrors",
                f"The {label} function raised errors",
                function.metric_errors(period=_PERIOD, statistic="Sum"),
                1,
                at_least_one,
            ),
            self._alarm(
                "FunctionThrottles",
                f"Invocations of the {label} function were throttled",
                function.metric_throttles(period=_PERIOD, statistic="Sum"),
                1,
                at_least_one,
            ),
            self._alarm(
                "OldestUpload",
                f"An upload has waited over {oldest_message_seconds} s for the {label} function",
                queue.metric_approximate_age_of_oldest_message(period=_PERIOD, statistic="Maximum"),
                oldest_message_seconds,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
        ]

        self.topic: sns.ITopic | None = topic
        if topic is None and email:
            self.topic = sns.Topic(
                self, "Topic", display_name="Celebrity recognition alarms", enforce_ssl=True
            )
            # Undeliverable notifications are kept, not dropped (and not mixed with upload failures).
            self.undelivered = queues.dead_letter_queue(self, "Undelivered")
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
        if self.topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(self.topic))

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
    ) -> cloudwatch.Alarm:
        # One five-minute period is enough: each of these means a user is missing a result now.
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
