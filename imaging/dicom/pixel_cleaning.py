"""Take out what can hide in the pixel data besides the image.

De-identifying the header leaves the *Pixel Data* (7FE0,0010) as it is, and that element can
carry more than pixels:

* a JPEG frame (PS3.5 A.4.1, A.4.3; ISO/IEC 10918-1 B.2.4) can hold application segments
  (APP0-APP15: JFIF thumbnails, Exif with the camera owner and date, XMP) and comment
  segments (COM) with any text, and bytes after its End Of Image marker;
* a JPEG 2000 codestream (PS3.5 A.4.4; ISO/IEC 15444-1 A.9.2) can hold comment markers
  (COM, 0xFF64) in its main header and in each tile-part header, and bytes after its End Of
  Codestream marker; some writers wrap it in a JP2 file, whose boxes can hold anything;
* native pixel data (PS3.5 8.1.1) can hold a retired overlay or anything else in the bits
  above *Bits Stored*, and bytes past the end of the image.

:func:`clean_pixel_data` strips the segments, markers and boxes (the image data itself is copied
byte for byte, so the pixels decode exactly as before), sets the bits above *Bits Stored* to
what they would be in a clean image (zero for unsigned pixels; for signed pixels, the sign
extension that decoders read anyway), and cuts off what follows the image. JPEG's Adobe APP14
segment is kept when it has its fixed 12-byte form with no room for text: it says whether
the colour components were transformed, which decoders need.

RLE frames (PS3.5 G) hold only run-length segments. Other compressions (MPEG, H.264 ...)
are refused before this point, since no decoder here reads them.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames, parse_basic_offsets
from pydicom.uid import UID

from imaging.dicom.reading import header_value

__all__ = ["UncleanablePixelData", "clean_pixel_data"]

_PIXEL_DATA = 0x7FE00010
_EXTENDED_OFFSET_TABLE = 0x7FE00001
_EXTENDED_OFFSET_TABLE_LENGTHS = 0x7FE00002
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


class UncleanablePixelData(ValueError):
    """Encapsulated pixel data whose structure could not be followed to clean it."""


def clean_pixel_data(ds: Dataset) -> list[str]:
    """Clean the *Pixel Data* of `ds` in place; say what was taken out.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A data set whose ``file_meta`` holds its *Transfer Syntax UID*. An element left
        unchanged stays as it was read (raw), to be written back byte for byte.

    Returns
    -------
    list of str
        One line per kind of content removed, e.g. ``"JPEG COM segment (2 frames)"``;
        empty if the pixel data was clean.

    Raises
    ------
    UncleanablePixelData
        If an encapsulated frame does not follow the JPEG or JPEG 2000 marker syntax (a
        segment running past the frame, no end marker ...).
    """
    if _PIXEL_DATA not in ds:
        return []
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    elem = ds.get_item(_PIXEL_DATA)
    data = elem.value
    if not isinstance(data, bytes | bytearray) or not data:
        return []
    if syntax.is_encapsulated:
        return _clean_encapsulated(ds, bytes(data), elem.VR or "OB")
    return _clean_native(ds, data, syntax, elem.VR)


# -- native pixel data ------------------------------------------------------------------------


def _clean_native(ds: Dataset, data: bytes, syntax: UID, vr: str | None) -> list[str]:
    rows, columns = int(header_value(ds, "Rows") or 0), int(header_value(ds, "Columns") or 0)
    frames = int(header_value(ds, "NumberOfFrames") or 1)
    samples = int(header_value(ds, "SamplesPerPixel") or 1)
    allocated = int(header_value(ds, "BitsAllocated") or 0)
    stored = int(header_value(ds, "BitsStored") or allocated)
    signed = int(header_value(ds, "PixelRepresentation") or 0) == 1
    photometric = str(header_value(ds, "PhotometricInterpretation", "") or "").strip().upper()
    pixels = rows * columns * frames * samples
    if photometric == "YBR_FULL_422":
        pixels = pixels // 3 * 2  # two samples per pixel (PS3.3 C.7.6.3.1.2)
    expected = (pixels + 7) // 8 if allocated == 1 else pixels * (allocated // 8)
    notes = []
    new = data
    if len(data) > expected + expected % 2:
        new = data[:expected] + b"\0" * (expected % 2)
        notes.append(f"{len(data) - expected} bytes after the end of the image")
    if allocated in (8, 16, 32) and 0 < stored < allocated:
        cleaned = _unused_bits_cleared(new[:expected], allocated, stored, signed, syntax.is_little_endian)
        if cleaned is not None:
            new = cleaned + new[expected:]
            notes.append(f"bits above Bits Stored ({stored} of {allocated})")
    if notes:
        ds[_PIXEL_DATA] = DataElement(_PIXEL_DATA, vr or ("OB" if allocated <= 8 else "OW"), new)
    return notes


def _unused_bits_cleared(
    data: bytes, allocated: int, stored: int, signed: bool, little: bool
) -> bytes | None:
    """`data` with the bits above `stored` made clean, or None if they already are.

    Clean values are exactly those in the range `stored` bits can hold (0 to 2**stored - 1,
    or -2**(stored-1) to 2**(stored-1) - 1 sign-extended), so two passes over the data tell.
    """
    order, size = ("<" if little else ">"), allocated // 8
    unsigned = np.frombuffer(data, dtype=f"{order}u{size}", count=len(data) // size)
    values = unsigned.view(f"{order}i{size}") if signed else unsigned
    low, high = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
    if values.size == 0 or (values.min() >= low and values.max() <= high):
        return None
    mask = (1 << stored) - 1
    clean = unsigned & np.array(mask, dtype=f"u{size}")
    if signed:  # copy the sign bit into the bits above it
        negative = (clean >> (stored - 1)).astype(bool)
        clean[negative] |= np.array(((1 << allocated) - 1) ^ mask, dtype=f"u{size}")
    return clean.astype(f"{order}u{size}").tobytes()


# -- encapsulated pixel data ------------------------------------------------------------------


def _clean_encapsulated(ds: Dataset, data: bytes, vr: str) -> list[str]:
    frames = int(header_value(ds, "NumberOfFrames") or 1)
    offsets = None
    if _EXTENDED_OFFSET_TABLE in ds and _EXTENDED_OFFSET_TABLE_LENGTHS in ds:
        offsets = (ds[_EXTENDED_OFFSET_TABLE].value, ds[_EXTENDED_OFFSET_TABLE_LENGTHS].value)
    try:
        originals = list(generate_frames(data, number_of_frames=frames, extended_offsets=offsets))
        has_bot = bool(parse_basic_offsets(data))
    except Exception as error:
        raise UncleanablePixelData(
            f"the encapsulated pixel data cannot be split into frames ({error})"
        ) from error
    found: Counter[str] = Counter()
    cleaned = []
    for frame in originals:
        new, removed = _clean_frame(frame)
        cleaned.append(new)
        found.update(set(removed))
    rebuilt = encapsulate(cleaned, has_bot=has_bot or offsets is not None)
    if rebuilt == data:
        return []
    ds[_PIXEL_DATA] = DataElement(_PIXEL_DATA, vr, rebuilt)
    for tag in (_EXTENDED_OFFSET_TABLE, _EXTENDED_OFFSET_TABLE_LENGTHS):
        if tag in ds:
            del ds[tag]  # the offsets changed; the basic offset table now gives them
    notes = [f"{what} ({count} of {len(originals)} frames)" for what, count in found.items()]
    return notes or ["frames re-encapsulated, one fragment each"]


def _clean_frame(frame: bytes) -> tuple[bytes, list[str]]:
    if frame[:2] == b"\xff\xd8":
        return _clean_jpeg(frame)
    if frame[:2] == b"\xff\x4f":
        return _clean_j2k(frame)
    if frame[:12] == _JP2_SIGNATURE:
        cleaned, removed = _clean_j2k(_jp2_codestream(frame))
        return cleaned, ["JP2 file boxes around the JPEG 2000 codestream", *removed]
    return frame, []  # RLE: run-length segments only


def _jp2_codestream(frame: bytes) -> bytes:
    """The codestream of a frame written as a JP2 file (ISO/IEC 15444-1 I.4), not as DICOM asks.

    PS3.5 A.4.4 wants the bare codestream; some writers (GDCM among them) put the JP2 boxes
    around it, which can carry an ICC profile's text, XML and UUID boxes. The decoders read
    the colour from the DICOM header, so the codestream alone decodes to the same pixels.
    """
    at = 0
    while at + 8 <= len(frame):
        length, kind = int.from_bytes(frame[at : at + 4], "big"), frame[at + 4 : at + 8]
        start = at + 8
        if length == 1:  # the length follows in 8 bytes
            length, start = int.from_bytes(frame[at + 8 : at + 16], "big"), at + 16
        end = len(frame) if length == 0 else at + length
        if end > len(frame) or end < start:
            break
        if kind == b"jp2c":
            return frame[start:end]
        at = end
    raise UncleanablePixelData("a frame written as a JP2 file holds no contiguous codestream box")


def _segment_length(frame: bytes, at: int, what: str) -> int:
    if at + 2 > len(frame):
        raise UncleanablePixelData(f"a {what} frame ends inside a marker segment")
    length = int.from_bytes(frame[at : at + 2], "big")
    if length < 2 or at + length > len(frame):
        raise UncleanablePixelData(f"a {what} marker segment runs past the end of its frame")
    return length


def _clean_jpeg(frame: bytes) -> tuple[bytes, list[str]]:
    """A JPEG or JPEG-LS frame without APPn (but a plain Adobe APP14) and COM segments.

    Walks the marker segments (ISO/IEC 10918-1 B.1.1.3; ITU-T T.87 for JPEG-LS) and the
    entropy-coded data after each Start Of Scan, where a marker is 0xFF followed by a byte of
    0xC0 or more that is not a restart marker (0xFF00 and, in JPEG-LS, 0xFF followed by a byte
    below 0x80 are data). A frame whose last scan runs to its end without an End Of Image
    marker is taken as it is, as decoders take it.
    """
    out = [b"\xff\xd8"]
    removed: list[str] = []
    size, at = len(frame), 2
    while at < size:
        if frame[at] != 0xFF:
            raise UncleanablePixelData("a JPEG frame has no End Of Image marker where one was due")
        while at + 1 < size and frame[at + 1] == 0xFF:
            at += 1  # fill bytes before a marker
        if at + 1 >= size:
            raise UncleanablePixelData("a JPEG frame ends inside a marker")
        code = frame[at + 1]
        if code == 0xD9:  # End Of Image
            out.append(b"\xff\xd9")
            at += 2
            break
        if 0xD0 <= code <= 0xD7 or code == 0x01:  # standalone markers
            out.append(frame[at : at + 2])
            at += 2
            continue
        length = _segment_length(frame, at + 2, "JPEG")
        end = at + 2 + length
        if code == 0xFE:
            removed.append("JPEG COM segment")
        elif 0xE0 <= code <= 0xEF and not _plain_adobe_segment(frame, at, length):
            removed.append(f"JPEG APP{code - 0xE0} segment")
        else:
            out.append(frame[at:end])
        at = end
        if code == 0xDA:  # Start Of Scan: entropy-coded data up to the next marker
            scan = at
            while True:
                at = frame.find(b"\xff", at)
                if at < 0 or at + 1 >= size:
                    at = size  # no End Of Image (decoders take such a frame): it ends here
                    break
                following = frame[at + 1]
                if following >= 0xC0 and following != 0xFF and not 0xD0 <= following <= 0xD7:
                    break
                at += 1 if following == 0xFF else 2
            out.append(frame[scan:at])
    if len(frame) - at > 1:
        removed.append("bytes after a JPEG End Of Image marker")
    return b"".join(out), removed


def _plain_adobe_segment(frame: bytes, at: int, length: int) -> bool:
    """Adobe's APP14 in its fixed form: version, two flag words, the colour transform; no text."""
    return frame[at + 1] == 0xEE and length == 14 and frame[at + 4 : at + 9] == b"Adobe"


