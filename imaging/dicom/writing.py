"""Encode a data set as a DICOM file, copying the elements pydicom never decoded.

:func:`dataset_to_bytes` gives the same bytes as ``pydicom.dcmwrite(..., enforce_file_format=True)``
(the tests compare the two on every sample), but faster for a data set read from a file and then
changed in a few places, as de-identification leaves it: pydicom keeps an element it has read in
its raw form (tag, VR, length and the value's bytes) until the value is asked for, and writes such
an element back unchanged; yet its writer spends as much on each raw element (about 10 us) as on
one it must encode, and a CT slice holds about a hundred. Here a raw element is written as its
header and its value's bytes, and pydicom encodes the rest: the preamble and file meta (through
:func:`pydicom.dcmwrite` itself), the elements whose values were read or replaced, sequences, and
any element that is not plain (undefined length, a deferred value). Anything unusual about the data
set as a whole — a transfer syntax that is deflated, private or not one at all, an encoding or
character set other than the one it was read in — goes to :func:`pydicom.dcmwrite` whole.
"""

from __future__ import annotations

import copy
import struct
from io import BytesIO

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

__all__ = ["dataset_to_bytes", "dataset_to_pieces"]

_UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010
_LONG_VRS = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
#: A value at least this long (pixel data, mostly) stays a piece of its own in
#: :func:`dataset_to_pieces`, the very bytes object read from the file: joining it into one buffer
#: would copy it, only for the copy to be written out and dropped.
_PIECE_BYTES = 64 * 1024


def dataset_to_bytes(ds: Dataset) -> bytes:
    """Encode `ds` as a DICOM file (PS3.10: preamble, ``DICM``, file meta, data set).

    The transfer syntax in ``ds.file_meta`` is kept, so compressed pixel data is written
    back byte for byte. The file meta's SOP Class/Instance UIDs are brought in line with
    the data set, as :func:`pydicom.dcmwrite` does with ``enforce_file_format=True``; the
    result is the bytes that call writes.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The data set to write, normally after :meth:`Deidentifier.deidentify`.

    Returns
    -------
    bytes
        The encoded file.
    """
    pieces = dataset_to_pieces(ds)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def dataset_to_pieces(ds: Dataset) -> list[bytes]:
    """:func:`dataset_to_bytes` in pieces, which written one after the other make the file.

    The encodings of consecutive elements are joined into one piece; a value of 64 KB or more
    (the pixel data, mostly) is a piece of its own, not copied. Writing the pieces with one
    ``os.writev`` and hashing them one by one saves copying the pixel data once more.
    """
    syntax = _plain_syntax(ds)
    if syntax is None:
        buffer = BytesIO()
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
        return [buffer.getvalue()]
    pieces: list[bytes] = []
    run = [_head(ds)]
    for part in _body(ds, syntax):
        if len(part) >= _PIECE_BYTES:
            pieces += [b"".join(run), part]
            run = []
        else:
            run.append(part)
    pieces.append(b"".join(run))
    return [piece for piece in pieces if piece]


def _plain_syntax(ds: Dataset) -> UID | None:
    """The transfer syntax, if the data set is written in the encoding it was read in; else None."""
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if isinstance(meta, FileMetaDataset) else None
    if not syntax:
        return None
    syntax = UID(syntax)
    if not syntax.is_transfer_syntax or syntax.is_private or syntax == DeflatedExplicitVRLittleEndian:
        return None
    if tuple(ds.original_encoding) != (syntax.is_implicit_VR, syntax.is_little_endian):
        return None  # pydicom re-encodes every element then (and corrects ambiguous VRs)
    if ds.original_character_set != getattr(ds, "_character_set", None):
        return None  # likewise, to re-encode the text
    return syntax


def _head(ds: Dataset) -> bytes:
    """The preamble, ``DICM`` and file meta, as :func:`pydicom.dcmwrite` writes them for `ds`.

    dcmwrite works on a deep copy of the file meta; a copy of each element does here (the
    group length, version and implementation may be set on them).
    """
    meta = ds.file_meta
    tags = meta.keys()  # the tags (iterating the data set would convert the elements)
    copied = FileMetaDataset({tag: copy.copy(meta.get_item(tag)) for tag in tags})
    # dcmwrite brings these two in line with the data set.
    for meta_tag, keyword in ((0x00020002, "SOPClassUID"), (0x00020003, "SOPInstanceUID")):
        value = ds.get(keyword)  # converted in `ds`, as dcmwrite does (a UN becomes a UI)
        if value and value != copied.get(meta_tag, DataElement(meta_tag, "UI", None)).value:
            copied[meta_tag] = DataElement(meta_tag, "UI", value)
    buffer = DicomBytesIO()
    buffer.write(getattr(ds, "preamble", None) or b"\x00" * 128)
    buffer.write(b"DICM")
    write_file_meta_info(buffer, copied, enforce_standard=True)
    return buffer.getvalue()


