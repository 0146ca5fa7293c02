"""Drawing boxes and names on an image: pure functions, no AWS and no files.

Boxes are ratios of the image's width and height, as Rekognition returns them (`Left`, `Top`,
`Width`, `Height`). For a JPEG whose EXIF metadata sets an orientation, Rekognition's boxes are
those of the image *after* that orientation is applied (RecognizeCelebrities' reference:
"bounding box coordinates represent face locations after Exif metadata is used to correct the
image orientation"), so the image is turned upright first. PNG has no orientation for
Rekognition ("Images in .png format don't contain Exif metadata"): its pixels are used as stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from recognizer.contract import BoundingBox, RecognitionResult


class BoxKind(StrEnum):
    """What a box shows; each kind has its own colour."""

    CELEBRITY = "celebrity"
    UNRECOGNIZED = "unrecognized"  # a face without a match
    WATCHLIST = "watchlist"  # a face matched in the stack's own face collection


RGB = tuple[int, int, int]
# Saturated colours that stay visible on most photos; the label text is black on all three.
COLOURS: dict[BoxKind, RGB] = {
    BoxKind.CELEBRITY: (0, 230, 118),
    BoxKind.UNRECOGNIZED: (255, 64, 129),
    BoxKind.WATCHLIST: (255, 145, 0),
}
TEXT_COLOUR: RGB = (0, 0, 0)


@dataclass(frozen=True)
class LabeledBox:
    """One box to draw: ratios of the (upright) image's size, and the text above it (None: none)."""

    left: float
    top: float
    width: float
    height: float
    label: str | None
    kind: BoxKind = BoxKind.CELEBRITY

    @classmethod
    def of(cls, box: BoundingBox, label: str | None, kind: BoxKind = BoxKind.CELEBRITY) -> LabeledBox:
        """From the contract's BoundingBox (the result's shape)."""
        return cls(box["left"], box["top"], box["width"], box["height"], label, kind)


def confidence_label(name: str, confidence: float) -> str:
    # Truncated, as the tables print it: a 99.96 match must not read as a certain 100%.
    return f"{name} {math.floor(confidence * 10) / 10:.1f}%"


def boxes_of(result: RecognitionResult, watchlist: Iterable[Mapping[str, Any]] = ()) -> list[LabeledBox]:
    """The boxes to draw: each celebrity of the result, named with its match confidence, then each
    watchlist match of the same version (`watchlist_match_of`'s shape), named with its similarity.

    Results carry only the number of unrecognized faces, not their boxes, so those are not drawn.
    """
    celebrities = [
        LabeledBox.of(celebrity["bounding_box"], confidence_label(celebrity["name"], celebrity["confidence"]))
        for celebrity in result["celebrities"]
    ]
    matches = [
        LabeledBox.of(match["bounding_box"], confidence_label(match["person"], match["similarity"]),
                      BoxKind.WATCHLIST)
        for match in watchlist
    ]  # fmt: skip
    return celebrities + matches


def upright(image: Image.Image) -> Image.Image:
    """The image as Rekognition saw it: a JPEG turned by its EXIF orientation, anything else as is."""
    if image.format == "JPEG":
        # Returns a copy without the orientation tag, so nothing turns the saved picture again.
        return ImageOps.exif_transpose(image)
    return image.copy()


def line_width(size: tuple[int, int]) -> int:
    """Outline thickness in pixels: visible on a thumbnail and on a 24-megapixel photo alike."""
    return max(2, round(min(size) / 200))


def pixel_box(box: LabeledBox, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box's first and last pixel columns and rows (inclusive), clamped to the image.

    Rekognition may return a box reaching past an edge (a face cut by the frame): its visible
    part is drawn. None when nothing of it is inside the image.
    """
    width, height = size
    x0, y0 = round(box.left * width), round(box.top * height)
    x1, y1 = round((box.left + box.width) * width) - 1, round((box.top + box.height) * height) - 1
    if x1 < 0 or y1 < 0 or x0 >= width or y0 >= height or x1 < x0 or y1 < y0:
        return None
    return max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)


def annotate(image: Image.Image, boxes: Iterable[LabeledBox]) -> Image.Image:
    """A new image: `image` upright, with each box outlined in its kind's colour and its label above it.

    The outline is drawn inward from the box's edges, so the face itself is covered only by the
    outline's thickness; the label sits outside the box (above it, or below when the box touches
    the top), inside only when the box fills the image's height.
    """
    picture = upright(image)
    # Colours need a colour image; transparency is kept (a PNG stays a PNG).
    has_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    picture = picture.convert("RGBA" if has_alpha else "RGB")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(12, round(min(picture.size) / 30)))
    thickness = line_width(picture.size)
    for box in boxes:
        corners = pixel_box(box, picture.size)
        if corners is None:
            continue
        colour = COLOURS[box.kind]
        draw.rectangle(corners, outline=colour, width=thickness)
        if box.label:
            _draw_label(draw, font, box.label, corners, colour, picture.size)
    return picture


def _draw_label(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    text: str,
    corners: Sequence[int],
    colour: RGB,
    size: tuple[int, int],
) -> None:
    x0, y0, _, y1 = corners
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    padding = max(1, (bottom - top) // 5)
    label_width, label_height = right - left + 2 * padding, bottom - top + 2 * padding
    if y0 - label_height >= 0:
        label_top = y0 - label_height  # above the box
    elif y1 + 1 + label_height <= size[1]:
        label_top = y1 + 1  # below it
    else:
        label_top = y0  # the box is as tall as the image: inside, at its top
    # Shifted left when it would run off the right edge; cut when wider than the image.
    label_left = max(0, min(x0, size[0] - label_width))
    draw.rectangle(
        (label_left, label_top, label_left + label_width - 1, label_top + label_height - 1), fill=colour
    )
    draw.text((label_left + padding - left, label_top + padding - top), text, fill=TEXT_COLOUR, font=font)
