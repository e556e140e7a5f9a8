"""Rendered PNGs of stored images, made on first view and cached in storage.

Renders are kept through Django's storage API (local folder or S3 alike) under a path made of the
image's id, the preset and the frame (:func:`render_path`): neutral names, and a cache that survives
restarts and is shared by every worker.
"""

from io import BytesIO

import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from imaging.dicom.render import png_bytes, presets_for, render_frame, thumbnail
from imaging.models import Image

THUMBNAIL_SIZE = 160
#: Renders of this many consecutive image ids share a folder.
RENDERS_PER_FOLDER = 1000


class UnknownPreset(LookupError):
    pass


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


def _cached(path: str, make) -> bytes:
    if default_storage.exists(path):
        with default_storage.open(path, "rb") as stored:
            return stored.read()
    content = make()
    if not default_storage.exists(path):  # another worker may have rendered it meanwhile
        default_storage.save(path, ContentFile(content))
    return content


def _render(image: Image, frame: int, preset: str):
    if image.kind == Image.Kind.RASTER:
        with image.file.open("rb") as stored:
            picture = PILImage.open(BytesIO(stored.read()))
            picture.load()
        return picture
    with image.file.open("rb") as stored:
        dataset = pydicom.dcmread(stored)
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
