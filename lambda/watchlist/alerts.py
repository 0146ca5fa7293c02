"""One SNS message per stored match: where the image is, who, how similar. Never the image itself."""

from __future__ import annotations

import json
from typing import Any

from recognizer.contract import ImageRef, WatchlistMatch

# SNS email subjects: at most 100 printable ASCII characters.
_MAX_SUBJECT = 100


def alert_message(ref: ImageRef, match: WatchlistMatch, analyzed_at: str) -> dict[str, Any]:
    return {
        "image": ref.uri,
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "person": match["person"],
        "similarity": match["similarity"],
        "bounding_box": match["bounding_box"],
        "analyzed_at": analyzed_at,
    }


def publish_matches(
    sns: Any, topic_arn: str, ref: ImageRef, matches: list[WatchlistMatch], analyzed_at: str
) -> None:
    for match in matches:
        subject = f"Watchlist match: {match['person']} ({match['similarity']:.1f}%)"
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject[:_MAX_SUBJECT],
            Message=json.dumps(alert_message(ref, match, analyzed_at), indent=2),
        )
