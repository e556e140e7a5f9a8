"""“Point to the lesion”: is a click on a frame within one of the targets drawn on it?

Everything is in the image's own pixels (x along columns, y along rows, from the top-left corner of the
frame; ``quiz.models.LesionTarget``), so the answer does not depend on how the browser showed the image.
A click counts as a hit when it lies inside a target, on its edge, or within the tolerance of its edge:
``LESION_TARGET_TOLERANCE`` times the image's width in pixels.

The geometry is plain functions on numbers; :func:`validate_target` is the one check of a target's shape
(the admin's drawing calls it too) and :func:`click_hits` the one marking of a click.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

Point = tuple[float, float]

MIN_POLYGON_POINTS = 3
# Closest-point search on an ellipse: bisection halves the bracket each step; 200 steps reach the
# precision of a float long before, whatever the ellipse's size.
ELLIPSE_BISECTION_STEPS = 200


# --- polygons ---------------------------------------------------------------------------------------


def distance_to_segment(point: Point, start: Point, end: Point) -> float:
    (px, py), (ax, ay), (bx, by) = point, start, end
    dx, dy = bx - ax, by - ay
    length_squared = dx * dx + dy * dy
    if length_squared == 0:
        return math.hypot(px - ax, py - ay)
    along = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length_squared))
    return math.hypot(px - (ax + along * dx), py - (ay + along * dy))


def distance_to_polygon_edge(point: Point, vertices: Sequence[Point]) -> float:
    """The distance from the point to the nearest edge of the (closed) polygon."""
    return min(
        distance_to_segment(point, vertices[index - 1], vertices[index]) for index in range(len(vertices))
    )


def inside_polygon(point: Point, vertices: Sequence[Point]) -> bool:
    """Even-odd rule (a ray to the right crosses the boundary an odd number of times). A point on the
    boundary may fall either way here; :func:`polygon_hit` counts the edge itself as inside."""
    x, y = point
    inside = False
    for index in range(len(vertices)):
        (ax, ay), (bx, by) = vertices[index - 1], vertices[index]
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def polygon_hit(point: Point, vertices: Sequence[Point], tolerance: float) -> bool:
    return inside_polygon(point, vertices) or distance_to_polygon_edge(point, vertices) <= tolerance


# --- ellipses ---------------------------------------------------------------------------------------


def to_ellipse_axes(point: Point, center: Point, rotation_degrees: float) -> Point:
    """The point in the ellipse's own axes. Image y grows downwards, so a positive rotation turns the
    ellipse's x axis clockwise on screen, as ``LesionTarget.rotation`` is drawn."""
    angle = math.radians(rotation_degrees)
    dx, dy = point[0] - center[0], point[1] - center[1]
    return dx * math.cos(angle) + dy * math.sin(angle), -dx * math.sin(angle) + dy * math.cos(angle)


def inside_ellipse(u: float, v: float, radius_u: float, radius_v: float) -> bool:
    return (u / radius_u) ** 2 + (v / radius_v) ** 2 <= 1


def distance_to_ellipse(u: float, v: float, radius_u: float, radius_v: float) -> float:
    """The distance from an outside point (in the ellipse's axes) to the ellipse's boundary.

    The closest point (x, y) satisfies x = a²u / (t + a²), y = b²v / (t + b²) for the one t ≥ 0 that puts
    it on the ellipse (D. Eberly, "Distance from a point to an ellipse", 2013); t is found by bisection,
    which cannot fail to converge, in the first quadrant (the ellipse is symmetric).
    """
    a, b, u, v = radius_u, radius_v, abs(u), abs(v)

    def on_ellipse(t: float) -> float:
        return (a * u / (t + a * a)) ** 2 + (b * v / (t + b * b)) ** 2 - 1

    low, high = 0.0, math.hypot(a * u, b * v)  # on_ellipse(high) <= 0: past the root
    for _ in range(ELLIPSE_BISECTION_STEPS):
        middle = (low + high) / 2
        if on_ellipse(middle) > 0:
            low = middle
        else:
            high = middle
    t = (low + high) / 2
    return math.hypot(u - a * a * u / (t + a * a), v - b * b * v / (t + b * b))


def ellipse_hit(
    point: Point, center: Point, radius_x: float, radius_y: float, rotation: float, tolerance: float
) -> bool:
    u, v = to_ellipse_axes(point, center, rotation)
    return (
        inside_ellipse(u, v, radius_x, radius_y) or distance_to_ellipse(u, v, radius_x, radius_y) <= tolerance
    )


# --- targets ----------------------------------------------------------------------------------------


def tolerance_pixels(columns: int) -> float:
    """How far outside a target a click still counts, in the image's pixels."""
    return settings.LESION_TARGET_TOLERANCE * columns


