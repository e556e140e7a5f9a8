"""Parse and validate uploaded DICOM files.

:func:`read_dicom` turns the bytes of one upload into a :class:`pydicom.dataset.Dataset`
that is known to hold decodable pixel data, or raises
:class:`~imaging.dicom.errors.RejectedFile` with a reason a person can act on. The cheap
checks (is it DICOM, is there an image, is the transfer syntax decodable here, is the
image a plausible size) all run on the header, before any pixel data is decoded, so a
decompression bomb is refused without being expanded.

Decoding is bounded (docs/decoding-bounds.md): a deflated data set is inflated once, counting
and dropping the bytes, up to a ceiling, before pydicom inflates it; every compressed frame's
own header (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ) must declare the image the DICOM header
declares, and its codestream must reach its end marker; and what reading and rendering a frame
would take must fit in the memory limit. :func:`read_for_rendering` applies the same bounds to
a stored file, for the one frame to be rendered.

:func:`sort_key` orders the slices of a series.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from io import BytesIO

import pydicom
from pydicom.charset import default_encoding
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames, get_frame
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import read_dataset, read_preamble
from pydicom.hooks import hooks
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)
from pydicom.valuerep import AMBIGUOUS_VR
from pydicom.values import converters

from imaging.codestreams import BadCodestream, Codestream, j2k_codestream, jpeg_codestream
from imaging.decode_budget import DEFAULT_MEMORY_LIMIT, check_budget, dicom_held_bytes, frame_cost
from imaging.dicom.errors import RejectedFile

__all__ = ["PIXEL_DATA_KEYWORDS", "header_value", "read_dicom", "read_for_rendering", "sort_key"]

#: The elements that can hold an image (PS3.3 C.7.6.3, C.7.6.3.1.11).
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

# A data set written without the 128-byte preamble and 'DICM' prefix (PS3.10 7.1) starts
# directly with its first element: in practice group 0x0002 (file meta) or 0x0008 (the
# first group of every composite IOD), little or big endian.
_RAW_DATASET_STARTS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")

# Bytes per value of the binary number VRs (US, FL ...), from pydicom's own converters.
_NUMBER_SIZES = {
    vr: struct.calcsize("=" + converter[1])
    for vr, converter in converters.items()
    if isinstance(converter, tuple) and converter[1]
}

_ENCODING_TO_SYNTAX = {
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
}

#: How the header of each compressed transfer syntax's frames is read: an allow-list. RLE frames
#: declare no size of their own (the decoder fills Rows x Columns); any other compressed syntax
#: a decoder may come to handle is refused until its codestream can be read here.
_CODESTREAM_READERS = {
    **{UID(uid): ("JPEG", jpeg_codestream) for uid in JPEGTransferSyntaxes},
    **{UID(uid): ("JPEG-LS", jpeg_codestream) for uid in JPEGLSTransferSyntaxes},
    **{UID(uid): ("JPEG 2000", j2k_codestream) for uid in JPEG2000TransferSyntaxes},
    RLELossless: ("RLE", None),
}

#: The default largest Rows x Columns x Number of Frames x Samples per Pixel (see :func:`read_dicom`).
MAX_PIXELS = 200_000_000
_TRANSFER_SYNTAX_UID = 0x00020010
# A deflated data set is inflated in pieces of this much input, at most this much output at a time.
_INFLATE_INPUT = 64 * 1024
_INFLATE_OUTPUT = 64 * 1024


def read_dicom(
    data: bytes, *, name: str, max_pixels: int = MAX_PIXELS, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> Dataset:
    """Parse one uploaded DICOM file and check that its image can be shown.

    Parameters
    ----------
    data : bytes
        The complete content of the uploaded file.
    name : str
        The name it was uploaded under; used in error messages only.
    max_pixels : int, optional
        The largest accepted *Rows* x *Columns* x *Number of Frames* x *Samples per
        Pixel*. Checked on the header before anything is decoded (default 200 million).
    memory_limit : int, optional
        The most memory, in bytes, that reading the file and decoding and rendering any one of
        its frames may take (``settings.DECODE_MEMORY_LIMIT``; default 1 GiB), checked before
        anything is inflated or decoded.

    Returns
    -------
    pydicom.dataset.Dataset
        The parsed data set. Its ``file_meta`` always holds a *Transfer Syntax UID*,
        inferred from the encoding for a file written without file meta information.

    Raises
    ------
    RejectedFile
        If the file is empty, is not DICOM, is truncated or corrupt, holds no image,
        uses a transfer syntax that no installed decoder handles, declares an image
        larger than `max_pixels`, holds a compressed frame whose own header disagrees with
        the DICOM header or that is cut short, would need more than `memory_limit` to read
        or render, or if its pixel data fails to decode.

    Notes
    -----
    Files without the PS3.10 preamble and ``DICM`` prefix are read only when they start
    like a DICOM data set (group 0002 or 0008 first), so arbitrary files are not forced
    through the parser. Every frame is decoded once, one at a time, to prove that the
    pixel data is sound; the decoded frames are not kept.
    """
    ds, dimensions, held = _open(data, name, max_pixels, memory_limit)
    _check_frames(ds, name, dimensions, held=held, memory_limit=memory_limit)
    _check_decodes(ds, name, dimensions)
    return ds


def read_for_rendering(
    data: bytes, *, name: str, frame: int, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> Dataset:
    """Parse a stored DICOM file to render its frame `frame`, within the bounds of :func:`read_dicom`.

    Nothing is decoded: the file was decoded in full when it was accepted, but it may have been
    stored before these bounds existed, or under a larger limit. So the deflate ceiling, the
    header checks and, for the frame to be rendered, its codestream's header and the memory
    its decoding and rendering take, are checked again.

    Raises
    ------
    RejectedFile
        As :func:`read_dicom` does, for any of those bounds, or if `frame` is not in the file.
    """
    # Every element was checked when the file was accepted (a third of the time of reading it);
    # one that fails to convert now fails the render, which is remembered like any other failure.
    ds, dimensions, held = _open(data, name, MAX_PIXELS, memory_limit, check_elements=False)
    if not 0 <= frame < dimensions[2]:
        raise RejectedFile(name, f"frame {frame + 1} is not in the file: it has {dimensions[2]} frame(s)")
    _check_frames(ds, name, dimensions, held=held, memory_limit=memory_limit, only=frame)
    return ds


def _open(
    data: bytes, name: str, max_pixels: int, memory_limit: int, *, check_elements: bool = True
) -> tuple[Dataset, tuple, int]:
    """The parsed data set, its checked dimensions, and the memory it holds once parsed."""
    if not data:
        raise RejectedFile(name, "the file is empty")

    inflated = _check_inflated_size(data, name, memory_limit)
    ds = _parse(data, name, check_elements=check_elements)
    _ensure_transfer_syntax(ds)

    if not any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS):
        raise RejectedFile(
            name,
            "the file holds no image (no Pixel Data): it is truncated, or it is a report, RT plan "
            "or other non-image DICOM object, which are not accepted",
        )

    dimensions = _check_size(ds, name, max_pixels)
    _check_decoder(ds, name)
    return ds, dimensions, dicom_held_bytes(len(data), inflated)


def header_value(ds: Dataset, keyword: str, default: object = None) -> object:
    """``ds.get(keyword, default)``, without converting the element in `ds`.

    A raw element (see :func:`_check_elements`) stays raw in `ds`, so that it is written back
    as it was read: its value is converted on the side, as pydicom converts it. Meant for the
    coded and numeric header fields the ingest reads (UIDs, code strings, image dimensions);
    an element whose VR is ambiguous (``US or SS`` ...) is converted in place, by ``ds.get``.
    """
    tag = tag_for_keyword(keyword)
    elem = ds.get_item(tag) if tag is not None else None
    if elem is None:
        return default
    if elem.is_raw:
        elem = convert_raw_data_element(elem, encoding=ds.original_character_set or default_encoding, ds=ds)
        if elem.VR in AMBIGUOUS_VR:
            return ds.get(keyword, default)
    return elem.value


def sort_key(ds: Dataset) -> float:
    """Return a number that orders the slices (instances) of one series.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        One instance of the series.

    Returns
    -------
    float
        *Instance Number* (0020,0013) when present; otherwise the position of the slice
        along the slice normal, that is *Image Position (Patient)* (0020,0032) projected
        on the cross product of the row and column direction cosines of *Image
        Orientation (Patient)* (0020,0037) (PS3.3 C.7.6.2.1.1); otherwise ``0.0``.

    Notes
    -----
    Use one rule for a whole series: a series in which only some instances carry an
    *Instance Number* mixes the two scales.
    """
    number = _to_float(_number_text(ds, "InstanceNumber"))
    if number is not None:
        return number
    position = slice_position(ds)
    return position if position is not None else 0.0


def slice_position(ds: Dataset) -> float | None:
    """Return the slice's position in millimetres along its normal, or ``None``.

    The projection of *Image Position (Patient)* (0020,0032) on the cross product of the
    row and column direction cosines of *Image Orientation (Patient)* (0020,0037)
    (PS3.3 C.7.6.2.1.1). Two series in the same frame of reference (a T1 and a T2 of one
    study) can be scrolled together by matching these positions.
    """
    position = _floats(_number_text(ds, "ImagePositionPatient"), 3)
    orientation = _floats(_number_text(ds, "ImageOrientationPatient"), 6)
    if position is None or orientation is None:
        return None
    row, col = orientation[:3], orientation[3:]
    normal = (
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    )
    return float(sum(p * n for p, n in zip(position, normal, strict=True)))


def _number_text(ds: Dataset, keyword: str) -> object:
    """A DS or IS element's value for :func:`_to_float` / :func:`_floats`, cheaply.

    A raw element gives its text, split at the backslashes, as is (float() reads a decimal or
    integer string as pydicom does, which on top builds and validates an object per value); a
    converted element gives its value. The element stays as it is in `ds`.
    """
    tag = tag_for_keyword(keyword)
    elem = ds.get_item(tag) if tag is not None else None
    if elem is None:
        return None
    vr = elem.VR if elem.VR is not None or not elem.is_raw else dictionary_VR(tag)
    if not elem.is_raw or elem.value is None or vr not in ("DS", "IS"):
        return ds.get(keyword)
    parts = elem.value.decode(default_encoding).strip(" \0").split("\\")
    return parts[0] if len(parts) == 1 else parts


# -- parsing -----------------------------------------------------------------------------


def _parse(data: bytes, name: str, *, check_elements: bool = True) -> Dataset:
    try:
        ds = pydicom.dcmread(BytesIO(data), force=False)
    except InvalidDicomError:
        # No preamble/prefix. Accept a bare data set only if it starts like one.
        if data[:2] not in _RAW_DATASET_STARTS:
            raise RejectedFile(name, "not a DICOM file") from None
        try:
            ds = pydicom.dcmread(BytesIO(data), force=True)
        except Exception as exc:
            raise RejectedFile(name, f"not a readable DICOM file ({_short(exc)})") from exc
    except Exception as exc:
        raise RejectedFile(name, f"the file is truncated or corrupt ({_short(exc)})") from exc

    try:
        count = _check_elements(ds) if check_elements else len(ds)
    except Exception as exc:
        raise RejectedFile(name, f"the DICOM header is corrupt ({_short(exc)})") from exc
    if count == 0:
        if data[128:132] == b"DICM":
            raise RejectedFile(name, "the file is truncated (it ends after the DICOM file header)")
        raise RejectedFile(name, "not a DICOM file (no data elements)")
    return ds


def _check_elements(ds: Dataset) -> int:
    """Refuse, here, an element that would fail to convert later; return the number of elements.

    pydicom converts an element's value lazily, when it is first asked for, and the ingest keeps
    every element that no de-identification rule changes in its raw (undecoded) form, to write it
    back byte for byte. So the conversion is not done here, only its checks that can fail: a VR
    pydicom does not know, and a binary number whose length is not a whole number of values. Every
    sequence is parsed, at every nesting level, since de-identification walks them all. The VR is
    found by pydicom's own rule (``hooks.raw_element_vr``), as the conversion would find it.
    """
    count = 0
    for tag in list(ds.keys()):
        count += 1
        elem = ds.get_item(tag)
        if elem.is_raw:
            vr = elem.VR
            if vr is None or vr == "UN":  # else the hook gives the VR as read
                found: dict = {}
                hooks.raw_element_vr(elem, found, ds=ds)
                vr = found["VR"]
            if vr not in converters:
                raise NotImplementedError(f"unknown Value Representation {vr!r} in tag {tag}")
            size = _NUMBER_SIZES.get(vr)
            if size and elem.length % size:
                raise BytesLengthException(
                    f"{tag} ({vr}) has {elem.length} bytes, not a whole number of {size}-byte values"
                )
            if vr != "SQ":
                continue
            elem = ds[tag]  # parses the items
        if elem.VR == "SQ":
            for item in elem.value or []:
                count += _check_elements(item)
    return count


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Give a data set read without file meta the transfer syntax it was encoded in."""
    if not isinstance(getattr(ds, "file_meta", None), FileMetaDataset):
        ds.file_meta = FileMetaDataset()
    if ds.file_meta.get("TransferSyntaxUID"):
        return
    syntax = _ENCODING_TO_SYNTAX.get(tuple(ds.original_encoding))
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax


