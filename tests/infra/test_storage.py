"""The images bucket and its access-log bucket: private, TLS-only, encrypted, versioned, logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.helpers import logical_id_of, resources


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template()


@pytest.fixture(scope="module")
def dev_template(synth_template: Any) -> dict[str, Any]:
    return synth_template(deployment="dev", alarm_email="ops@example.com", upload_prefix="incoming/")


BUCKETS = ["StorageImages", "StorageAccessLogs"]


@pytest.mark.parametrize("prefix", BUCKETS)
def test_bucket_defaults(template: dict[str, Any], prefix: str) -> None:
    bucket = template["Resources"][logical_id_of(template, prefix)]
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rule["Status"] == "Enabled"
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def _policy_for(template: dict[str, Any], bucket_id: str) -> list[dict[str, Any]]:
    [policy] = [
        p for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]  # fmt: skip
    return policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("prefix", BUCKETS)
def test_bucket_policy_denies_plain_http(template: dict[str, Any], prefix: str) -> None:
    bucket_id = logical_id_of(template, prefix)
    deny = [s for s in _policy_for(template, bucket_id) if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [
                {"Fn::GetAtt": [bucket_id, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
            ],
        }
    ]


def test_images_bucket_logs_to_the_log_bucket(template: dict[str, Any]) -> None:
    images = template["Resources"][logical_id_of(template, "StorageImages")]
    logs_id = logical_id_of(template, "StorageAccessLogs")
    assert images["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "images/",
    }
    # Only S3 log delivery may write there (for the images bucket and the backfill's report bucket).
    allows = [s for s in _policy_for(template, logs_id) if s["Effect"] == "Allow"]
    assert allows and all(
        (allow["Principal"], allow["Action"]) == ({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject")
        for allow in allows
    )


def test_only_the_images_logs_and_backfill_report_buckets_exist(template: dict[str, Any]) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    assert sorted(logical_id[:-8] for logical_id in buckets) == [
        "BackfillReports",
        "StorageAccessLogs",
        "StorageImages",
    ]


@pytest.mark.parametrize("prefix", BUCKETS)
def test_dev_buckets_are_destroyed_with_their_objects(dev_template: dict[str, Any], prefix: str) -> None:
    bucket_id = logical_id_of(dev_template, prefix)
    assert dev_template["Resources"][bucket_id]["DeletionPolicy"] == "Delete"
    auto_delete = [
        r for r in dev_template["Resources"].values()
        if r["Type"] == "Custom::S3AutoDeleteObjects" and r["Properties"]["BucketName"] == {"Ref": bucket_id}
    ]  # fmt: skip
    assert len(auto_delete) == 1


def test_prod_has_no_auto_delete(template: dict[str, Any]) -> None:
    assert not resources(template, "Custom::S3AutoDeleteObjects")
