"""The MP4/MOV limit checks before a video job: codec, duration and size, read with ranged GETs."""

from __future__ import annotations

from typing import Any

import pytest

from recognizer.contract import MAX_VIDEO_BYTES, ImageRef
from recognizer.errors import ImageNotFoundError
from recognizer.video.container import ContainerError, VideoFacts, read_moov
from recognizer.video.errors import (
    EmptyVideoError,
    UnsupportedVideoCodecError,
    UnsupportedVideoFormatError,
    VideoTooLargeError,
    VideoTooLongError,
)
from recognizer.video.probe import check_video
from tests.handler.recognizer_testkit import BUCKET, AwsAnswers
from tests.handler.video_testkit import box, mp4_bytes, mvhd, trak


def _moov_payload(data: bytes) -> bytes:
    start = data.index(b"moov") + 4
    return data[start:]


@pytest.mark.parametrize("version", [0, 1])
def test_reads_codec_and_duration_from_moov(version: int) -> None:
    facts = read_moov(mvhd(95.5, version=version) + trak("vide", "avc1") + trak("soun", "mp4a"))
    # The audio track's mp4a is not a video codec.
    assert facts == VideoFacts(("avc1",), 95.5)


def test_unknown_duration_is_none() -> None:
    assert read_moov(mvhd(0) + trak("vide", "avc3")).duration_seconds is None


def test_malformed_moov_is_a_container_error() -> None:
    with pytest.raises(ContainerError, match="malformed"):
        read_moov(box("trak", b"\x00\x00\x00\x40mdia"))


def _put(s3: Any, key: str, body: bytes) -> ImageRef:
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    return ImageRef(BUCKET, key, version)


@pytest.mark.parametrize("moov_first", [False, True])
def test_h264_video_passes_and_reads_only_box_headers(
    versioned: Any,
    s3_answers: AwsAnswers,
    moov_first: bool,
) -> None:
    ref = _put(versioned, "clip.mp4", mp4_bytes(moov_first=moov_first, media_bytes=50_000))
    s3_answers.calls.clear()
    checked = check_video(versioned, ref)
    assert checked.ref == ref and checked.facts == VideoFacts(("avc1",), 95.0)
    ranges = [params["Range"] for operation, params in s3_answers.calls if operation == "GetObject"]
    # Every read is pinned to the version, and a small header or the moov box: the 50 KB of media
    # data are never fetched.
    assert ranges and all(params.get("VersionId") == ref.version_id for _, params in s3_answers.calls)
    fetched = sum(int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for r in ranges)
    assert fetched < 1000


def test_hevc_is_refused_naming_the_codec(versioned: Any) -> None:
    ref = _put(versioned, "clip.mov", mp4_bytes("hvc1"))
    with pytest.raises(UnsupportedVideoCodecError, match=r"hvc1.*H\.264"):
        check_video(versioned, ref)


def test_audio_only_is_refused(versioned: Any) -> None:
    ref = _put(versioned, "podcast.mp4", mp4_bytes(""))
    with pytest.raises(UnsupportedVideoCodecError, match="no video track"):
        check_video(versioned, ref)


def test_over_six_hours_is_refused(versioned: Any) -> None:
    ref = _put(versioned, "marathon.mp4", mp4_bytes(duration_s=6 * 3600 + 1, mvhd_version=1))
    with pytest.raises(VideoTooLongError, match=r"6\.00 h.*at most 6 h"):
        check_video(versioned, ref)


def test_exactly_six_hours_passes(versioned: Any) -> None:
    ref = _put(versioned, "six.mp4", mp4_bytes(duration_s=6 * 3600))
    assert check_video(versioned, ref).facts.duration_seconds == 6 * 3600


def test_over_ten_gigabytes_is_refused_without_reading_it(versioned: Any, s3_answers: AwsAnswers) -> None:
    ref = _put(versioned, "huge.mp4", mp4_bytes())
    s3_answers.calls.clear()
    s3_answers.response(
        "HeadObject", lambda: {"ContentLength": MAX_VIDEO_BYTES + 1, "VersionId": ref.version_id}
    )
    with pytest.raises(VideoTooLargeError, match="10 GB"):
        check_video(versioned, ref)
    assert [operation for operation, _ in s3_answers.calls] == ["HeadObject"]


def test_not_a_container_is_refused(versioned: Any) -> None:
    ref = _put(versioned, "notes.mp4", b"just some text that is not a video at all\n" * 3)
    with pytest.raises(UnsupportedVideoFormatError, match="not an MP4 or MOV"):
        check_video(versioned, ref)


def test_no_moov_is_refused(versioned: Any) -> None:
    data = mp4_bytes()
    ref = _put(versioned, "cut.mp4", data[: data.index(b"moov") - 4])
    with pytest.raises(UnsupportedVideoFormatError, match="no moov box"):
        check_video(versioned, ref)


def test_empty_and_missing_objects(versioned: Any) -> None:
    with pytest.raises(EmptyVideoError):
        check_video(versioned, _put(versioned, "empty.mp4", b""))
    with pytest.raises(ImageNotFoundError):
        check_video(versioned, ImageRef(BUCKET, "missing.mp4"))
