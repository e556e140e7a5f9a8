"""How much memory reading or rendering one image may take, and how much a given image would take.

The limit is ``settings.DECODE_MEMORY_LIMIT`` (the environment's ``DECODE_MEMORY_LIMIT``, in
bytes; 1 GiB by default), handed down to the readers as an argument: they run without Django.
It is enforced by arithmetic on what the headers declare, before anything is decoded, not by a
process per file: the estimates below are upper bounds, measured on the codecs installed here
(docs/decoding-bounds.md has the figures).
"""

from __future__ import annotations

from imaging.dicom.errors import RejectedFile

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "check_budget",
    "dicom_held_bytes",
    "frame_cost",
    "raster_cost",
]

DEFAULT_MEMORY_LIMIT = 1 << 30

#: Bytes per decoded value (one sample of one pixel) that decoding a DICOM frame and rendering it
#: take at their peak, whatever the codec: the decoder's own buffers (OpenJPEG works in 32-bit
#: integers per sample), its output, pydicom's array, the float32 steps of windowing, the 8-bit
#: image and its PNG. Measured peaks were 6-14 bytes per value (docs/decoding-bounds.md).
BYTES_PER_FRAME_VALUE = 20

#: Bytes per pixel that decoding a PNG or JPEG upload and re-encoding it take at their peak:
#: Pillow keeps RGB in 4 bytes a pixel, and orientation, mode changes and the clean copy each
#: hold one more image for a while; 16-bit grey goes through float32. Measured peaks were 10-15
#: bytes per pixel (RGB, RGBA, 16-bit grey) ...
BYTES_PER_RASTER_PIXEL = 24
#: ... and 3-4 for images of one 8-bit (or smaller) sample, which stay one byte a pixel throughout.
BYTES_PER_GREY_PIXEL = 8


def dicom_held_bytes(file_size: int, inflated_size: int | None = None) -> int:
    """What a parsed DICOM file holds in memory besides its decoded frames.

    The file's bytes and pydicom's copy of every value; for a deflated file, also the copy
    pydicom inflates from the compressed bytes (which it keeps while it parses) and the parsed
    values, both the inflated size.
    """
    if inflated_size is None:
        return 2 * file_size
    return 2 * file_size + 2 * inflated_size


def frame_cost(values: int, encoded_bytes: int = 0) -> int:
    """Peak bytes to decode and render one frame of `values` samples, from `encoded_bytes`."""
    return encoded_bytes + values * BYTES_PER_FRAME_VALUE


def raster_cost(pixels: int, components: int, precision: int) -> int:
    """Peak bytes to decode, normalise and re-encode a PNG or JPEG of `pixels` pixels, each of
    `components` samples of `precision` bits."""
    grey = components == 1 and precision <= 8
    return pixels * (BYTES_PER_GREY_PIXEL if grey else BYTES_PER_RASTER_PIXEL)


def check_budget(name: str, needed: int, limit: int, what: str) -> None:
    """Refuse `name` if `needed` bytes are over `limit`; `what` says what would need them."""
    if needed > limit:
        raise RejectedFile(
            name,
            f"{what} would need about {_mib(needed)} of memory, over the decoding limit of "
            f"{_mib(limit)} (DECODE_MEMORY_LIMIT)",
        )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"
