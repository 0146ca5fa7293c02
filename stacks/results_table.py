"""The optional DynamoDB table holding one result per image version (key design: recognizer.contract)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from recognizer.contract import (
    CELEBRITY_INDEX,
    CELEBRITY_INDEX_PARTITION_KEY,
    CELEBRITY_INDEX_SORT_KEY,
    PARTITION_KEY,
    PERSON_INDEX,
    PERSON_INDEX_PARTITION_KEY,
    PERSON_INDEX_SORT_KEY,
    SORT_KEY,
    WATCHLIST_TTL_ATTRIBUTE,
)


class ResultsTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, dev: bool, watchlist: bool = False) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=not dev,
            removal_policy=RemovalPolicy.DESTROY if dev else RemovalPolicy.RETAIN,
            # Always on, not only with the watchlist: match records written while it was on must still
            # expire after it is switched off. Only watchlist items carry the attribute; TTL is free.
            time_to_live_attribute=WATCHLIST_TTL_ATTRIBUTE,
        )
        self.table.add_global_secondary_index(
            index_name=CELEBRITY_INDEX,
            partition_key=dynamodb.Attribute(
                name=CELEBRITY_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=CELEBRITY_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        if watchlist:
            # `celeb results --person NAME`: sparse, only watchlist match items carry the key.
            self.table.add_global_secondary_index(
                index_name=PERSON_INDEX,
                partition_key=dynamodb.Attribute(
                    name=PERSON_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
                ),
                sort_key=dynamodb.Attribute(name=PERSON_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )
