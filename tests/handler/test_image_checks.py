"""Leading-byte, size and dimension checks (pure); formats and limits come from the contract."""

from __future__ import annotations

import pytest

from recognizer.contract import IMAGE_FORMATS, MAX_IMAGE_BYTES, MIN_IMAGE_SIDE_PX, ImageRef
from recognizer.errors import (
    EmptyImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnsupportedImageFormatError,
)
from recognizer.image_checks import HEAD_BYTES, check_image, read_dimensions
from tests.handler.recognizer_testkit import jpeg_bytes, png_bytes

REF = ImageRef("photos-bucket", "some/key.jpg", "v1")
JPEG, PNG = (next(f for f in IMAGE_FORMATS if f.name == name) for name in ("jpeg", "png"))


def test_dimensions_from_the_head_or_none() -> None:
    assert read_dimensions(png_bytes(123, 99)) == (123, 99)
    assert read_dimensions(jpeg_bytes(640, 480)) == (640, 480)
    deep = jpeg_bytes(640, 480, exif_padding=70_000)
    assert read_dimensions(deep[:HEAD_BYTES]) is None
    assert read_dimensions(b"\xff\xd8\xff") is None


def test_valid_images_pass_and_the_format_is_returned() -> None:
    side = MIN_IMAGE_SIDE_PX
    assert check_image(REF, png_bytes(side, side), 1000) == PNG
    assert check_image(REF, jpeg_bytes(4000, 3000), MAX_IMAGE_BYTES) == JPEG
    # The SOF is beyond the head: the size is unknown, so Rekognition decides.
    assert check_image(REF, jpeg_bytes(10, 10, exif_padding=70_000)[:HEAD_BYTES], 70_100) == JPEG


def test_the_format_comes_from_the_bytes_not_the_name() -> None:
    assert check_image(ImageRef("photos-bucket", "really-a-png.jpg"), png_bytes(100, 100), 500) == PNG


@pytest.mark.parametrize(
    ("head", "size", "error", "fragment"),
    [
        (b"", 0, EmptyImageError, "is empty (0 bytes)"),
        (b"%PDF-1.7\n", 9, UnsupportedImageFormatError, "not a JPEG or PNG image (starts with 25 50 44 46"),
        (b"GIF89a\x01\x00", 8, UnsupportedImageFormatError, "only accepts JPEG (FF D8 FF) or PNG"),
        (png_bytes(100, 100), MAX_IMAGE_BYTES + 1, ImageTooLargeError, f"is {MAX_IMAGE_BYTES + 1} bytes"),
        (png_bytes(MIN_IMAGE_SIDE_PX - 1, 200), 500, ImageTooSmallError, "is 79x200 px"),
        (jpeg_bytes(300, 40), 500, ImageTooSmallError, "is 300x40 px"),
    ],
)
def test_rejections_name_the_object_and_the_limit(head: bytes, size: int, error: type, fragment: str) -> None:
    with pytest.raises(error) as raised:
        check_image(REF, head, size)
    message = str(raised.value)
    assert fragment in message
    assert "s3://photos-bucket/some/key.jpg (version v1)" in message
    assert (raised.value.bucket, raised.value.key, raised.value.version_id) == (
        "photos-bucket",
        "some/key.jpg",
        "v1",
    )
