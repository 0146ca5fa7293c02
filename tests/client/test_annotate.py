"""celeb.annotate: boxes land on the right pixels, nothing else is touched (generated pictures)."""

from __future__ import annotations

import io

from PIL import Image

from celeb.annotate import COLOURS, TEXT_COLOUR, BoxKind, LabeledBox, annotate, boxes_of, pixel_box
from tests.client.picture_testkit import (
    BLUE,
    RED,
    assert_outline,
    assert_region,
    close,
    open_picture,
    picture_bytes,
)

GREEN = COLOURS[BoxKind.CELEBRITY]
PINK = COLOURS[BoxKind.UNRECOGNIZED]
# 400 x 200: left .25, top .3, width .5, height .4 covers columns 100-299 and rows 60-139.
MIDDLE = LabeledBox(0.25, 0.3, 0.5, 0.4, "Jeff Bezos 99.9%")
MIDDLE_PIXELS = (100, 60, 299, 139)


def test_outline_on_the_boxs_pixels_and_nothing_else_inside_or_around():
    picture = annotate(open_picture(picture_bytes((400, 200))), [MIDDLE])

    assert picture.size == (400, 200)
    assert_outline(picture, MIDDLE_PIXELS, GREEN)
    # Inside: the face itself is untouched beyond a thin outline (at most 10 px on a 400 x 200 picture).
    assert_region(picture, (110, 70, 289, 129), BLUE)
    # Just outside the left, right and bottom edges: untouched.
    assert_region(picture, (99, 60, 99, 139), BLUE)
    assert_region(picture, (300, 60, 300, 139), BLUE)
    assert_region(picture, (100, 140, 299, 140), BLUE)
    # The label sits on the row above the box, from its left edge, in the box colour with dark text.
    assert close(picture.getpixel((100, 59)), GREEN, 0)
    assert close(picture.getpixel((99, 59)), BLUE, 0)
    label = picture.crop((100, 0, 300, 60))
    assert any(close(colour, TEXT_COLOUR, 40) for _, colour in label.getcolors(maxcolors=100_000))
    # Nothing drawn below the box or left of it.
    assert_region(picture, (0, 0, 99, 199), BLUE)
    assert_region(picture, (0, 141, 399, 199), BLUE)


def test_the_input_picture_is_left_as_it_was():
    original = open_picture(picture_bytes((400, 200)))

    annotate(original, [MIDDLE])

    assert_region(original, (0, 0, 399, 199), BLUE)


def test_box_reaching_past_the_edges_is_clamped_to_the_picture():
    # Rekognition reports faces cut by the frame with boxes beyond it: left -0.1, bottom at 1.3.
    box = LabeledBox(-0.1, 0.8, 0.3, 0.5, "cut off")

    picture = annotate(open_picture(picture_bytes((400, 200))), [box])

    assert pixel_box(box, (400, 200)) == (0, 160, 79, 199)
    assert_outline(picture, (0, 160, 79, 199), GREEN)
    assert_region(picture, (5, 165, 74, 194), BLUE)
    assert_region(picture, (80, 160, 399, 199), BLUE)


def test_box_outside_the_picture_draws_nothing():
    picture = annotate(open_picture(picture_bytes((400, 200))), [LabeledBox(1.1, 0.2, 0.3, 0.3, "gone")])

    assert_region(picture, (0, 0, 399, 199), BLUE)


def test_label_goes_below_a_box_at_the_top_edge_and_inside_a_full_height_box():
    top_box = LabeledBox(0.0, 0.0, 0.25, 0.5, "top")  # columns 0-99, rows 0-99
    full_height = LabeledBox(0.5, 0.0, 0.25, 1.0, "tall")  # columns 200-299, rows 0-199

    picture = annotate(open_picture(picture_bytes((400, 200))), [top_box, full_height])

    assert_outline(picture, (0, 0, 99, 99), GREEN)
    assert close(picture.getpixel((0, 100)), GREEN, 0)  # the label, right below
    # The label covers the top left of the outline: the other edges are whole.
    assert close(picture.getpixel((200, 0)), GREEN, 0)  # the label, inside at the top
    assert_region(picture, (298, 0, 299, 199), GREEN)
    assert_region(picture, (200, 198, 299, 199), GREEN)
    assert_region(picture, (200, 50, 201, 199), GREEN)
    assert_region(picture, (210, 100, 289, 189), BLUE)


