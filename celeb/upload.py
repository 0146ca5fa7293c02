"""Put a checked local image into the images bucket."""

from __future__ import annotations

from typing import Any

from celeb.images import ImageRef, LocalImage


def upload(s3: Any, image: LocalImage, ref: ImageRef) -> str | None:
    """Upload the file; returns the new object version (None when the bucket is not versioned)."""
    # Images are at most 15 MB for Rekognition, so one PUT is enough; no multipart transfer.
    with image.path.open("rb") as body:
        response = s3.put_object(Bucket=ref.bucket, Key=ref.key, Body=body, ContentType=image.content_type)
    return response.get("VersionId")
