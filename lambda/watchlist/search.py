"""One image's watchlist analysis: DetectFaces once, then SearchUsersByImage once per searchable face.

Shared by the watchlist function and `celeb watchlist search`, so both answer the same way.
Rekognition calls per image: 1 DetectFaces + 1 SearchUsersByImage per face that is not too small.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from recognizer.contract import MAX_IMAGE_BYTES_INLINE, FaceOutcome, WatchlistFace, WatchlistMatch
from watchlist.faces import FacePlan, crop_jpeg, open_upright, plan_faces, ratio_box, searched_is_face

# More people than anyone reads per face; the threshold usually leaves one or none.
MAX_USERS_PER_FACE = 5


def analyze_image(
    rekognition: Any,
    data: bytes,
    *,
    collection_id: str,
    threshold: float,
    s3_object: dict[str, str] | None = None,
    search_ms: list[float] | None = None,
) -> list[WatchlistFace]:
    """Every face of the image and what its search found, in DetectFaces' order.

    `s3_object` (Bucket, Name, Version) is where Rekognition reads images too large to send as
    bytes. `search_ms`, when given, gets how long each SearchUsersByImage call took (botocore's
    retries included). Raises watchlist.faces.UnreadableImageError for bytes Pillow cannot decode
    and botocore's ClientError for what Rekognition refuses.
    """
    image = open_upright(data)
    # Bytes are accepted up to MAX_IMAGE_BYTES_INLINE; larger images go to DetectFaces as an S3Object.
    where = s3_object if s3_object is not None and len(data) > MAX_IMAGE_BYTES_INLINE else None
    detected = rekognition.detect_faces(Image={"S3Object": where} if where else {"Bytes": data})
    plans = plan_faces(detected.get("FaceDetails") or [], image.width, image.height)
    timings = search_ms if search_ms is not None else []
    return [_search_face(rekognition, image, plan, collection_id, threshold, timings) for plan in plans]


def _search_face(
    rekognition: Any,
    image: Any,
    plan: FacePlan,
    collection_id: str,
    threshold: float,
    search_ms: list[float],
) -> WatchlistFace:
    if plan.crop is None:
        return {"outcome": FaceOutcome.TOO_SMALL, "bounding_box": plan.bounding_box, "matches": []}
    crop = crop_jpeg(image, plan.crop)
    started = time.monotonic()
    try:
        response = rekognition.search_users_by_image(
            CollectionId=collection_id,
            Image={"Bytes": crop},
            UserMatchThreshold=threshold,
            MaxUsers=MAX_USERS_PER_FACE,
        )
    except ClientError as error:
        # Rekognition found no face in the crop (a face DetectFaces saw in the whole image may still
        # be lost on its own): report it, it is no failure of the upload.
        if error.response.get("Error", {}).get("Code") == "InvalidParameterException":
            search_ms.append((time.monotonic() - started) * 1000)
            return {"outcome": FaceOutcome.UNSEARCHABLE, "bounding_box": plan.bounding_box, "matches": []}
        raise
    search_ms.append((time.monotonic() - started) * 1000)
    searched = (response.get("SearchedFace") or {}).get("FaceDetail", {}).get("BoundingBox")
    if searched is None or not searched_is_face(ratio_box(searched), plan.face, plan.crop):
        return {"outcome": FaceOutcome.UNSEARCHABLE, "bounding_box": plan.bounding_box, "matches": []}
    matches: list[WatchlistMatch] = [
        {"person": match["User"]["UserId"], "similarity": float(match["Similarity"]),
         "bounding_box": plan.bounding_box}
        for match in response.get("UserMatches") or []
        # Rekognition applies the threshold too; checked here so the stored rule is ours, exactly.
        if match.get("User", {}).get("UserId") and float(match.get("Similarity", 0.0)) >= threshold
    ]  # fmt: skip
    matches.sort(key=lambda match: (-match["similarity"], match["person"]))
    outcome = FaceOutcome.MATCHED if matches else FaceOutcome.NO_MATCH
    return {"outcome": outcome, "bounding_box": plan.bounding_box, "matches": matches}