def test_unrecognized_faces_have_their_own_colour_and_no_label():
    picture = annotate(
        open_picture(picture_bytes((400, 200))), [LabeledBox(0.25, 0.3, 0.5, 0.4, None, BoxKind.UNRECOGNIZED)]
    )

    assert_outline(picture, MIDDLE_PIXELS, PINK)
    assert_region(picture, (0, 0, 399, 59), BLUE)


def test_jpeg_is_turned_by_its_exif_orientation_as_rekognition_does():
    # Upright, the photo is 100 x 200: red top half, blue bottom half. The camera stored it turned
    # a quarter counterclockwise (200 x 100) with EXIF Orientation 6 ("rotate 90 CW to display").
    upright = Image.new("RGB", (100, 200), BLUE)
    upright.paste(RED, (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    data = _encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    # Rekognition's box is in upright coordinates: columns 20-79, rows 120-179 (the blue half).
    box = LabeledBox(0.2, 0.6, 0.6, 0.3, "upright")

    picture = annotate(open_picture(data), [box])

    assert picture.size == (100, 200)
    assert_outline(picture, (20, 120, 79, 179), GREEN)
    assert_region(picture, (30, 130, 69, 169), BLUE, tolerance=12)
    assert_region(picture, (0, 0, 99, 80), RED, tolerance=12)


def test_png_keeps_its_pixels_whatever_its_exif_says():
    # Rekognition reads no EXIF from PNG: its boxes are on the pixels as stored.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = picture_bytes((400, 200), exif=exif.tobytes())

    picture = annotate(open_picture(data), [MIDDLE])

    assert picture.size == (400, 200)
    assert_outline(picture, MIDDLE_PIXELS, GREEN)


def test_greyscale_picture_gets_a_coloured_outline():
    picture = annotate(open_picture(picture_bytes((400, 200), mode="L")), [MIDDLE])

    assert picture.mode == "RGB"
    assert_outline(picture, MIDDLE_PIXELS, GREEN)
    assert_region(picture, (110, 70, 289, 129), (BLUE[0],) * 3)


def test_transparent_png_stays_transparent_outside_the_outline():
    picture = annotate(open_picture(picture_bytes((400, 200), mode="RGBA")), [MIDDLE])

    assert picture.mode == "RGBA"
    assert picture.getpixel((150, 100))[3] == 0
    assert picture.getpixel((100, 100)) == (*GREEN, 255)


def test_boxes_of_a_result_name_each_celebrity_with_its_confidence():
    result = {
        "bucket": "b", "key": "k", "version_id": None, "unrecognized_faces": 1,
        "analyzed_at": "2026-11-26T11:29:25Z",
        "celebrities": [
            {"name": "Jeff Bezos", "id": "1", "confidence": 99.96, "face_confidence": 99.0, "urls": [],
             "known_gender": None, "bounding_box": {"width": 0.5, "height": 0.4, "left": 0.25, "top": 0.3}},
        ],
    }  # fmt: skip

    assert boxes_of(result) == [LabeledBox(0.25, 0.3, 0.5, 0.4, "Jeff Bezos 99.9%", BoxKind.CELEBRITY)]


def test_watchlist_matches_are_boxes_of_their_own_kind_named_with_person_and_similarity():
    """A match item as the watchlist function writes it, read back as `celeb` reads it."""
    from recognizer.contract import watchlist_match_items, watchlist_match_of

    result = {"bucket": "b", "key": "k", "version_id": "v1", "unrecognized_faces": 0,
              "analyzed_at": "2026-11-26T11:29:25Z", "celebrities": []}  # fmt: skip
    box = {"width": 0.2, "height": 0.4, "left": 0.7, "top": 0.2}
    face = {"outcome": "matched", "bounding_box": box,
            "matches": [{"person": "alice", "similarity": 99.37, "bounding_box": box}]}  # fmt: skip
    searched = {"bucket": "b", "key": "k", "version_id": "v1", "analyzed_at": "2026-11-26T11:29:25Z",
                "faces": [face]}  # fmt: skip
    matches = [watchlist_match_of(item) for item in watchlist_match_items(searched, 2_000_000_000)]

    boxes = boxes_of(result, matches)

    assert boxes == [LabeledBox(0.7, 0.2, 0.2, 0.4, "alice 99.3%", BoxKind.WATCHLIST)]
    picture = annotate(open_picture(picture_bytes((400, 200))), boxes)
    assert_outline(picture, (280, 40, 359, 119), COLOURS[BoxKind.WATCHLIST])
    assert COLOURS[BoxKind.WATCHLIST] not in (GREEN, PINK)


def _encode(image: Image.Image, image_format: str, **save: object) -> bytes:
    data = io.BytesIO()
    image.save(data, format=image_format, **save)
    return data.getvalue()