def _clean_j2k(frame: bytes) -> tuple[bytes, list[str]]:
    """A JPEG 2000 codestream without COM markers (ISO/IEC 15444-1 A.2, A.4.2, A.9.2).

    A comment taken out of a tile-part header shortens the tile-part: its length (Psot of
    the SOT marker) is corrected, and the optional tile-part lengths markers (TLM) of the
    main header, which would now be wrong, are dropped.
    """
    removed: list[str] = []
    size, at = len(frame), 2
    main: list[tuple[int, bytes]] = []
    while True:
        if at + 2 > size or frame[at] != 0xFF:
            raise UncleanablePixelData("a JPEG 2000 main header does not end in a tile-part")
        code = frame[at + 1]
        if code == 0x90:  # Start Of Tile-part
            break
        end = at + 2 + _segment_length(frame, at + 2, "JPEG 2000")
        if code == 0x64:
            removed.append("JPEG 2000 COM marker")
        else:
            main.append((code, frame[at:end]))
        at = end
    tiles: list[bytes] = []
    tile_parts_changed = False
    while True:
        if at + 2 > size or frame[at] != 0xFF:
            raise UncleanablePixelData("a JPEG 2000 codestream has no End Of Codestream marker")
        code = frame[at + 1]
        if code == 0xD9:
            at += 2
            break
        if code != 0x90 or at + 12 > size:
            raise UncleanablePixelData("a JPEG 2000 tile-part does not start with its SOT marker")
        start, psot = at, int.from_bytes(frame[at + 6 : at + 10], "big")
        stop = start + psot if psot else frame.rfind(b"\xff\xd9")
        if stop <= start + 12 or stop > size:
            raise UncleanablePixelData("a JPEG 2000 tile-part's length runs past its codestream")
        header, at, cut = [frame[start : start + 12]], start + 12, 0
        while frame[at : at + 2] != b"\xff\x93":  # Start Of Data
            if at + 2 > stop or frame[at] != 0xFF:
                raise UncleanablePixelData("a JPEG 2000 tile-part header does not end in SOD")
            end = at + 2 + _segment_length(frame, at + 2, "JPEG 2000")
            if frame[at + 1] == 0x64:
                removed.append("JPEG 2000 COM marker")
                cut += end - at
            else:
                header.append(frame[at:end])
            at = end
        if cut:
            tile_parts_changed = True
            header[0] = header[0][:6] + (psot - cut if psot else 0).to_bytes(4, "big") + header[0][10:]
        tiles.append(b"".join(header) + frame[at:stop])
        at = stop
    if tile_parts_changed and any(code == 0x55 for code, _ in main):
        main = [(code, segment) for code, segment in main if code != 0x55]
        removed.append("JPEG 2000 TLM marker (tile-part lengths changed)")
    if size - at > 1:
        removed.append("bytes after a JPEG 2000 End Of Codestream marker")
    return b"".join([b"\xff\x4f", *(segment for _, segment in main), *tiles, b"\xff\xd9"]), removed
