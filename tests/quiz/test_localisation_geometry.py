"""Hit-testing of a click against targets, in image pixels: polygons (inside, on the edge, within the
tolerance), rotated ellipses, targets at the image's edges, the frame clicked; and the checks of a
target and a click that name what is wrong."""

import math
import re
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from quiz.localisation import (
    Click,
    ClickError,
    check_click_inside,
    click_hits,
    distance_to_ellipse,
    ellipse_hit,
    polygon_hit,
    tolerance_pixels,
    validate_target,
)

SQUARE = [(10, 10), (30, 10), (30, 30), (10, 30)]
# A concave "L": the notch (25, 25) is outside it, though inside its bounding box.
L_SHAPE = [(0, 0), (20, 0), (20, 10), (10, 10), (10, 30), (0, 30)]


@pytest.mark.parametrize(
    ("point", "hit"),
    [
        ((20, 20), True),  # inside
        ((10, 20), True),  # on an edge
        ((30, 30), True),  # on a vertex
        ((31, 20), True),  # 1 px out, within 1.5
        ((31.6, 20), False),  # 1.6 px out
        ((31, 31), True),  # diagonal from a corner: √2 ≈ 1.41 px
        ((32, 32), False),  # √8 ≈ 2.83 px
    ],
)
def test_a_polygon_is_hit_inside_on_its_edge_and_within_the_tolerance(point, hit):
    assert polygon_hit(point, SQUARE, tolerance=1.5) is hit


def test_a_concave_polygon_is_missed_in_its_notch():
    assert polygon_hit((5, 25), L_SHAPE, tolerance=0)
    assert not polygon_hit((15, 25), L_SHAPE, tolerance=0)
    assert polygon_hit((15, 25), L_SHAPE, tolerance=5)  # 5 px from the inner edge x = 10


def test_a_polygon_along_the_image_edge_is_hit_on_the_edge_pixel():
    """A lesion at the border: a target drawn along x = 0 and y = 0 catches a click on the very edge."""
    at_corner = [(0, 0), (12, 0), (0, 12)]
    assert polygon_hit((0, 0), at_corner, tolerance=0)
    assert polygon_hit((0, 6), at_corner, tolerance=0)
    assert polygon_hit((6, 0), at_corner, tolerance=0)
    assert not polygon_hit((8, 8), at_corner, tolerance=0)  # beyond the hypotenuse (x + y = 12)


@pytest.mark.parametrize(
    ("point", "hit"),
    [
        ((50, 50), True),  # centre
        ((50 + 20 * math.cos(math.radians(30)), 50 + 20 * math.sin(math.radians(30))), True),  # long axis end
        ((70, 50), False),  # where the long axis would end unrotated: outside the rotated ellipse
        ((50 - 5 * math.sin(math.radians(30)), 50 + 5 * math.cos(math.radians(30))), True),  # short axis end
        ((50 - 6.9 * math.sin(math.radians(30)), 50 + 6.9 * math.cos(math.radians(30))), True),  # 1.9 px
        ((50 - 7.5 * math.sin(math.radians(30)), 50 + 7.5 * math.cos(math.radians(30))), False),  # 2.5 px
    ],
)
def test_a_rotated_ellipse_turns_clockwise_on_screen(point, hit):
    """Semi-axes 20 and 5 rotated by 30°: image y grows downwards, so the long axis points down-right."""
    assert ellipse_hit(point, (50, 50), 20, 5, 30, tolerance=2) is hit


def test_the_distance_to_an_ellipse_is_the_true_distance():
    assert distance_to_ellipse(23, 0, 20, 5) == pytest.approx(3)
    assert distance_to_ellipse(0, -9, 20, 5) == pytest.approx(4)
    # Near the end of the long axis the closest point is not on a line to the centre: compare with a
    # dense sampling of the boundary.
    u, v = 19, 4
    sampled = min(
        math.hypot(u - 20 * math.cos(t), v - 5 * math.sin(t))
        for t in (i * 2 * math.pi / 200_000 for i in range(200_000))
    )
    assert distance_to_ellipse(u, v, 20, 5) == pytest.approx(sampled, abs=1e-4)


def test_an_ellipse_cut_by_the_image_edge_is_hit_at_the_edge():
    """Centre 3 px from the left edge, radius 10: the part of the lesion on the image is still a target."""
    assert ellipse_hit((0, 32), (3, 32), 10, 6, 0, tolerance=0)
    assert not ellipse_hit((0, 38.5), (3, 32), 10, 6, 0, tolerance=0)


def target(**fields):
    defaults = {"image_id": 1, "frame": 0, "rotation": 0}
    return SimpleNamespace(**{**defaults, **fields})


