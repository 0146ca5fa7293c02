"""Checks on an object's leading bytes and size, so Rekognition is only called for plausible images.

Pure functions over bytes: the S3 read lives in ``probe``; the formats and limits in the contract.
"""

from __future__ import annotations

import io

import imagesize

from recognizer.contract import (
    MAX_IMAGE_BYTES,
    MIN_IMAGE_SIDE_PX,
    ImageFormat,
    ImageRef,
    describe_formats,
    detect_format,
)
from recognizer.errors import (
    EmptyImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnsupportedImageFormatError,
)

HEAD_BYTES = 64 * 1024  # enough for PNG's IHDR and the SOF of most JPEGs


def read_dimensions(head: bytes) -> tuple[int, int] | None:
    """(width, height) when the header lies within ``head``, else None.

    A JPEG whose SOF marker sits behind large EXIF/ICC segments is not measurable from 64 KB; such
    images go to Rekognition, which has the last word.
    """
    width, height = imagesize.get(io.BytesIO(head))  # a str/bytes argument would be taken as a path
    if width <= 0 or height <= 0:
        return None
    return width, height


def check_image(ref: ImageRef, head: bytes, total_size: int) -> ImageFormat:
    """Raise the named error for anything Rekognition would reject; return the detected format."""
    where = ref.describe()
    named = ref.error_fields()
    if total_size == 0 or not head:
        raise EmptyImageError(f"{where} is empty (0 bytes): expected a JPEG or PNG image", **named)
    image_format = detect_format(head)
    if image_format is None:
        raise UnsupportedImageFormatError(
            f"{where} is not a JPEG or PNG image (starts with {head[:8].hex(' ')}): "
            f"Rekognition only accepts {describe_formats()}",
            **named,
        )
    if total_size > MAX_IMAGE_BYTES:
        raise ImageTooLargeError(
            f"{where} is {total_size} bytes: Rekognition accepts at most "
            f"{MAX_IMAGE_BYTES} bytes (15 MB) from S3",
            **named,
        )
    dimensions = read_dimensions(head)
    if dimensions is not None and min(dimensions) < MIN_IMAGE_SIDE_PX:
        width, height = dimensions
        raise ImageTooSmallError(
            f"{where} is {width}x{height} px: Rekognition needs at least {MIN_IMAGE_SIDE_PX} px on each side",
            **named,
        )
    return image_format
