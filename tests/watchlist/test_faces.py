"""Crop geometry: ratios to pixels, clamping at the edges, faces too small, the crop's size."""

from __future__ import annotations

import io

from PIL import Image

from recognizer.contract import MIN_IMAGE_SIDE_PX
from watchlist.faces import (
    MIN_FACE_SIDE_PX,
    PixelBox,
    crop_box,
    crop_jpeg,
    crop_scale,
    face_pixels,
    plan_faces,
    searched_is_face,
)


def _box(left: float, top: float, width: float, height: float) -> dict[str, float]:
    return {"left": left, "top": top, "width": width, "height": height}


def _detail(left: float, top: float, width: float, height: float) -> dict[str, object]:
    return {"BoundingBox": {"Left": left, "Top": top, "Width": width, "Height": height}}


def test_ratios_become_pixels() -> None:
    assert face_pixels(_box(0.25, 0.1, 0.5, 0.2), 800, 600) == PixelBox(200, 60, 600, 180)


def test_boxes_reaching_past_the_edges_are_clamped() -> None:
    # Rekognition gives negative Left/Top and boxes past 1 for faces cut by the image's edge.
    assert face_pixels(_box(-0.05, -0.1, 0.2, 0.3), 1000, 500) == PixelBox(0, 0, 150, 100)
    assert face_pixels(_box(0.9, 0.8, 0.2, 0.3), 1000, 500) == PixelBox(900, 400, 1000, 500)


def test_crop_adds_the_margin_within_the_image() -> None:
    face = PixelBox(100, 100, 200, 300)
    assert crop_box(face, 1000, 1000, margin=0.4) == PixelBox(60, 20, 240, 380)
    corner = PixelBox(0, 0, 100, 100)
    assert crop_box(corner, 120, 110, margin=0.4) == PixelBox(0, 0, 120, 110)


def test_faces_under_the_minimum_get_no_crop_and_are_reported() -> None:
    width = height = 1000
    just = MIN_FACE_SIDE_PX / width
    plans = plan_faces([_detail(0.1, 0.1, just, just), _detail(0.5, 0.5, just - 0.001, 0.2)], width, height)
    assert [plan.too_small for plan in plans] == [False, True]
    assert plans[1].crop is None
    # A face cut by the edge is measured by what is inside the image.
    edge = plan_faces([_detail(0.98, 0.5, 0.1, 0.1)], width, height)[0]
    assert edge.face.width == 20 and edge.too_small


def test_a_hundred_faces_each_get_a_crop_inside_the_image() -> None:
    grid = [(col / 10 + 0.02, row / 10 + 0.02) for row in range(10) for col in range(10)]
    details = [_detail(left, top, 0.06, 0.06) for left, top in grid]
    plans = plan_faces(details, 2000, 1000)
    assert len(plans) == 100
    for plan in plans:
        assert plan.crop is not None
        assert 0 <= plan.crop.left <= plan.face.left < plan.face.right <= plan.crop.right <= 2000
        assert 0 <= plan.crop.top <= plan.face.top < plan.face.bottom <= plan.crop.bottom <= 1000


def test_small_crops_are_scaled_up_to_rekognitions_minimum_and_large_ones_down() -> None:
    image = Image.new("RGB", (3000, 3000), (128, 128, 128))
    small = PixelBox(0, 0, 50, 60)
    assert crop_scale(small) == MIN_IMAGE_SIDE_PX / 50
    decoded = Image.open(io.BytesIO(crop_jpeg(image, small)))
    assert decoded.size == (80, 96)
    large = Image.open(io.BytesIO(crop_jpeg(image, PixelBox(0, 0, 2048, 1024))))
    assert max(large.size) == 1024


def test_a_search_about_a_neighbour_is_not_this_faces() -> None:
    face, crop = PixelBox(100, 100, 200, 200), PixelBox(60, 60, 240, 240)
    centred = {"left": 40 / 180, "top": 40 / 180, "width": 100 / 180, "height": 100 / 180}
    assert searched_is_face(centred, face, crop)
    corner = {"left": 0.0, "top": 0.0, "width": 0.15, "height": 0.15}
    assert not searched_is_face(corner, face, crop)
