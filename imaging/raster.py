"""Accept PNG and JPEG uploads (photos of films, key images, diagrams) safely.

:func:`read_raster` checks that the bytes really are a PNG or JPEG, refuses images whose
declared size is too large (or would need more than the decoding memory limit) and files cut
short before their end marker, before decoding them; decodes them fully (so corrupt files are
caught on upload), applies the EXIF orientation and normalises the mode to ``"L"`` or ``"RGB"``.
:func:`reencode_png` writes a fresh PNG without any of the original's metadata (text chunks,
EXIF, ICC profile, comments), which may carry names, dates or locations.
"""

from __future__ import annotations

import contextlib
import warnings
from io import BytesIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from imaging.codestreams import BadCodestream, jpeg_codestream, png_codestream
from imaging.decode_budget import DEFAULT_MEMORY_LIMIT, check_budget, raster_cost
from imaging.dicom.errors import RejectedFile

__all__ = ["JPEG_MAGIC", "PNG_MAGIC", "read_raster", "reencode_png"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

# Errors Pillow raises for files that are malformed, truncated or hostile.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError)


_CODESTREAM_READERS = {"PNG": png_codestream, "JPEG": jpeg_codestream}


def read_raster(
    data: bytes, *, name: str, max_pixels: int = 50_000_000, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> Image.Image:
    """Decode an uploaded PNG or JPEG into an ``"L"`` or ``"RGB"`` image.

    Parameters
    ----------
    data : bytes
        The complete uploaded file.
    name : str
        The name it was uploaded under; used in error messages only.
    max_pixels : int, optional
        The largest accepted width x height (default 50 million), checked on the header
        before the image is decoded.
    memory_limit : int, optional
        The most memory, in bytes, that decoding and re-encoding the image may take
        (``settings.DECODE_MEMORY_LIMIT``; default 1 GiB), checked on the header too.

    Returns
    -------
    PIL.Image.Image
        A fully loaded image in mode ``"L"`` (grayscale sources) or ``"RGB"``, turned
        upright according to its EXIF orientation. Transparency is flattened onto black.

    Raises
    ------
    RejectedFile
        If the file is empty, is not a PNG or JPEG by its content (whatever its name; an
        HTML or SVG page named ``.png`` is refused), declares more than `max_pixels`
        pixels or more than `memory_limit` can decode (decompression bomb), ends before its
        end marker (JPEG EOI, PNG IEND: decoders fill the rest with grey), or is corrupt.
    """
    if not data:
        raise RejectedFile(name, "the file is empty")
    expected = _sniff(data)
    if expected is None:
        raise RejectedFile(name, _not_an_image_reason(data))
    try:
        declared = _CODESTREAM_READERS[expected](data)
    except BadCodestream as exc:
        raise RejectedFile(name, str(exc)) from None
    _check_size(name, declared.columns, declared.rows, max_pixels)
    check_budget(
        name,
        len(data) + raster_cost(declared.rows * declared.columns, declared.components, declared.precision),
        memory_limit,
        f"decoding this {declared.columns} x {declared.rows} {expected} image",
    )

    with warnings.catch_warnings():
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that; treat
        # both as refusals, without changing the process-wide limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=[expected])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise RejectedFile(name, f"the image is too large to process ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise RejectedFile(name, f"not a readable {expected} image") from exc
        except _DECODE_ERRORS as exc:
            raise RejectedFile(name, f"the {expected} image is corrupt ({exc})") from exc

        if image.size != (declared.columns, declared.rows):  # Pillow read another header
            raise RejectedFile(name, f"the {expected} image is corrupt (its size is declared twice)")

        try:
            image.verify()  # structure and checksums; leaves the image unusable
            image = Image.open(BytesIO(data), formats=[expected])
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise RejectedFile(name, f"the image is too large to process ({exc})") from exc
        except _DECODE_ERRORS as exc:
            raise RejectedFile(name, f"the {expected} image is truncated or corrupt ({exc})") from exc

    with contextlib.suppress(*_DECODE_ERRORS):  # a bad orientation tag is no reason to refuse
        image = ImageOps.exif_transpose(image) or image
    return _normalise_mode(image)


def reencode_png(image: Image.Image) -> bytes:
    """Write `image` as a new PNG that carries pixels only.

    Parameters
    ----------
    image : PIL.Image.Image
        Normally the result of :func:`read_raster`; other modes are normalised to
        ``"L"`` or ``"RGB"`` first.

    Returns
    -------
    bytes
        A PNG with only the IHDR, IDAT and IEND chunks: no text, EXIF, ICC profile,
        gamma or time chunks.
    """
    image = _normalise_mode(image)
    # A brand-new image from the raw pixels has an empty .info, so nothing is copied over.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    buffer = BytesIO()
    clean.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


# -- helpers --------------------------------------------------------------------------------


def _check_size(name: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise RejectedFile(
            name,
            f"the image is too large: {width} x {height} = {width * height:,} pixels, "
            f"over the limit of {max_pixels:,}",
        )


def _sniff(data: bytes) -> str | None:
    if data.startswith(PNG_MAGIC):
        return "PNG"
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    return None


def _not_an_image_reason(data: bytes) -> str:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or b"<svg" in head:
        return "not a PNG or JPEG image (it is an SVG drawing, which is not accepted)"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "not a PNG or JPEG image (it is an HTML page)"
    if head.startswith(b"<"):
        return "not a PNG or JPEG image (it is XML or HTML text)"
    return "not a PNG or JPEG image"


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Return an ``"L"`` or ``"RGB"`` version of `image` (alpha flattened onto black)."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grayscale PNG: Pillow's convert("L") clips at 255; scale instead.
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        scaled = np.clip(values * np.float32(255.0 / peak) + np.float32(0.5), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, "L")
    if mode == "F":
        return image.convert("L")
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode == "PA":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La"):
        background = Image.new("L", image.size, 0)
        background.paste(image.convert("L"), mask=image.getchannel("A"))
        return background
    if mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", image.size, (0, 0, 0))
        background.paste(image.convert("RGB"), mask=image.getchannel("A"))
        return background
    return image.convert("RGB")  # CMYK, YCbCr, LAB, ...
