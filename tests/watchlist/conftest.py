"""Fixtures of the watchlist function's tests: moto for S3, DynamoDB and SNS, the fake collection."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

from tests.watchlist.face_collection import FaceCollection  # noqa: E402
from tests.watchlist.watchlist_testkit import COLLECTION_ID, results_table_properties  # noqa: E402
from watchlist import handler  # noqa: E402
from watchlist.settings import WatchlistSettings  # noqa: E402

BUCKET = "photos-bucket"
TABLE = "results"


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class World:
    """What one test's watchlist function sees: its clients, settings, and the fake collection."""

    s3: Any
    dynamodb: Any
    sqs: Any
    collection: FaceCollection
    settings: WatchlistSettings
    alerts_queue: str

    def upload(self, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]

    def items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        raw = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [{name: deserializer.deserialize(value) for name, value in item.items()} for item in raw]

    def alerts(self) -> list[dict[str, Any]]:
        import json

        messages = self.sqs.receive_message(QueueUrl=self.alerts_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(json.loads(message["Body"])["Message"]) for message in messages]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(TableName=TABLE, **results_table_properties())
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        collection = FaceCollection(COLLECTION_ID)
        rekognition = boto3.client("rekognition")
        collection.attach(rekognition)
        monkeypatch.setattr(
            handler,
            "CLIENTS",
            handler.Clients({"s3": s3, "dynamodb": dynamodb, "rekognition": rekognition, "sns": sns}),
        )
        settings = WatchlistSettings(COLLECTION_ID, TABLE, 99.0, 365, topic)
        yield World(s3, dynamodb, sqs, collection, settings, queue)