def target_hit(target, point: Point, tolerance: float) -> bool:
    """Whether the point hits one ``LesionTarget`` (any object with its fields)."""
    if target.shape == "polygon":
        return polygon_hit(point, [tuple(vertex) for vertex in target.points], tolerance)
    return ellipse_hit(
        point,
        (target.center_x, target.center_y),
        target.radius_x,
        target.radius_y,
        target.rotation or 0.0,
        tolerance,
    )


class ClickError(ValueError):
    """A click that cannot be marked: the message says what was wrong with it."""


@dataclass(frozen=True)
class Click:
    image_id: int
    frame: int
    x: float
    y: float


def check_click_inside(click: Click, *, columns: int, rows: int, frame_count: int) -> None:
    """Refuse a click that is not on the image: outside its pixels, or on a frame it does not have."""
    if not (math.isfinite(click.x) and math.isfinite(click.y)):
        raise ClickError("The click's coordinates must be numbers.")
    if not 0 <= click.frame < frame_count:
        raise ClickError(f"Frame {click.frame} is not a frame of this image (it has {frame_count}).")
    if not (0 <= click.x <= columns and 0 <= click.y <= rows):
        raise ClickError(
            f"The point ({click.x:g}, {click.y:g}) is outside the image, which is {columns} x {rows} pixels."
        )


def click_hits(click: Click, targets: Iterable, *, columns: int) -> bool:
    """A hit when the click is within any target drawn on the very image and frame clicked: a target on
    another frame, however close, does not count."""
    tolerance = tolerance_pixels(columns)
    return any(
        target_hit(target, (click.x, click.y), tolerance)
        for target in targets
        if target.image_id == click.image_id and target.frame == click.frame
    )


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_target(
    *,
    shape: str,
    columns: int,
    rows: int,
    frame_count: int = 1,
    frame: int = 0,
    points=None,
    center_x=None,
    center_y=None,
    radius_x=None,
    radius_y=None,
    rotation=0.0,
) -> None:
    """Check a target against the image it is drawn on; raises ``ValidationError`` naming each field
    that is wrong. A polygon needs at least three vertices, all on the image; an ellipse its centre on
    the image and two positive radii (it may reach past the image's edge: a lesion at the border)."""
    errors: dict[str, list[str]] = {}
    if not (isinstance(frame, int) and 0 <= frame < frame_count):
        errors["frame"] = [f"Frame {frame} is not a frame of this image (frames 0 to {frame_count - 1})."]
    if shape == "polygon":
        vertices = points if isinstance(points, list) else None
        if vertices is None or len(vertices) < MIN_POLYGON_POINTS:
            errors["points"] = [f"A polygon needs at least {MIN_POLYGON_POINTS} points, [[x, y], …]."]
        else:
            problems = []
            for number, vertex in enumerate(vertices, start=1):
                if not (isinstance(vertex, list | tuple) and len(vertex) == 2 and all(map(_number, vertex))):
                    problems.append(f"Point {number} is not a pair of numbers [x, y].")
                elif not (0 <= vertex[0] <= columns and 0 <= vertex[1] <= rows):
                    problems.append(
                        f"Point {number} ({vertex[0]:g}, {vertex[1]:g}) is outside the image "
                        f"({columns} x {rows} pixels)."
                    )
            if problems:
                errors["points"] = problems
    elif shape == "ellipse":
        for name, value in (("center_x", center_x), ("center_y", center_y)):
            if not _number(value):
                errors[name] = ["The ellipse's centre needs both coordinates."]
        if "center_x" not in errors and not 0 <= center_x <= columns:
            errors["center_x"] = [f"The centre's x ({center_x:g}) is outside the image's width ({columns})."]
        if "center_y" not in errors and not 0 <= center_y <= rows:
            errors["center_y"] = [f"The centre's y ({center_y:g}) is outside the image's height ({rows})."]
        for name, value in (("radius_x", radius_x), ("radius_y", radius_y)):
            if not (_number(value) and value > 0):
                errors[name] = ["An ellipse's radius must be a number above 0."]
        if not _number(rotation):
            errors["rotation"] = ["The rotation must be a number of degrees."]
    else:
        errors["shape"] = [f"Unknown shape {shape!r}: a target is a polygon or an ellipse."]
    if errors:
        raise ValidationError(errors)


def validate_lesion_target(target) -> None:
    """:func:`validate_target` for a ``LesionTarget`` row, against its image (loaded)."""
    image = target.image
    validate_target(
        shape=target.shape,
        columns=image.columns,
        rows=image.rows,
        frame_count=image.frame_count,
        frame=target.frame,
        points=target.points,
        center_x=target.center_x,
        center_y=target.center_y,
        radius_x=target.radius_x,
        radius_y=target.radius_y,
        rotation=target.rotation,
    )
