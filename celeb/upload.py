"""Put a checked local image into the images bucket."""

from __future__ import annotations

from typing import Any

from celeb.targets import LocalImage
from recognizer.contract import ANALYSIS_METADATA_KEY, ANALYSIS_ON_REQUEST, ImageRef


def upload(s3: Any, image: LocalImage, ref: ImageRef) -> ImageRef:
    """Upload the file; returns `ref` pinned to the new object version (None: bucket not versioned)."""
    # Images are at most 15 MB for Rekognition, so one PUT is enough; no multipart transfer.
    with image.path.open("rb") as body:
        response = s3.put_object(
            Bucket=ref.bucket,
            Key=ref.key,
            Body=body,
            ContentType=image.content_type,
            # The client invokes the function itself right after: the marker tells the upload's own
            # event to leave this object alone, so Rekognition is paid once, with or without a table.
            Metadata={ANALYSIS_METADATA_KEY: ANALYSIS_ON_REQUEST},
        )
    return ref.with_version(response.get("VersionId"))