def test_only_targets_on_the_frame_clicked_count():
    on_frame_two = target(frame=2, shape="polygon", points=[[10, 10], [30, 10], [30, 30], [10, 30]])
    on_other_image = target(image_id=9, shape="ellipse", center_x=20, center_y=20, radius_x=5, radius_y=5)
    targets = [on_frame_two, on_other_image]
    assert click_hits(Click(1, 2, 20, 20), targets, columns=64)
    assert not click_hits(Click(1, 1, 20, 20), targets, columns=64)  # same image, the frame before
    assert not click_hits(Click(1, 0, 20, 20), targets, columns=64)
    assert click_hits(Click(9, 0, 20, 20), targets, columns=64)


def test_the_tolerance_is_a_share_of_the_image_width(settings):
    square = target(shape="polygon", points=[[10, 10], [30, 10], [30, 30], [10, 30]])
    settings.LESION_TARGET_TOLERANCE = 0.02
    assert tolerance_pixels(200) == pytest.approx(4)
    assert click_hits(Click(1, 0, 33.9, 20), [square], columns=200)
    assert not click_hits(Click(1, 0, 34.1, 20), [square], columns=200)
    assert not click_hits(Click(1, 0, 33.9, 20), [square], columns=100)  # 2 px on a narrower image
    settings.LESION_TARGET_TOLERANCE = 0.05
    assert click_hits(Click(1, 0, 39.9, 20), [square], columns=200)
    settings.LESION_TARGET_TOLERANCE = 0
    assert not click_hits(Click(1, 0, 30.01, 20), [square], columns=200)
    assert click_hits(Click(1, 0, 30, 20), [square], columns=200)  # the edge itself


@pytest.mark.parametrize(
    ("click", "message"),
    [
        (Click(1, 0, -0.5, 10), "outside the image, which is 64 x 48 pixels"),
        (Click(1, 0, 10, 48.5), "outside the image"),
        (Click(1, 0, 64.01, 0), "outside the image"),
        (Click(1, 3, 10, 10), "Frame 3 is not a frame of this image (it has 2)"),
        (Click(1, 0, math.nan, 10), "must be numbers"),
    ],
)
def test_a_click_off_the_image_is_refused_naming_why(click, message):
    with pytest.raises(ClickError, match=re.escape(message)):
        check_click_inside(click, columns=64, rows=48, frame_count=2)


def test_a_click_on_the_last_pixel_edge_is_on_the_image():
    check_click_inside(Click(1, 1, 64, 48), columns=64, rows=48, frame_count=2)
    check_click_inside(Click(1, 0, 0, 0), columns=64, rows=48, frame_count=2)


def errors_of(**fields) -> dict:
    with pytest.raises(ValidationError) as raised:
        validate_target(columns=64, rows=48, **fields)
    return raised.value.message_dict


def test_validate_target_names_what_is_wrong():
    assert "at least 3 points" in errors_of(shape="polygon", points=[[1, 1], [2, 2]])["points"][0]
    outside = errors_of(shape="polygon", points=[[1, 1], [70, 2], [3, 50]])["points"]
    assert outside == [
        "Point 2 (70, 2) is outside the image (64 x 48 pixels).",
        "Point 3 (3, 50) is outside the image (64 x 48 pixels).",
    ]
    assert "pair of numbers" in errors_of(shape="polygon", points=[[1, 1], [2, "a"], [3, 3]])["points"][0]
    ellipse = errors_of(shape="ellipse", center_x=65, center_y=10, radius_x=0, radius_y=-1)
    assert set(ellipse) == {"center_x", "radius_x", "radius_y"}
    assert "outside the image's width (64)" in ellipse["center_x"][0]
    assert set(errors_of(shape="ellipse", center_x=None, center_y=5, radius_x=2, radius_y=2)) == {"center_x"}
    assert "frame" in errors_of(shape="ellipse", frame=1, center_x=5, center_y=5, radius_x=2, radius_y=2)
    assert "shape" in errors_of(shape="circle")


def test_validate_target_accepts_targets_at_the_edges():
    validate_target(shape="polygon", columns=64, rows=48, points=[[0, 0], [64, 0], [64, 48]])
    # An ellipse may reach past the border as long as its centre is on the image.
    validate_target(shape="ellipse", columns=64, rows=48, center_x=0, center_y=48, radius_x=10, radius_y=4)
    validate_target(
        shape="ellipse",
        columns=64,
        rows=48,
        frame_count=3,
        frame=2,
        center_x=5,
        center_y=5,
        radius_x=1,
        radius_y=1,
        rotation=-45,
    )
