"""`celeb check`: a bucket that stopped publishing to EventBridge is reported, and `--fix` repairs it.

moto keeps a bucket's EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration
(moto 5.2.5's response template has no such element), so the reading side is stubbed with botocore's
Stubber, which checks requests and responses against S3's real model.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from celeb.check import check_upload_events
from tests.client.celeb_testkit import Deployed, assert_one_error_line

BUCKET = "celebrityrecognition-images-1"
BY_HAND = {
    "QueueConfigurations": [
        {
            "Id": "by-hand",
            "QueueArn": "arn:aws:sqs:us-east-1:123456789012:by-hand",
            "Events": ["s3:ObjectRemoved:*"],
        }
    ]
}


def _stubbed_s3() -> tuple[Any, Stubber]:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return s3, Stubber(s3)


def test_publishing_bucket_passes_and_nothing_is_written() -> None:
    s3, stub = _stubbed_s3()
    stub.add_response(
        "get_bucket_notification_configuration", {"EventBridgeConfiguration": {}}, {"Bucket": BUCKET}
    )
    with stub:
        result = check_upload_events(s3, BUCKET, fix=True)
    stub.assert_no_pending_responses()
    assert (result.publishing, result.fixed) == (True, False)


def test_fix_switches_publishing_on_and_keeps_the_other_configuration() -> None:
    s3, stub = _stubbed_s3()
    stub.add_response("get_bucket_notification_configuration", dict(BY_HAND), {"Bucket": BUCKET})
    stub.add_response(
        "put_bucket_notification_configuration",
        {},
        {"Bucket": BUCKET, "NotificationConfiguration": {**BY_HAND, "EventBridgeConfiguration": {}}},
    )
    stub.add_response(
        "get_bucket_notification_configuration",
        {**BY_HAND, "EventBridgeConfiguration": {}},
        {"Bucket": BUCKET},
    )
    with stub:
        result = check_upload_events(s3, BUCKET, fix=True)
    stub.assert_no_pending_responses()
    assert (result.publishing, result.fixed) == (True, True)


def test_without_fix_nothing_is_written() -> None:
    s3, stub = _stubbed_s3()
    stub.add_response("get_bucket_notification_configuration", dict(BY_HAND), {"Bucket": BUCKET})
    with stub:
        result = check_upload_events(s3, BUCKET, fix=False)
    assert (result.publishing, result.fixed) == (False, False)


def test_a_wiped_configuration_fails_the_command_with_the_fix(cli: Any, stack: Deployed, s3: Any) -> None:
    # What CDK's notification handler leaves behind when the migration deletes it.
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    result = cli("check")
    assert result.exit_code == 3
    assert_one_error_line(result.stderr, f"s3://{stack.bucket} does not publish", "celeb check --fix")