def _body(ds: Dataset, syntax: UID) -> list[bytes]:
    """The data set's elements in tag order: raw ones as read, the others encoded by pydicom."""
    pixels = ds.get_item(_PIXEL_DATA) if _PIXEL_DATA in ds else None
    if pixels is not None and (
        not pixels.is_raw or (pixels.length == _UNDEFINED_LENGTH) != syntax.is_compressed
    ):
        # dcmwrite sets this from the transfer syntax: encapsulated means undefined length.
        ds[_PIXEL_DATA].is_undefined_length = syntax.is_compressed
    encoder = _Encoder(syntax.is_implicit_VR, syntax.is_little_endian)
    encoder.dataset(ds, ds.get("SpecificCharacterSet", default_encoding))
    return encoder.parts


class _Encoder:
    """Appends the encoding of data sets to :attr:`parts`, as pydicom's ``write_dataset`` would."""

    def __init__(self, implicit: bool, little: bool) -> None:
        self.implicit, self.little = implicit, little
        endian = "<" if little else ">"
        self.short_header = struct.Struct(endian + ("HHI" if implicit else "HH2sH"))
        self.long_header = struct.Struct(endian + ("HHI" if implicit else "HH2s2xI"))
        self.marker = struct.Struct(endian + "HHI")  # items and delimiters: tag and a 4-byte length
        self.parts: list[bytes] = []

    def dataset(self, ds: Dataset, encodings: str | list[str]) -> None:
        for tag in sorted(ds.keys(), key=int):
            if tag & 0xFFFF == 0 and tag >> 16 > 6:
                continue  # retired group lengths, which pydicom does not write either
            elem = ds.get_item(tag)
            if elem.is_raw and self._plain_raw(elem):
                self._header(tag, elem.VR, len(elem.value))
                self.parts.append(elem.value)
            elif not elem.is_raw and elem.VR == "SQ" and all(map(self._plain_item, elem.value)):
                self._sequence(elem, convert_encodings(encodings))
            else:
                buffer = DicomBytesIO()
                buffer.is_implicit_VR, buffer.is_little_endian = self.implicit, self.little
                write_data_element(buffer, ds[tag], encodings)  # ds[tag]: converted if raw
                self.parts.append(buffer.getvalue())

    def _plain_raw(self, elem: RawDataElement) -> bool:
        """Whether a raw element can be written as its header and value bytes."""
        return (
            elem.value is not None  # not a deferred read
            and elem.length != _UNDEFINED_LENGTH
            and elem.is_implicit_VR == self.implicit
            and elem.is_little_endian == self.little
            and bool(self.implicit or elem.VR)
        )

    def _plain_item(self, item: Dataset) -> bool:
        """Whether pydicom would write the item's raw elements as they are (see write_dataset)."""
        return (
            isinstance(item, Dataset)
            and tuple(item.original_encoding) == (self.implicit, self.little)
            and item.original_character_set == getattr(item, "_character_set", None)
        )

    def _header(self, tag: int, vr: str | None, length: int) -> None:
        if self.implicit:
            self.parts.append(self.short_header.pack(tag >> 16, tag & 0xFFFF, length))
        elif vr in _LONG_VRS:
            self.parts.append(self.long_header.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length))
        else:
            self.parts.append(self.short_header.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length))

    def _sequence(self, elem: DataElement, encodings: list[str]) -> None:
        """A sequence, as pydicom's write_sequence writes it: lengths set, or undefined as read."""
        outer, self.parts = self.parts, []
        for item in elem.value:
            start = len(self.parts)
            self.dataset(item, item.get("SpecificCharacterSet", encodings))
            if item.is_undefined_length_sequence_item:
                self.parts.insert(start, self.marker.pack(0xFFFE, 0xE000, _UNDEFINED_LENGTH))
                self.parts.append(self.marker.pack(0xFFFE, 0xE00D, 0))
            else:
                length = sum(map(len, self.parts[start:]))
                self.parts.insert(start, self.marker.pack(0xFFFE, 0xE000, length))
        value, self.parts = self.parts, outer
        undefined = elem.is_undefined_length
        self._header(elem.tag, "SQ", _UNDEFINED_LENGTH if undefined else sum(map(len, value)))
        self.parts += value
        if undefined:
            self.parts.append(self.marker.pack(0xFFFE, 0xE0DD, 0))
