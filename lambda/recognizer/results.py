"""Pure shaping of a RecognizeCelebrities response into the function's JSON result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recognizer.events import ImageRef


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC to the second, e.g. 2026-11-26T11:29:25Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shape_celebrity(face: dict[str, Any]) -> dict[str, Any]:
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


def shape_celebrities(response: dict[str, Any], min_confidence: float) -> list[dict[str, Any]]:
    """Celebrities at or above ``min_confidence``, highest confidence first (then by name, id)."""
    faces = response.get("CelebrityFaces")
    shaped = (
        [shape_celebrity(face) for face in faces if isinstance(face, dict)] if isinstance(faces, list) else []
    )
    kept = [c for c in shaped if c["confidence"] >= min_confidence]
    return sorted(kept, key=lambda c: (-c["confidence"], c["name"], c["id"]))


def build_result(
    ref: ImageRef, response: dict[str, Any], min_confidence: float, analyzed_at: datetime
) -> dict[str, Any]:
    """The direct invocation's return value; ``ref.version_id`` is the version S3 actually served."""
    unrecognized = response.get("UnrecognizedFaces")
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "celebrities": shape_celebrities(response, min_confidence),
        "unrecognized_faces": len(unrecognized) if isinstance(unrecognized, list) else 0,
        "analyzed_at": utc_timestamp(analyzed_at),
    }


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
