"""Header elements read from a received instance's bytes, never inflating a deflated data set whole.

pydicom's reader inflates a deflated data set (Deflated Explicit VR Little Endian, PS3.5 A.5) whole before
it reads a single element, and a few megabytes sent over the network can inflate to gigabytes (a deflate
bomb). Here such a data set is inflated only as far as needed: up to the last element asked for, within
:data:`HEADER_BYTES` (the header elements come early in any data set; one that does not fit is refused as
unreadable), or whole within a bound for a small document read entirely (a Key Object Selection).
Django-free, like :mod:`imaging.dicom`.
"""

import struct
import zlib
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian

__all__ = ["HEADER_BYTES", "header_elements", "whole_dataset"]

#: How much of a deflated data set is inflated to find header elements.
HEADER_BYTES = 1 << 20
_PREAMBLE = 128


def header_elements(data: bytes, keywords: list[str]) -> Dataset:
    """The elements `keywords` of `data` (a DICOM file: preamble, file meta, data set), as far as present;
    raises ValueError (or pydicom's own error) if the file cannot be read."""
    meta_end, deflated = _file_meta(data)
    if not deflated:
        return pydicom.dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=keywords)
    last = max(Tag(keyword) for keyword in keywords)
    head = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[meta_end:], HEADER_BYTES)
    return read_dataset(BytesIO(head), False, True, stop_when=lambda tag, vr, length: tag > last)


def whole_dataset(data: bytes, *, limit: int) -> Dataset:
    """All of `data`; a deflated data set that inflates past `limit` bytes is refused (ValueError)."""
    meta_end, deflated = _file_meta(data)
    if not deflated:
        return pydicom.dcmread(BytesIO(data))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    body = inflater.decompress(data[meta_end:], limit)
    if inflater.unconsumed_tail:
        raise ValueError(f"the data set inflates past {limit} bytes")
    return read_dataset(BytesIO(body), False, True)


def _file_meta(data: bytes) -> tuple[int, bool]:
    """Where the file meta information ends (after its group length element (0002,0000), PS3.10 7.1), and
    whether the data set after it is deflated."""
    if data[_PREAMBLE : _PREAMBLE + 4] != b"DICM":
        raise ValueError("no DICOM file preamble")
    group, element, vr, _, length = struct.unpack_from("<HH2sHI", data, _PREAMBLE + 4)
    if (group, element, vr) != (0x0002, 0x0000, b"UL"):
        raise ValueError("no file meta group length")
    end = _PREAMBLE + 4 + 12 + length
    meta = read_dataset(BytesIO(data[_PREAMBLE + 4 : end]), False, True)
    return end, meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
