"""Where each face is in pixels, which faces can be searched, and the crop Rekognition gets for each.

SearchUsersByImage searches only the largest face of the image it is given, so every face DetectFaces
finds is cut out with a margin and searched on its own. Pure functions over Pillow images: no AWS.
"""

from __future__ import annotations

import io
from typing import Any, NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError

from recognizer.contract import MIN_IMAGE_SIDE_PX, BoundingBox

# Rekognition detects and searches faces down to about 40x40 pixels. A crop shows the face at its
# own size (no downscaling of a large photo), so the limit applies to the face's pixels as found.
MIN_FACE_SIDE_PX = 40
# Context around the face, as a share of the face's width/height on each side: search models look
# at the whole head; more would pull neighbours into the crop.
CROP_MARGIN = 0.4
# Plenty for a face; keeps every crop far below the 5 MB limit on image bytes.
MAX_CROP_SIDE_PX = 1024
JPEG_QUALITY = 90
# SearchedFace must overlap the face we cut out at least this much (intersection over union), else
# Rekognition searched a neighbour that the margin pulled in, and its matches are not this face's.
MIN_SEARCHED_OVERLAP = 0.3


class UnreadableImageError(ValueError):
    """The bytes are no image Pillow can decode."""


class PixelBox(NamedTuple):
    """A rectangle in pixels: left and top inclusive, right and bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def overlap(self, other: PixelBox) -> float:
        """Intersection over union, 0 to 1."""
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        if width <= 0 or height <= 0:
            return 0.0
        inter = width * height
        return inter / (self.width * self.height + other.width * other.height - inter)


class FacePlan(NamedTuple):
    bounding_box: BoundingBox  # as DetectFaces gave it (ratios of the upright image)
    face: PixelBox  # the face in the image, clamped to its edges
    crop: PixelBox | None  # None: too small to search

    @property
    def too_small(self) -> bool:
        return self.crop is None


def open_upright(data: bytes) -> Image.Image:
    """The decoded image turned as its EXIF orientation says (Rekognition's boxes are of that view)."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise UnreadableImageError(f"not a decodable image: {error}") from None
    return ImageOps.exif_transpose(image)


def ratio_box(box: Any) -> BoundingBox:
    """A Rekognition BoundingBox (Width, Height, Left, Top) in the contract's spelling."""
    box = box if isinstance(box, dict) else {}
    return {side: float(box.get(side.capitalize(), 0.0)) for side in ("width", "height", "left", "top")}  # type: ignore[return-value]


def face_pixels(box: BoundingBox, width: int, height: int) -> PixelBox:
    """The ratios in pixels, clamped to the image: boxes of faces at an edge reach past it."""
    left = _clamp(round(box["left"] * width), width)
    top = _clamp(round(box["top"] * height), height)
    right = _clamp(round((box["left"] + box["width"]) * width), width)
    bottom = _clamp(round((box["top"] + box["height"]) * height), height)
    return PixelBox(left, top, max(left, right), max(top, bottom))


def crop_box(face: PixelBox, width: int, height: int, margin: float = CROP_MARGIN) -> PixelBox:
    """The face plus `margin` of its size on every side, clamped to the image."""
    dx, dy = round(face.width * margin), round(face.height * margin)
    return PixelBox(
        max(0, face.left - dx),
        max(0, face.top - dy),
        min(width, face.right + dx),
        min(height, face.bottom + dy),
    )


def plan_faces(face_details: list[Any], width: int, height: int) -> list[FacePlan]:
    """One plan per face, in DetectFaces' order; faces under MIN_FACE_SIDE_PX get no crop."""
    plans = []
    for detail in face_details:
        box = ratio_box(detail.get("BoundingBox") if isinstance(detail, dict) else None)
        face = face_pixels(box, width, height)
        small = min(face.width, face.height) < MIN_FACE_SIDE_PX
        plans.append(FacePlan(box, face, None if small else crop_box(face, width, height)))
    return plans


def crop_scale(crop: PixelBox) -> float:
    """How much the crop is resized: up to Rekognition's 80-pixel minimum side, down to MAX_CROP_SIDE_PX."""
    shorter, longer = sorted((crop.width, crop.height))
    if shorter < MIN_IMAGE_SIDE_PX:
        return MIN_IMAGE_SIDE_PX / shorter
    if longer > MAX_CROP_SIDE_PX:
        return MAX_CROP_SIDE_PX / longer
    return 1.0


def crop_jpeg(image: Image.Image, crop: PixelBox) -> bytes:
    """The crop as JPEG bytes, resized by `crop_scale` (never under 80 pixels a side)."""
    piece = image.crop(tuple(crop)).convert("RGB")
    scale = crop_scale(crop)
    if scale != 1.0:
        # Upscaling makes the shorter side exactly the minimum; the longer one only grows.
        size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
        piece = piece.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    piece.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def face_in_crop(face: PixelBox, crop: PixelBox) -> PixelBox:
    """Where the face lies within its crop, in the crop's own (unscaled) pixels."""
    return PixelBox(
        face.left - crop.left, face.top - crop.top, face.right - crop.left, face.bottom - crop.top
    )


def searched_is_face(searched: BoundingBox, face: PixelBox, crop: PixelBox) -> bool:
    """Whether the face Rekognition searched in the crop is the one the crop was cut for."""
    return (
        face_pixels(searched, crop.width, crop.height).overlap(face_in_crop(face, crop))
        >= MIN_SEARCHED_OVERLAP
    )


def _clamp(value: int, limit: int) -> int:
    return max(0, min(limit, value))
