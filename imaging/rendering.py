"""Rendered PNGs of stored images, made on first view and cached in storage.

Renders are kept through Django's storage API (local folder or S3 alike) under a path made of the
image's id, the preset and the frame (:func:`render_path`): neutral names, and a cache that survives
restarts and is shared by every worker.

A stored file is read within the same bounds as an upload (``settings.DECODE_MEMORY_LIMIT``, the
codestream checks: :func:`~imaging.dicom.reading.read_for_rendering`), since it may have been stored
before they existed. A frame that cannot be rendered in a window is remembered as such by a small
marker file beside its renders (:func:`failure_path`, holding the reason), so that it is answered at
once with :class:`FrameUnavailable` on every later request, by every worker and after restarts, never
decoded again; it goes with the image's renders (:func:`renders_delete`).
"""

import logging
import textwrap
from io import BytesIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import ImageDraw

from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_for_rendering
from imaging.dicom.render import png_bytes, presets_for, render_frame, thumbnail
from imaging.models import Image
from imaging.raster import read_raster

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 160
#: The error image answered for a frame that cannot be rendered: its size, and the line width of its text.
UNAVAILABLE_SIZE = (320, 240)
_UNAVAILABLE_LINE = 44
#: Renders of this many consecutive image ids share a folder.
RENDERS_PER_FOLDER = 1000


class UnknownPreset(LookupError):
    pass


class FrameUnavailable(Exception):
    """A frame that cannot be rendered (over the bounds, or its pixel data fails to decode)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def presets_of(image: Image) -> dict:
    if image.kind == Image.Kind.RASTER:
        return {"default": None}
    return presets_for(image.modality)


def render_path(image_id: int, name: str) -> str:
    """Where the render `name` (``"bone-0.png"``, ``"thumb.png"`` ...) of image `image_id` is cached.

    One folder per :data:`RENDERS_PER_FOLDER` images, not one (or two) per image: a first view
    would otherwise create a folder or two before it could store its render, and on the file
    system of the machines measured a new folder costs about 0.5 ms, as much as windowing the
    slice (bench/ingest.py: first view p50 3.9 ms, of which 1.0 ms went to those folders).
    """
    return f"{_render_folder(image_id)}/{image_id}-{name}"


def failure_path(image_id: int, preset: str, frame: int) -> str:
    """The marker that frame `frame` of image `image_id` cannot be rendered in window `preset`.

    Per window, as renders are: a file that fails to decode fails in every window (each finds out
    once), but one whose own VOI LUT is malformed fails only in the window that uses it. Named like
    a render, so :func:`renders_delete` removes it with them.
    """
    return render_path(image_id, f"{preset}-{frame}.unrenderable.txt")


def _render_folder(image_id: int) -> str:
    return f"renders/{image_id // RENDERS_PER_FOLDER}"


def renders_delete(image_ids: set[int]) -> None:
    """Delete every cached render of the images `image_ids`: one folder listing per folder."""
    folders: dict[str, set[str]] = {}
    for image_id in image_ids:
        folders.setdefault(_render_folder(image_id), set()).add(str(image_id))
    for folder, ids in folders.items():
        try:
            _, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue  # no image of this folder was ever viewed
        for file_name in files:
            if file_name.split("-", 1)[0] in ids:  # as render_path names them: "<id>-<name>"
                default_storage.delete(f"{folder}/{file_name}")


def stored_bytes(path: str) -> bytes | None:
    """The content of the stored file `path`, or None if there is none.

    Opened straight away rather than checked first: on object storage an existence check is a request
    of its own, and every view of a cached frame would pay for it.
    """
    try:
        with default_storage.open(path, "rb") as stored:
            return stored.read()
    except FileNotFoundError:
        return None


def _cached(path: str, make) -> bytes:
    content = stored_bytes(path)
    if content is not None:
        return content
    content = make()
    if not default_storage.exists(path):  # another worker may have rendered it meanwhile
        default_storage.save(path, ContentFile(content))
    return content


def _render(image: Image, frame: int, preset: str) -> PILImage.Image:
    """Frame `frame` in `preset`, or :class:`FrameUnavailable` (remembered: see the module's notes)."""
    marker = failure_path(image.pk, preset, frame)
    reason = stored_bytes(marker)
    if reason is not None:
        raise FrameUnavailable(reason.decode("utf-8", "replace"))
    with image.file.open("rb") as stored:  # a storage error is no property of the frame: not remembered
        data = stored.read()
    try:
        return _decoded(image, data, frame, preset)
    except Exception as error:
        # Decoders raise whatever their libraries raise; any error here is the file's.
        reason = error.reason if isinstance(error, RejectedFile) else f"{type(error).__name__}: {error}"
        logger.warning("image %s frame %s cannot be rendered: %s", image.pk, frame, reason, exc_info=True)
        if not default_storage.exists(marker):
            default_storage.save(marker, ContentFile(reason.encode("utf-8")))
        raise FrameUnavailable(reason) from error


def _decoded(image: Image, data: bytes, frame: int, preset: str) -> PILImage.Image:
    limit = settings.DECODE_MEMORY_LIMIT
    name = f"image {image.pk}"
    if image.kind == Image.Kind.RASTER:
        return read_raster(data, name=name, memory_limit=limit)  # the clean PNG stored at upload
    dataset = read_for_rendering(data, name=name, frame=frame, memory_limit=limit)
    return render_frame(dataset, frame, window=presets_of(image)[preset])


def _check_frame(image: Image, frame: int, preset: str) -> None:
    if preset not in presets_of(image):
        raise UnknownPreset(preset)
    if not 0 <= frame < image.frame_count:
        raise IndexError(frame)


def frame_png(image: Image, frame: int, preset: str = "default") -> bytes:
    _check_frame(image, frame, preset)
    return _cached(
        render_path(image.pk, f"{preset}-{frame}.png"),
        lambda: png_bytes(_render(image, frame, preset)),
    )


def frame_thumbnail_png(image: Image, frame: int, preset: str = "default") -> bytes:
    """A small copy of one rendered frame (same slice, same window), for the viewer to show first.

    Made from the frame's own cached render, so it is that frame scaled down and nothing else.
    """
    _check_frame(image, frame, preset)

    def make() -> bytes:
        picture = PILImage.open(BytesIO(frame_png(image, frame, preset)))  # caches the frame too
        picture.load()
        return png_bytes(thumbnail(picture, THUMBNAIL_SIZE))

    return _cached(render_path(image.pk, f"{preset}-{frame}.thumb.png"), make)


def thumbnail_png(image: Image) -> bytes:
    middle = image.frame_count // 2
    return _cached(
        render_path(image.pk, "thumb.png"),
        lambda: png_bytes(thumbnail(_render(image, middle, "default"), THUMBNAIL_SIZE)),
    )


def unavailable_png(reason: str) -> bytes:
    """A grey PNG that says the image cannot be shown, and why: what the viewer shows in its place."""
    picture = PILImage.new("L", UNAVAILABLE_SIZE, 48)
    lines = ["This image cannot be shown:", *textwrap.wrap(reason, _UNAVAILABLE_LINE)[:10]]
    ImageDraw.Draw(picture).multiline_text((10, 10), "\n".join(lines), fill=230, spacing=6)
    return png_bytes(picture)
