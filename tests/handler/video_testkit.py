"""Test data of the video path: MP4/MOV files built box by box, Rekognition's video answers, services.

Other test folders import it as ``tests.handler.video_testkit``.
"""

from __future__ import annotations

import struct
from typing import Any

from recognizer.contract import ENV_RESULTS_TABLE
from recognizer.video.services import VideoServices
from recognizer.video.settings import load_video_settings
from tests.handler.recognizer_testkit import BUCKET, TABLE, WHEN

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:video-completions"
ROLE_ARN = "arn:aws:iam::123456789012:role/video-notifications"
TIMELINES = "video-timelines"
START_QUEUE = "video-start"


def box(kind: str, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def full_box(kind: str, payload: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def mvhd(duration_s: float, timescale: int = 1000, version: int = 0) -> bytes:
    duration = int(duration_s * timescale)
    if version == 1:
        fields = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        fields = struct.pack(">IIII", 0, 0, timescale, duration)
    return full_box("mvhd", fields + b"\x00" * 80, version)


def trak(handler: str, *codecs: str) -> bytes:
    hdlr = full_box("hdlr", b"\x00" * 4 + handler.encode() + b"\x00" * 12 + b"\x00")
    entries = b"".join(box(code, b"\x00" * 78) for code in codecs)
    stsd = full_box("stsd", struct.pack(">I", len(codecs)) + entries)
    return box("trak", box("mdia", hdlr + box("minf", box("stbl", stsd))))


def mp4_bytes(
    codec: str = "avc1",
    *,
    duration_s: float = 95.0,
    moov_first: bool = False,
    media_bytes: int = 2000,
    mvhd_version: int = 0,
    audio: bool = True,
) -> bytes:
    """A small but well-formed MP4: ftyp, then mdat and moov (camera order) or moov first ("fast start")."""
    ftyp = box("ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
    tracks = trak("vide", codec) if codec else b""
    if audio:
        tracks += trak("soun", "mp4a")
    moov = box("moov", mvhd(duration_s, version=mvhd_version) + tracks)
    mdat = box("mdat", b"\x00" * media_bytes)
    return ftyp + (moov + mdat if moov_first else mdat + moov)


def video_environment(**extra: str) -> dict[str, str]:
    return {
        ENV_RESULTS_TABLE: TABLE,
        "VIDEO_TOPIC_ARN": TOPIC_ARN,
        "VIDEO_ROLE_ARN": ROLE_ARN,
        "VIDEO_TIMELINES_BUCKET": TIMELINES,
        "VIDEO_MAX_CONCURRENT_JOBS": "3",
        "VIDEO_JOB_TIMEOUT_MINUTES": "60",
        "VIDEO_INTERVAL_GAP_MS": "1000",
        **extra,
    }


def video_services(
    s3: Any, rekognition: Any, dynamodb: Any, sqs: Any = None, *, clock: Any = None, **env: str
) -> VideoServices:
    return VideoServices(
        settings=load_video_settings(video_environment(**env)),
        s3=s3,
        rekognition=rekognition,
        dynamodb=dynamodb,
        sqs=sqs,
        clock=clock or (lambda: WHEN),
    )


def recognition(
    timestamp: int, name: str, celebrity_id: str, confidence: float, left: float = 0.1
) -> dict[str, Any]:
    """One CelebrityRecognition entry of GetCelebrityRecognition, in botocore's shape."""
    return {
        "Timestamp": timestamp,
        "Celebrity": {
            "Urls": [f"www.wikidata.org/wiki/Q{celebrity_id}"],
            "Name": name,
            "Id": celebrity_id,
            "Confidence": confidence,
            "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": left, "Top": 0.1},
            "Face": {
                "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": left, "Top": 0.1},
                "Confidence": 99.0,
            },
            "KnownGender": {"Type": "Female"},
        },
    }


def job_page(
    job_id: str,
    celebrities: list[dict[str, Any]],
    *,
    status: str = "SUCCEEDED",
    next_token: str | None = None,
    key: str = "clip.mp4",
    version_id: str | None = None,
    status_message: str | None = None,
) -> dict[str, Any]:
    """A GetCelebrityRecognition response (botocore's shape)."""
    s3_object: dict[str, str] = {"Bucket": BUCKET, "Name": key}
    if version_id:
        s3_object["Version"] = version_id
    page: dict[str, Any] = {
        "JobStatus": status,
        "JobId": job_id,
        "Video": {"S3Object": s3_object},
        "VideoMetadata": {
            "Codec": "h264",
            "DurationMillis": 95000,
            "Format": "QuickTime / MOV",
            "FrameRate": 25.0,
            "FrameHeight": 720,
            "FrameWidth": 1280,
        },
        "Celebrities": celebrities,
    }
    if next_token:
        page["NextToken"] = next_token
    if status_message:
        page["StatusMessage"] = status_message
    return page


def notice(job_id: str, status: str = "SUCCEEDED", key: str = "clip.mp4") -> dict[str, Any]:
    """Rekognition's completion notice, as the SNS message carries it."""
    return {
        "JobId": job_id,
        "Status": status,
        "API": "StartCelebrityRecognition",
        "Timestamp": 1764156565000,
        "Video": {"S3ObjectName": key, "S3Bucket": BUCKET},
    }
