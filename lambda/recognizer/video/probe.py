"""Rekognition's stored-video limits, checked before a job is started (no call wasted on a refusal).

One HeadObject for the size, then ranged GETs: the header of each top-level box (16 bytes) until
the `moov` box, then `moov` itself. A file with `moov` at the end (most cameras) costs one GET per
top-level box before it, usually three or four; nothing of the media data is read.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors
from recognizer.contract import (
    H264_SAMPLE_ENTRIES,
    LEADING_BOXES,
    MAX_VIDEO_BYTES,
    MAX_VIDEO_SECONDS,
    ImageRef,
)
from recognizer.probe import map_s3_error, object_request, pinned_version
from recognizer.video.container import (
    HEADER_BYTES,
    ContainerError,
    VideoFacts,
    parse_header,
    read_moov,
)
from recognizer.video.errors import (
    EmptyVideoError,
    UnsupportedVideoCodecError,
    UnsupportedVideoFormatError,
    VideoTooLargeError,
    VideoTooLongError,
)

# A movie's metadata is kilobytes to a few megabytes (its sample tables grow with its length);
# more than this is not a video Rekognition takes, and would not fit the function's memory.
MAX_MOOV_BYTES = 64 * 1024 * 1024
MAX_TOP_LEVEL_BOXES = 64


class CheckedVideo(NamedTuple):
    ref: ImageRef  # pinned to the version S3 served
    size: int
    facts: VideoFacts


def check_video(s3: Any, ref: ImageRef) -> CheckedVideo:
    """The video's size, codecs and duration; the named error when Rekognition would refuse it."""
    where = ref.describe()
    named = ref.error_fields()
    head = _call(ref, lambda: s3.head_object(**object_request(ref)))
    ref = ref.with_version(pinned_version(head.get("VersionId")) or ref.version_id)
    size = int(head.get("ContentLength") or 0)
    if size == 0:
        raise EmptyVideoError(f"{where} is empty (0 bytes): expected an H.264 MP4 or MOV video", **named)
    if size > MAX_VIDEO_BYTES:
        raise VideoTooLargeError(
            f"{where} has {size} bytes: Rekognition takes stored videos of at most {MAX_VIDEO_BYTES} bytes "
            "(10 GB)",
            **named,
        )
    try:
        facts = read_moov(_moov(s3, ref, size))
    except ContainerError as error:
        raise UnsupportedVideoFormatError(
            f"{where} is not an MP4 or MOV file ({error}): expected an H.264 MP4 or MOV video", **named
        ) from None
    if not any(code in H264_SAMPLE_ENTRIES for code in facts.video_codecs):
        found = ", ".join(facts.video_codecs) or "no video track"
        raise UnsupportedVideoCodecError(
            f"{where} has {found}: Rekognition needs an H.264 video track "
            f"({' or '.join(H264_SAMPLE_ENTRIES)})",
            **named,
        )
    if facts.duration_seconds is not None and facts.duration_seconds > MAX_VIDEO_SECONDS:
        raise VideoTooLongError(
            f"{where} lasts {facts.duration_seconds / 3600:.2f} h: Rekognition takes stored videos of at "
            f"most {MAX_VIDEO_SECONDS // 3600} h",
            **named,
        )
    return CheckedVideo(ref, size, facts)


def _moov(s3: Any, ref: ImageRef, size: int) -> bytes:
    """The payload of the top-level `moov` box, found by walking the top-level box headers."""
    offset = 0
    for index in range(MAX_TOP_LEVEL_BOXES):
        if offset >= size:
            break
        data = _read(s3, ref, offset, min(HEADER_BYTES, size - offset))
        header = parse_header(data, size - offset)
        if index == 0 and header.type not in LEADING_BOXES:
            raise ContainerError(f"it starts with {data[:8].hex(' ')}, not an ftyp box")
        if header.type == "moov":
            if header.size > MAX_MOOV_BYTES:
                raise ContainerError(f"its moov box has {header.size} bytes, over {MAX_MOOV_BYTES}")
            return _read(s3, ref, offset + header.header_size, header.size - header.header_size)
        offset += header.size
    raise ContainerError("no moov box (the movie's metadata) among its top-level boxes")


def _read(s3: Any, ref: ImageRef, offset: int, length: int) -> bytes:
    if length <= 0:
        return b""
    response = _call(
        ref, lambda: s3.get_object(**object_request(ref, Range=f"bytes={offset}-{offset + length - 1}"))
    )
    body = response["Body"]
    try:
        return bytes(body.read())
    finally:
        body.close()


def _call(ref: ImageRef, call: Any) -> Any:
    try:
        return call()
    except ClientError as error:
        raise map_s3_error(error, ref) from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "S3") from error
