"""The images bucket and the bucket that receives its server access logs.

The images bucket publishes its events to the account's default EventBridge bus, where consumers
of uploads take them from the upload rule (a target of their own) or a rule of their own (see
`ingestion.py`).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


def _secure_bucket_props(*, dev: bool, noncurrent_days: int) -> dict:
    """Defaults every bucket of this app shares: private, TLS-only, encrypted, versioned."""
    return {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "enforce_ssl": True,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "versioned": True,
        "lifecycle_rules": [
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=Duration.days(noncurrent_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        # Photos are the user's data: kept when the stack goes, unless this is a throwaway dev stack.
        "removal_policy": RemovalPolicy.DESTROY if dev else RemovalPolicy.RETAIN,
        "auto_delete_objects": dev,
    }


class ImageStorage(Construct):
    """`images`: where uploads land; `access_logs`: its server access logs, with the same defaults."""

    def __init__(self, scope: Construct, construct_id: str, *, dev: bool, noncurrent_days: int) -> None:
        super().__init__(scope, construct_id)
        defaults = _secure_bucket_props(dev=dev, noncurrent_days=noncurrent_days)
        # S3 log delivery writes with its service principal; CDK adds that grant to this bucket's policy.
        self.access_logs = s3.Bucket(self, "AccessLogs", **defaults)
        self.images = s3.Bucket(
            self,
            "Images",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="images/",
            **defaults,
        )
        # A property of the bucket itself: CloudFormation switches it on with the bucket, whereas
        # `Bucket(event_bridge_enabled=True)` would go through CDK's notifications custom resource
        # (a Lambda function with an AWS managed policy) in every stack.
        cfn_images = self.images.node.default_child
        assert isinstance(cfn_images, s3.CfnBucket)
        cfn_images.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
