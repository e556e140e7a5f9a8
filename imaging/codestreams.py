"""What a compressed image says about itself, read from its headers without decoding it.

A decoder allocates what the codestream declares, not what the DICOM header or the file's size
suggests: a 3 KB JPEG can declare 20000 x 20000 pixels. So before anything is decoded, the
codestream's own frame header is read here — JPEG SOF (ISO/IEC 10918-1 B.2.2), JPEG-LS SOF55
(ISO/IEC 14495-1 C.2.2), JPEG 2000 SIZ (ISO/IEC 15444-1 A.5.1), PNG IHDR (PNG 11.2.2) — and the
codestream is walked to its end marker (JPEG EOI, JPEG 2000 EOC, PNG IEND), since decoders fill a
truncated image with grey rather than fail. Nothing here allocates more than the input's size.

Each function returns a :class:`Codestream` or raises :class:`BadCodestream` with a reason in
plain words; the callers add the file's name.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

__all__ = ["BadCodestream", "Codestream", "j2k_codestream", "jpeg_codestream", "png_codestream"]


class BadCodestream(ValueError):
    """A codestream that is truncated, malformed or does not declare its size."""


class Codestream(NamedTuple):
    """The image a codestream declares."""

    rows: int
    columns: int
    components: int  # samples per pixel
    precision: int  # bits per sample (the largest, if the components differ)


# -- JPEG and JPEG-LS -----------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
#: Start of Frame markers: SOF0-3, 5-7, 9-11, 13-15 (10918-1 B.1.1.3) and JPEG-LS SOF55 (0xF7).
#: C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frame headers.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
# A marker: 0xFF (and any fill 0xFF bytes) then a code from C0 to FE other than RST0-7 (D0-D7).
# In JPEG entropy-coded data 0xFF is followed by 0x00 (stuffing) or RSTn; in JPEG-LS data by a
# byte below 0x80. Neither matches, so the same search finds the next marker in both.
_MARKER = re.compile(rb"\xff+([\xc0-\xcf\xd8-\xfe])")


def jpeg_codestream(data: bytes, codec: str = "JPEG") -> Codestream:
    """The frame header of a JPEG or JPEG-LS codestream, once it is known to reach its EOI marker.

    `codec` names the codestream in the reasons given (``"JPEG-LS"`` ...).

    Segments are skipped by their length, so bytes that look like markers inside them (an EXIF
    thumbnail's own EOI) are not taken for markers. Bytes after EOI (padding, a trailer) are
    ignored, as decoders ignore them.
    """
    if not data.startswith(b"\xff\xd8"):
        raise BadCodestream(f"not a {codec} codestream (no Start of Image marker)")
    frame: Codestream | None = None
    scanned = False
    position = 2
    while True:
        marker = _MARKER.search(data, position)
        if marker is None:
            raise BadCodestream(
                f"the {codec} codestream is truncated (it ends before its End of Image marker)"
            )
        code, position = marker[1][0], marker.end()
        if code == _EOI:
            if frame is None or not scanned:
                raise BadCodestream(f"the {codec} codestream holds no image (End of Image before any scan)")
            return frame
        if code == _SOI:
            raise BadCodestream(f"the {codec} codestream is corrupt (a second Start of Image marker)")
        if position + 2 > len(data):
            raise BadCodestream(f"the {codec} codestream is truncated (it ends inside a marker segment)")
        (length,) = struct.unpack_from(">H", data, position)
        if length < 2 or position + length > len(data):
            raise BadCodestream(f"the {codec} codestream is truncated (it ends inside a marker segment)")
        if code in _SOF and frame is None:
            frame = _jpeg_frame_header(data[position + 2 : position + length], codec)
        elif code == _SOS:
            if frame is None:
                raise BadCodestream(f"the {codec} codestream is corrupt (a scan before the frame header)")
            scanned = True
        position += length


def _jpeg_frame_header(segment: bytes, codec: str) -> Codestream:
    """SOFn / SOF55: P (1 byte), Y and X (2 bytes each), Nf (1 byte), then the components."""
    if len(segment) < 6:
        raise BadCodestream(f"the {codec} frame header is too short")
    precision, rows, columns, components = struct.unpack_from(">BHHB", segment)
    if rows == 0:
        # Y = 0 leaves the height to a DNL marker after the first scan (10918-1 B.2.5): the size
        # could only be known by decoding.
        raise BadCodestream(f"the {codec} frame header does not declare the image height")
    if columns == 0 or components == 0 or precision == 0:
        raise BadCodestream(f"the {codec} frame header declares an empty image")
    return Codestream(rows, columns, components, precision)


# -- JPEG 2000 ------------------------------------------------------------------------------------

_SOC_SIZ = b"\xff\x4f\xff\x51"
_EOC = b"\xff\xd9"
#: The JP2 signature box (15444-1 I.5.1). DICOM asks for a bare codestream (PS3.5 A.4.4), yet some
#: writers wrap it in a JP2 file; decoders take both, so both are read here.
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def j2k_codestream(data: bytes, codec: str = "JPEG 2000") -> Codestream:
    """The SIZ marker segment of a JPEG 2000 codestream (bare, or in a JP2 file's ``jp2c`` box),
    once the codestream is known to end with its EOC marker.

    A DICOM fragment has an even length, so writers pad an odd codestream with a 0x00 or 0xFF
    byte; such padding after EOC is allowed (0xFF 0xD9 cannot occur inside JPEG 2000 packet data,
    where a 0xFF byte is followed by one below 0x90).
    """
    if data.startswith(_SOC_SIZ):
        start = 0
    elif data.startswith(_JP2_SIGNATURE) and (box := data.find(b"jp2c" + _SOC_SIZ)) > 0:
        start = box + 4
    else:
        raise BadCodestream(f"not a {codec} codestream (no SOC and SIZ markers at its start)")
    if not data[-16:].rstrip(b"\x00\xff").endswith(_EOC):  # the tail only: no copy of the frame
        raise BadCodestream(f"the {codec} codestream is truncated (it does not end with its EOC marker)")
    # SIZ: Lsiz Rsiz, Xsiz Ysiz XOsiz YOsiz (image), XTsiz YTsiz XTOsiz YTOsiz (tiles), Csiz,
    # then Ssiz XRsiz YRsiz per component.
    fixed = start + 4
    if len(data) < fixed + 38:
        raise BadCodestream(f"the {codec} SIZ marker segment is too short")
    width, height, x_offset, y_offset = struct.unpack_from(">IIII", data, fixed + 4)
    (components,) = struct.unpack_from(">H", data, fixed + 36)
    if components == 0 or len(data) < fixed + 38 + 3 * components:
        raise BadCodestream(f"the {codec} SIZ marker segment is too short")
    precision = max((data[fixed + 38 + 3 * i] & 0x7F) + 1 for i in range(components))
    columns, rows = width - x_offset, height - y_offset
    if columns <= 0 or rows <= 0:
        raise BadCodestream(f"the {codec} SIZ marker segment declares an empty image")
    return Codestream(rows, columns, components, precision)


# -- PNG ------------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Samples per pixel of each PNG color type (PNG 11.2.2): grey, RGB, palette, grey+alpha, RGBA. A
#: palette image is counted as the RGB its palette gives, which is what decoding it makes.
_PNG_COMPONENTS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def png_codestream(data: bytes) -> Codestream:
    """The IHDR chunk of a PNG, once its chunks are known to run whole up to IEND (PNG 5.3, 5.6).

    Chunk checksums are left to the decoder; bytes after IEND are ignored, as decoders ignore them.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise BadCodestream("not a PNG image (no PNG signature)")
    header: Codestream | None = None
    position = len(_PNG_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise BadCodestream("the PNG image is truncated (it ends before its IEND chunk)")
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if end > len(data):
            chunk = kind.decode("latin-1")
            raise BadCodestream(f"the PNG image is truncated (it ends inside its {chunk} chunk)")
        if header is None:
            if kind != b"IHDR" or length < 13:
                raise BadCodestream("the PNG image is corrupt (it does not start with an IHDR chunk)")
            columns, rows, depth, color_type = struct.unpack_from(">IIBB", data, position + 8)
            if rows == 0 or columns == 0 or color_type not in _PNG_COMPONENTS:
                raise BadCodestream("the PNG header declares an empty image or an unknown color type")
            header = Codestream(rows, columns, _PNG_COMPONENTS[color_type], depth)
        if kind == b"IEND":
            return header
        position = end
