"""What the stack viewer needs to show a series, as plain data for ``json_script``.

Everything here is neutral by construction — image ids, frame numbers, positions, preset names
and the author's series label — except the overlays, which belong to the answer and are included
only when the caller says so (never in quiz mode before reveal).
"""

from django.urls import reverse

from imaging.models import Image, Series
from imaging.rendering import THUMBNAIL_SIZE, presets_of


def _frames(images: list[Image]) -> list[dict]:
    frames = []
    for image in images:
        for frame in range(image.frame_count):
            # Only a single-frame slice has a trustworthy position; multi-frame stacks link by index.
            position = image.slice_position if image.frame_count == 1 else None
            frames.append(
                {
                    "image": image.pk,
                    "frame": frame,
                    "width": image.columns,
                    "height": image.rows,
                    "position": position,
                }
            )
    return frames


def _overlays(images: list[Image]) -> dict[str, list[dict]]:
    """Annotations keyed by the index of their frame in the flattened stack."""
    first_index, index = {}, 0
    for image in images:
        first_index[image.pk] = index
        index += image.frame_count
    overlays: dict[str, list[dict]] = {}
    for image in images:
        for note in image.annotations.all():
            key = str(first_index[image.pk] + note.frame)
            overlays.setdefault(key, []).append(
                {
                    "kind": note.kind,
                    "x": note.x,
                    "y": note.y,
                    "tailX": note.tail_x,
                    "tailY": note.tail_y,
                    "text": note.text,
                }
            )
    return overlays


def teaching_slice_index(series: Series, frame_total: int) -> int:
    """The 0-based slice the viewer opens at: the author's choice, else the middle."""
    if series.teaching_slice and frame_total:
        return min(series.teaching_slice, frame_total) - 1
    return frame_total // 2 if frame_total else 0


def _start(frame: dict, preset: str) -> dict:
    """The teaching frame, with the URL of its full render and of the small copy the viewer shows first
    (the same URL when the frame is no larger than a thumbnail: nothing to save by fetching it twice)."""
    args = [frame["image"], preset, frame["frame"]]
    src = reverse("image_frame", args=args)
    small = max(frame["width"], frame["height"]) <= THUMBNAIL_SIZE
    return {**frame, "src": src, "thumbnail": src if small else reverse("image_frame_thumbnail", args=args)}


def series_stack(series: Series, *, with_overlays: bool) -> dict:
    images = list(series.images.all())
    frames = _frames(images)
    presets = list(presets_of(images[0])) if images else ["default"]
    preset = series.teaching_preset if series.teaching_preset in presets else presets[0]
    start = teaching_slice_index(series, len(frames))
    return {
        "series": series.pk,
        "element_id": f"stack-{series.pk}",
        "label": series.label,
        "frames": frames,
        "presets": presets,
        "teaching": {"preset": preset, "slice": start, "zoom": series.teaching_zoom},
        "start": _start(frames[start], preset) if frames else None,
        # PNG/JPEG uploads have no stored values for the viewer to window: their PNGs serve.
        "png_only": [image.pk for image in images if image.kind == Image.Kind.RASTER],
        "overlays": _overlays(images) if with_overlays else {},
        "captions": {},
    }


ZOOM_RANGE = (0.5, 8.0)


def teaching_view_errors(
    series: Series | None, *, slice_number: int | None, zoom: float | None
) -> dict[str, str]:
    """What is wrong with a teaching view, by field; a new series has no slices to check yet."""
    errors = {}
    if zoom is not None and not ZOOM_RANGE[0] <= zoom <= ZOOM_RANGE[1]:
        errors["teaching_zoom"] = f"Zoom must be between {ZOOM_RANGE[0]:g} and {ZOOM_RANGE[1]:g}."
    if slice_number is not None:
        total = sum(image.frame_count for image in series.images.all()) if series else 0
        if slice_number < 1:
            errors["teaching_slice"] = "Slices count from 1."
        elif slice_number > total:
            errors["teaching_slice"] = f"This series has {total} slice(s); choose 1 to {total}."
    return errors
