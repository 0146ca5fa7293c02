"""Pure shaping of a RecognizeCelebrities response into the function's JSON result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recognizer.contract import ANALYZED_AT_FORMAT, Celebrity, ContentAnalysis, ImageRef, RecognitionResult


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC to the second, e.g. 2026-11-26T11:29:25Z."""
    return moment.astimezone(UTC).strftime(ANALYZED_AT_FORMAT)


def shape_celebrity(face: dict[str, Any]) -> Celebrity:
    """One CelebrityFaces entry in the result's vocabulary; absent fields become null/empty."""
    details = _mapping(face.get("Face"))
    box = _mapping(details.get("BoundingBox"))
    urls = face.get("Urls")
    return {
        "name": str(face.get("Name") or ""),
        "id": str(face.get("Id") or ""),
        "confidence": _number(face.get("MatchConfidence")),
        "face_confidence": _number(details.get("Confidence")),
        "urls": [str(url) for url in urls] if isinstance(urls, list) else [],
        "known_gender": _mapping(face.get("KnownGender")).get("Type"),
        "bounding_box": {
            "width": _number(box.get("Width")),
            "height": _number(box.get("Height")),
            "left": _number(box.get("Left")),
            "top": _number(box.get("Top")),
        },
    }


def shape_celebrities(response: dict[str, Any], min_confidence: float | None) -> list[Celebrity]:
    """Celebrities at or above ``min_confidence`` (None: all), highest confidence first (then name, id)."""
    faces = response.get("CelebrityFaces")
    shaped = (
        [shape_celebrity(face) for face in faces if isinstance(face, dict)] if isinstance(faces, list) else []
    )
    return select_celebrities(shaped, min_confidence)


def select_celebrities(celebrities: list[Celebrity], min_confidence: float | None) -> list[Celebrity]:
    kept = (
        celebrities
        if min_confidence is None
        else [c for c in celebrities if c["confidence"] >= min_confidence]
    )
    return sorted(kept, key=lambda c: (-c["confidence"], c["name"], c["id"]))


def unrecognized_faces(response: dict[str, Any]) -> int:
    unrecognized = response.get("UnrecognizedFaces")
    return len(unrecognized) if isinstance(unrecognized, list) else 0


def build_result(
    ref: ImageRef, response: dict[str, Any], min_confidence: float, analyzed_at: datetime
) -> RecognitionResult:
    """The direct invocation's return value; ``ref.version_id`` is the version S3 actually served."""
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "celebrities": shape_celebrities(response, min_confidence),
        "unrecognized_faces": unrecognized_faces(response),
        "analyzed_at": utc_timestamp(analyzed_at),
    }


def content_analysis(
    sha256: str, ref: ImageRef, response: dict[str, Any], analyzed_at: str
) -> ContentAnalysis:
    """What the content record keeps of a response: every celebrity, whatever ``min_confidence`` is now."""
    return ContentAnalysis(
        sha256, ref, shape_celebrities(response, None), unrecognized_faces(response), analyzed_at
    )


def reuse_result(
    ref: ImageRef, content: ContentAnalysis, min_confidence: float, analyzed_at: datetime
) -> RecognitionResult:
    """The result for ``ref`` from an earlier analysis of the same bytes, with today's ``min_confidence``.

    ``analyzed_at`` is now, not the earlier analysis' time (that is in ``reused_from``): readers take
    the latest ``analyzed_at`` of a key as its latest version's result.
    """
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "celebrities": select_celebrities(content.celebrities, min_confidence),
        "unrecognized_faces": content.unrecognized_faces,
        "analyzed_at": utc_timestamp(analyzed_at),
        "reused_from": content.reused(),
    }


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
