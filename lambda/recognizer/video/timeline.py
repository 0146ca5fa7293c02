"""From GetCelebrityRecognition's detections to one entry per celebrity (pure: no AWS, no clock).

Rekognition returns one CelebrityRecognition per celebrity per sampled frame it recognized them in.
Per celebrity (by Id, else by name) this keeps first and last seen, the number of detections, the
highest confidence with its frame's box, and the intervals: detections closer than `gap_ms` to the
previous one extend its interval, a longer pause starts a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from recognizer.contract import BoundingBox, VideoAppearance

_BOX_SIDES = {"Width": "width", "Height": "height", "Left": "left", "Top": "top"}


def detection(entry: dict[str, Any]) -> dict[str, Any] | None:
    """One CelebrityRecognition as the timeline stores it; None without a timestamp or a name."""
    celebrity = entry.get("Celebrity") or {}
    timestamp = entry.get("Timestamp")
    name = celebrity.get("Name")
    if not isinstance(timestamp, int) or not name:
        return None
    box = celebrity.get("BoundingBox") or (celebrity.get("Face") or {}).get("BoundingBox") or {}
    return {
        "timestamp_ms": timestamp,
        "id": celebrity.get("Id") or "",
        "name": name,
        "confidence": float(celebrity.get("Confidence") or 0.0),
        "bounding_box": {ours: float(box.get(theirs, 0.0)) for theirs, ours in _BOX_SIDES.items()},
        "urls": list(celebrity.get("Urls") or []),
        "known_gender": (celebrity.get("KnownGender") or {}).get("Type"),
    }


def appearances(detections: Iterable[dict[str, Any]], *, gap_ms: int) -> list[VideoAppearance]:
    """One entry per celebrity, highest confidence first (then by name)."""
    by_celebrity: dict[str, list[dict[str, Any]]] = {}
    for found in detections:
        by_celebrity.setdefault(found["id"] or f"name:{found['name']}", []).append(found)
    result = [
        _appearance(sorted(found, key=lambda d: d["timestamp_ms"]), gap_ms) for found in by_celebrity.values()
    ]
    return sorted(result, key=lambda a: (-a["confidence"], a["name"]))


def _appearance(found: list[dict[str, Any]], gap_ms: int) -> VideoAppearance:
    best = max(found, key=lambda d: d["confidence"])  # the first of equals: the earliest frame
    intervals: list[list[int]] = []
    for item in found:
        stamp = item["timestamp_ms"]
        if intervals and stamp - intervals[-1][1] <= gap_ms:
            intervals[-1][1] = stamp
        else:
            intervals.append([stamp, stamp])
    box: BoundingBox = best["bounding_box"]
    return {
        "name": best["name"],
        "id": best["id"],
        "urls": best["urls"],
        "known_gender": best["known_gender"],
        "confidence": best["confidence"],
        "best_ms": best["timestamp_ms"],
        "bounding_box": box,
        "first_seen_ms": found[0]["timestamp_ms"],
        "last_seen_ms": found[-1]["timestamp_ms"],
        "appearances": len(found),
        "intervals": intervals,
        "interval_count": len(intervals),
    }
