"""Reading an MP4/MOV (ISO base media file format) container: the boxes that name codec and duration.

Pure functions over bytes. The file is a sequence of boxes (4-byte big-endian size, 4-byte type;
size 1: a 64-bit size follows; size 0: to the end of the file). The `moov` box holds the metadata:
`mvhd` (timescale and duration of the whole movie) and one `trak` per track, whose
`mdia/hdlr` says what the track is (`vide` for video) and `mdia/minf/stbl/stsd` lists its sample
entries, whose 4-character codes name the codec (`avc1`/`avc3`: H.264; `hvc1`/`hev1`: HEVC).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

HEADER_BYTES = 16  # the longest box header: size, type and a 64-bit size
_CONTAINERS = ("trak", "mdia", "minf", "stbl")


class BoxHeader(NamedTuple):
    type: str
    size: int  # of the whole box, header included
    header_size: int


class VideoFacts(NamedTuple):
    video_codecs: tuple[str, ...]  # sample entry codes of the video tracks, in track order
    duration_seconds: float | None  # None when the container does not say (e.g. fragmented MP4)


class ContainerError(ValueError):
    """The bytes are not the box structure of an MP4/MOV file."""


def parse_header(data: bytes, remaining: int) -> BoxHeader:
    """The box header at the start of `data`; `remaining`: bytes from here to the end of the file."""
    if len(data) < 8:
        raise ContainerError(f"a box header needs 8 bytes, {len(data)} left")
    size, raw_type = struct.unpack(">I4s", data[:8])
    box_type = raw_type.decode("latin-1")
    header_size = 8
    if size == 1:
        if len(data) < 16:
            raise ContainerError(f"box {box_type!r} announces a 64-bit size but its header is cut")
        (size,) = struct.unpack(">Q", data[8:16])
        header_size = 16
    elif size == 0:
        size = remaining
    if size < header_size or size > remaining:
        raise ContainerError(f"box {box_type!r} has size {size}, outside 8..{remaining}")
    return BoxHeader(box_type, size, header_size)


def children(payload: bytes) -> Iterator[tuple[str, bytes]]:
    """The boxes inside a container box's payload, as (type, payload)."""
    offset = 0
    while offset + 8 <= len(payload):
        header = parse_header(payload[offset : offset + HEADER_BYTES], len(payload) - offset)
        yield header.type, payload[offset + header.header_size : offset + header.size]
        offset += header.size


def movie_duration(mvhd: bytes) -> float | None:
    """Seconds from an `mvhd` payload (version 0: 32-bit fields, version 1: 64-bit)."""
    if not mvhd:
        return None
    if mvhd[0] == 1 and len(mvhd) >= 32:
        timescale, duration = struct.unpack(">IQ", mvhd[20:32])
        unknown = duration == 0xFFFFFFFFFFFFFFFF
    elif len(mvhd) >= 20:
        timescale, duration = struct.unpack(">II", mvhd[12:20])
        unknown = duration == 0xFFFFFFFF
    else:
        return None
    if not timescale or not duration or unknown:
        return None
    return duration / timescale


def _track(trak: bytes) -> tuple[str | None, tuple[str, ...]]:
    """(handler type, sample entry codes) of one `trak` payload."""
    handler: str | None = None
    codes: list[str] = []
    stack = [payload for box_type, payload in children(trak) if box_type in _CONTAINERS]
    while stack:
        for box_type, payload in children(stack.pop()):
            if box_type in _CONTAINERS:
                stack.append(payload)
            elif box_type == "hdlr" and len(payload) >= 12:
                handler = payload[8:12].decode("latin-1")
            elif box_type == "stsd" and len(payload) >= 8:
                # version/flags (4), entry count (4), then sample entries, each a box of its own.
                codes += [code for code, _ in children(payload[8:])]
    return handler, tuple(codes)


def read_moov(moov: bytes) -> VideoFacts:
    """Codecs of the video tracks and the movie's duration, from the `moov` box's payload."""
    duration: float | None = None
    codecs: list[str] = []
    try:
        for box_type, payload in children(moov):
            if box_type == "mvhd":
                duration = movie_duration(payload)
            elif box_type == "trak":
                handler, codes = _track(payload)
                if handler == "vide":
                    codecs += codes
    except (ContainerError, struct.error) as error:
        raise ContainerError(f"its moov box is malformed: {error}") from None
    return VideoFacts(tuple(codecs), duration)
