"""Leading-byte, size and dimension checks (pure)."""

from __future__ import annotations

import pytest
from recognizer.errors import (
    EmptyImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnsupportedImageFormatError,
)
from recognizer.events import ImageRef
from recognizer.images import HEAD_BYTES, MAX_IMAGE_BYTES, check_image, detect_format, read_dimensions
from recognizer_testkit import jpeg_bytes, png_bytes

REF = ImageRef("photos-bucket", "some/key.jpg", "v1")


def test_formats_are_told_by_magic_bytes() -> None:
    assert detect_format(png_bytes(100, 100)) == "png"
    assert detect_format(jpeg_bytes(100, 100)) == "jpeg"
    assert detect_format(b"GIF89a....") is None
    assert detect_format(b"\x89PNG") is None  # truncated signature


def test_dimensions_from_the_head_or_none() -> None:
    assert read_dimensions(png_bytes(123, 99)) == (123, 99)
    assert read_dimensions(jpeg_bytes(640, 480)) == (640, 480)
    deep = jpeg_bytes(640, 480, exif_padding=70_000)
    assert read_dimensions(deep[:HEAD_BYTES]) is None
    assert read_dimensions(b"\xff\xd8\xff") is None


def test_valid_images_pass() -> None:
    assert check_image(REF, png_bytes(80, 80), 1000) == "png"
    assert check_image(REF, jpeg_bytes(4000, 3000), MAX_IMAGE_BYTES) == "jpeg"
    # The SOF is beyond the head: the size is unknown, so Rekognition decides.
    assert check_image(REF, jpeg_bytes(10, 10, exif_padding=70_000)[:HEAD_BYTES], 70_100) == "jpeg"


@pytest.mark.parametrize(
    ("head", "size", "error", "fragment"),
    [
        (b"", 0, EmptyImageError, "is empty (0 bytes)"),
        (b"%PDF-1.7\n", 9, UnsupportedImageFormatError, "not a JPEG or PNG image (starts with 25 50 44 46"),
        (png_bytes(100, 100), MAX_IMAGE_BYTES + 1, ImageTooLargeError, f"is {MAX_IMAGE_BYTES + 1} bytes"),
        (png_bytes(79, 200), 500, ImageTooSmallError, "is 79x200 px"),
        (jpeg_bytes(300, 40), 500, ImageTooSmallError, "is 300x40 px"),
    ],
)
def test_rejections_name_the_object_and_the_limit(head: bytes, size: int, error: type, fragment: str) -> None:
    with pytest.raises(error) as raised:
        check_image(REF, head, size)
    message = str(raised.value)
    assert fragment in message
    assert "s3://photos-bucket/some/key.jpg (version v1)" in message
    assert raised.value.bucket == "photos-bucket" and raised.value.key == "some/key.jpg"
