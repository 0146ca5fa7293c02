"""SQS queues with this app's defaults in one place: SQS-managed encryption, TLS-only access."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# The longest SQS keeps a message: what waits in a dead-letter queue should wait for a human.
DEAD_LETTER_RETENTION = Duration.days(14)


def secure_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    return sqs.Queue(
        scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **props
    )


def dead_letter_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    return secure_queue(scope, construct_id, retention_period=DEAD_LETTER_RETENTION, **props)
