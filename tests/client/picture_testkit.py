"""Generated pictures and pixel assertions for the annotated-picture tests.

Pictures are solid colours (or two solid halves), so every pixel's expected colour is known: a
box's outline must have the box colour exactly where the ratios say, and everything else must
keep the background.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

RGB = tuple[int, int, int]
BLUE: RGB = (40, 60, 200)
RED: RGB = (200, 30, 30)


def picture_bytes(
    size: tuple[int, int], colour: RGB = BLUE, *, image_format: str = "PNG", mode: str = "RGB", **save: Any
) -> bytes:
    """A solid picture, encoded (save options such as `exif=` are passed to Pillow)."""
    fill: Any = colour if mode == "RGB" else (*colour, 0) if mode == "RGBA" else colour[0]
    data = io.BytesIO()
    Image.new(mode, size, fill).save(data, format=image_format, **save)
    return data.getvalue()


def open_picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close(actual: Any, expected: RGB, tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True))


def assert_region(
    image: Image.Image, box: tuple[int, int, int, int], colour: RGB, tolerance: int = 0
) -> None:
    """Every pixel of the inclusive region (x0, y0, x1, y1) has `colour` (within `tolerance`)."""
    x0, y0, x1, y1 = box
    wrong = [
        ((x, y), image.getpixel((x, y)))
        for y in range(y0, y1 + 1)
        for x in range(x0, x1 + 1)
        if not close(image.getpixel((x, y)), colour, tolerance)
    ]
    assert not wrong, f"{len(wrong)} pixels of {box} are not {colour}, e.g. {wrong[:3]}"


def assert_outline(
    image: Image.Image, box: tuple[int, int, int, int], colour: RGB, tolerance: int = 0
) -> None:
    """The box's outermost ring of pixels, and the ring inside it (the outline is at least 2 px
    thick), have `colour`; the outline's width is the drawing's choice beyond that."""
    x0, y0, x1, y1 = box
    for inset in (0, 1):
        left, top, right, bottom = x0 + inset, y0 + inset, x1 - inset, y1 - inset
        for side in ((left, top, right, top), (left, bottom, right, bottom),
                     (left, top, left, bottom), (right, top, right, bottom)):  # fmt: skip
            assert_region(image, side, colour, tolerance)