def _check_size(ds: Dataset, name: str, max_pixels: int) -> tuple[int, int, int, int]:
    """Rows, columns, frames and samples per pixel, once checked."""
    try:
        rows = int(header_value(ds, "Rows") or 0)
        columns = int(header_value(ds, "Columns") or 0)
        frames = int(header_value(ds, "NumberOfFrames") or 1)
        samples = int(header_value(ds, "SamplesPerPixel") or 1)
    except (TypeError, ValueError) as exc:
        raise RejectedFile(name, f"the image dimensions are not valid numbers ({_short(exc)})") from exc
    if rows <= 0 or columns <= 0:
        raise RejectedFile(name, "the image has no size (Rows or Columns missing or zero)")
    if frames <= 0 or samples <= 0:
        raise RejectedFile(name, "the image declares zero frames or zero samples per pixel")
    total = rows * columns * frames * samples
    if total > max_pixels:
        raise RejectedFile(
            name,
            f"the image is too large: {rows} x {columns} pixels x {frames} frame(s) x {samples} "
            f"sample(s) = {total:,} values, over the limit of {max_pixels:,}",
        )
    return rows, columns, frames, samples


def _check_decoder(ds: Dataset, name: str) -> None:
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if not syntax:
        raise RejectedFile(name, "the transfer syntax cannot be determined (no Transfer Syntax UID)")
    syntax = UID(syntax)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise RejectedFile(
            name,
            f"unsupported transfer syntax {describe_syntax(syntax)}: no decoder exists for it here; "
            "export the images uncompressed, or as JPEG, JPEG-LS, JPEG 2000 or RLE",
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "no plugin available"
        raise RejectedFile(
            name, f"transfer syntax {describe_syntax(syntax)} needs a codec that is not installed ({missing})"
        )


def _check_decodes(ds: Dataset, name: str, dimensions: tuple[int, int, int, int]) -> None:
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if not syntax.is_compressed and "PixelData" in ds:
        # Native pixels need no decoder: checking that all the declared bytes are there proves the
        # same as decoding every frame, at a fraction of the cost (it dominated ingest time).
        _check_native_length(ds, name, dimensions)
        return
    try:
        for _frame in iter_pixels(ds):
            pass
    except Exception as exc:
        raise RejectedFile(name, f"the pixel data could not be decoded ({_short(exc)})") from exc


def _check_native_length(ds: Dataset, name: str, dimensions: tuple[int, int, int, int]) -> None:
    rows, columns, frames, samples = dimensions
    bits = int(header_value(ds, "BitsAllocated", 0) or 0)
    pixels = rows * columns * frames * samples
    expected = (pixels + 7) // 8 if bits == 1 else pixels * (bits // 8)
    if bits not in (1, 8, 16, 32, 64):
        raise RejectedFile(name, f"the pixel data could not be decoded (Bits Allocated {bits} is not valid)")
    # The length of the raw value: asking for ds.PixelData would convert the element, and a
    # converted element is encoded again when the file is written rather than copied.
    length = len(ds.get_item("PixelData").value or b"")
    if length < expected:
        raise RejectedFile(
            name,
            f"the pixel data is shorter than the header declares ({length} of {expected} bytes): "
            "the file is truncated",
        )


# -- bounds ------------------------------------------------------------------------------


def _check_inflated_size(data: bytes, name: str, memory_limit: int) -> int | None:
    """For a file in Deflated Explicit VR Little Endian, the size of its inflated data set.

    pydicom inflates the whole data set in one call, however large it comes out; so it is
    inflated here first in pieces that are counted and dropped, up to the most that fits in
    `memory_limit` beside the file itself. None for a file in any other transfer syntax.
    """
    start = _deflated_data_set_start(data)
    if start is None:
        return None
    ceiling = max(memory_limit - dicom_held_bytes(len(data), 0), 0) // 2
    size = _inflated_size(memoryview(data)[start:], ceiling)
    inflated = f"more than {ceiling:,}" if size > ceiling else f"{size:,}"
    check_budget(
        name,
        dicom_held_bytes(len(data), size),
        memory_limit,
        f"reading the deflated data set (it inflates to {inflated} bytes)",
    )
    return size


def _deflated_data_set_start(data: bytes) -> int | None:
    """Where the data set of a deflated file starts (after the file meta), else None.

    The file meta is read as pydicom reads it (explicit VR first, then implicit VR), through its
    public reader; a file whose meta cannot be read is left to :func:`_parse` to refuse.
    """
    if data[128:132] != b"DICM":
        return None
    for implicit in (False, True):
        stream = BytesIO(data)
        try:
            read_preamble(stream, False)
            meta = read_dataset(
                stream, is_implicit_VR=implicit, is_little_endian=True, stop_when=_after_file_meta
            )
        except Exception:
            continue
        # The raw value, compared as pydicom's UI conversion would see it: converting the element
        # would cost about as much as reading the whole file meta (it runs for every upload).
        element = meta.get_item(_TRANSFER_SYNTAX_UID)
        if element is not None and isinstance(element.value, bytes) and element.value.strip(b"\0 "):
            syntax = element.value.strip(b"\0 ").decode("ascii", "replace")
            return stream.tell() if syntax == DeflatedExplicitVRLittleEndian else None
    return None


def _after_file_meta(tag, vr, length) -> bool:
    return tag >> 16 != 0x0002


def _inflated_size(compressed: memoryview, ceiling: int) -> int:
    """How many bytes `compressed` (raw deflate) inflates to, counting no further than past `ceiling`.

    Memory stays at one piece of output; a corrupt stream is counted as far as it goes and left
    to pydicom, which refuses it when it inflates it.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = 0
    try:
        for offset in range(0, len(compressed), _INFLATE_INPUT):
            pending: bytes | memoryview = compressed[offset : offset + _INFLATE_INPUT]
            # Past the end of the stream zlib keeps what follows it (padding) as the tail: stop at eof.
            while pending and size <= ceiling and not inflater.eof:
                size += len(inflater.decompress(pending, _INFLATE_OUTPUT))
                pending = inflater.unconsumed_tail
            if size > ceiling or inflater.eof:
                return size
        # All the input is in; what zlib still holds is at most a few matches long.
        return size + len(inflater.flush())
    except zlib.error:
        return size


def _check_frames(
    ds: Dataset,
    name: str,
    dimensions: tuple[int, int, int, int],
    *,
    held: int,
    memory_limit: int,
    only: int | None = None,
) -> None:
    """Every frame (or frame `only`) fits the memory limit, and a compressed one its DICOM header.

    A compressed frame's codestream must declare Rows x Columns pixels, Samples per Pixel
    components and no more bits than are allocated, and must not be cut short; the number of
    frames in the pixel data must be the Number of Frames. The frames are split as pydicom's
    decoders split them (:func:`pydicom.encaps.generate_frames` / ``get_frame``).
    """
    rows, columns, frames, samples = dimensions
    values = rows * columns * samples
    what = f"reading the file and rendering a frame of {rows} x {columns} pixels x {samples} sample(s)"
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if not syntax.is_compressed:
        check_budget(name, held + frame_cost(values), memory_limit, what)
        return
    if syntax not in _CODESTREAM_READERS:
        raise RejectedFile(
            name, f"the frames of transfer syntax {describe_syntax(syntax)} cannot be checked here"
        )
    element = ds.get_item("PixelData")
    if element is None or not element.value:
        raise RejectedFile(name, "the compressed pixel data is missing")
    encapsulated = element.value
    offsets = _extended_offsets(ds)
    try:
        if only is not None:
            encoded = [
                (only, get_frame(encapsulated, only, number_of_frames=frames, extended_offsets=offsets))
            ]
        else:
            encoded = enumerate(
                generate_frames(encapsulated, number_of_frames=frames, extended_offsets=offsets)
            )
        count = 0
        for index, frame in encoded:
            count += 1
            _check_codestream(ds, name, syntax, index, frame, dimensions)
            check_budget(name, held + frame_cost(values, len(frame)), memory_limit, what)
    except RejectedFile:
        raise
    except Exception as exc:  # pydicom's parsing of the encapsulation, on malformed items
        raise RejectedFile(name, f"the compressed pixel data is corrupt ({_short(exc)})") from exc
    if only is None and count != frames:
        raise RejectedFile(
            name, f"the compressed pixel data holds {count} frame(s) where the header declares {frames}"
        )


def _check_codestream(
    ds: Dataset, name: str, syntax: UID, index: int, frame: bytes, dimensions: tuple[int, int, int, int]
) -> None:
    codec, reader = _CODESTREAM_READERS[syntax]
    if reader is None:
        return
    rows, columns, _, samples = dimensions
    label = f"frame {index + 1}: the {codec} codestream"
    try:
        stream: Codestream = reader(frame, codec)
    except BadCodestream as exc:
        raise RejectedFile(name, f"frame {index + 1}: {exc}") from None
    if (stream.rows, stream.columns) != (rows, columns):
        raise RejectedFile(
            name,
            f"{label} declares {stream.rows} x {stream.columns} pixels where the DICOM header "
            f"declares {rows} x {columns} (Rows x Columns)",
        )
    if stream.components != samples:
        raise RejectedFile(
            name,
            f"{label} declares {stream.components} component(s) where the DICOM header declares "
            f"{samples} (Samples per Pixel)",
        )
    bits = int(header_value(ds, "BitsAllocated", 0) or 0)
    if stream.precision > bits:
        raise RejectedFile(
            name,
            f"{label} declares {stream.precision}-bit samples where the DICOM header allocates "
            f"{bits} bits (Bits Allocated)",
        )


def _extended_offsets(ds: Dataset) -> tuple[bytes, bytes] | None:
    """The Extended Offset Table and its lengths, as pydicom's decoders take them (raw bytes)."""
    table = ds.get_item(0x7FE00001)
    lengths = ds.get_item(0x7FE00002)
    if table is None or lengths is None or not table.value or not lengths.value:
        return None
    return table.value, lengths.value


# -- helpers -----------------------------------------------------------------------------


def describe_syntax(syntax: str) -> str:
    """Return ``'Name' (uid)`` for a known transfer syntax, ``'uid'`` for an unknown one."""
    uid = UID(syntax)
    return f"'{uid.name}' ({uid})" if uid.name != str(uid) else f"'{uid}'"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _floats(value: object, count: int) -> list[float] | None:
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        numbers = [float(v) for v in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        return None
    return numbers
