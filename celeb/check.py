"""`check`: does the deployed stack still receive uploads?

The images bucket publishes its events to EventBridge (a property of the bucket in the template).
A stack that was deployed before that, with CDK's S3-notification custom resource, loses it in the
update: CloudFormation deletes the old custom resource last, and its handler then writes an empty
notification configuration to the bucket. `check --fix` switches publishing back on, keeping any
other notification configuration the bucket has; `make deploy` runs it after every deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENTBRIDGE = "EventBridgeConfiguration"


@dataclass(frozen=True)
class EventsCheck:
    bucket: str
    publishing: bool  # the bucket publishes its events to EventBridge
    fixed: bool = False  # it did not, and this check switched it on


def publishes_to_eventbridge(s3: Any, bucket: str) -> bool:
    return EVENTBRIDGE in s3.get_bucket_notification_configuration(Bucket=bucket)


def check_upload_events(s3: Any, bucket: str, *, fix: bool) -> EventsCheck:
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    configuration.pop("ResponseMetadata", None)
    if EVENTBRIDGE in configuration:
        return EventsCheck(bucket, publishing=True)
    if not fix:
        return EventsCheck(bucket, publishing=False)
    # Exactly what the template declares, next to whatever else someone configured by hand.
    configuration[EVENTBRIDGE] = {}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    return EventsCheck(bucket, publishing=publishes_to_eventbridge(s3, bucket), fixed=True)
