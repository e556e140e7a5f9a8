"""Hostile images, built small: deflate and codec bombs, images cut short, huge declared sizes.

Each is a real file of its format whose headers lie: the DICOM header says 64 x 64 where the
codestream says 20000 x 20000, a deflated data set a few megabytes long inflates to gigabytes.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

import numpy as np
from PIL import Image
from pydicom.encaps import encapsulate, generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit

from tests.helpers.dicom_samples import sample_dataset, to_bytes

HUGE = 20_000
_ZEROS = 16 << 20  # one deflated piece of zeros, repeated


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def gradient(size: int = 64) -> Image.Image:
    return Image.fromarray(np.tile(np.arange(size, dtype=np.uint8) * (256 // size), (size, 1)), "L")


def small_jpeg() -> bytes:
    return encoded(gradient(), "JPEG", quality=90)


def with_jpeg_size(codestream: bytes, marker: bytes, rows: int, columns: int) -> bytes:
    """`codestream` with the Y and X of its frame header (SOFn or SOF55 `marker`) changed."""
    at = codestream.index(marker) + 5  # marker (2), length (2), precision (1)
    return codestream[:at] + struct.pack(">HH", rows, columns) + codestream[at + 4 :]


def with_j2k_size(codestream: bytes, rows: int, columns: int) -> bytes:
    """`codestream` with the image and tile sizes of its SIZ segment changed (one tile)."""
    size = struct.pack(">II", columns, rows)
    return codestream[:8] + size + codestream[16:24] + size + codestream[32:]


def first_frame(name: str) -> bytes:
    ds = sample_dataset(name)
    return next(generate_frames(ds.PixelData, number_of_frames=1))


def dicom_with_frames(base: str, frames: list[bytes], **header) -> bytes:
    """Sample `base` with its pixel data replaced by the encapsulated `frames`."""
    ds = sample_dataset(base)
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    for keyword, value in header.items():
        if keyword == "TransferSyntaxUID":
            ds.file_meta.TransferSyntaxUID = value
        else:
            setattr(ds, keyword, value)
    return to_bytes(ds)


def jpeg_in_dicom(frame: bytes) -> bytes:
    """A 64 x 64 8-bit grey JPEG baseline DICOM file holding `frame`."""
    return dicom_with_frames(
        "CT_small.dcm",
        [frame],
        TransferSyntaxUID=JPEGBaseline8Bit,
        Rows=64,
        Columns=64,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        PhotometricInterpretation="MONOCHROME2",
    )


def jpeg_bomb_dicom() -> bytes:
    return jpeg_in_dicom(with_jpeg_size(small_jpeg(), b"\xff\xc0", HUGE, HUGE))


def j2k_bomb_dicom() -> bytes:
    frame = with_j2k_size(first_frame("MR_small_jp2klossless.dcm"), HUGE, HUGE)
    return dicom_with_frames("MR_small_jp2klossless.dcm", [frame])  # its header: 64 x 64


def jpeg_ls_bomb_dicom() -> bytes:
    frame = with_jpeg_size(first_frame("MR_small_jpeg_ls_lossless.dcm"), b"\xff\xf7", HUGE, HUGE)
    return dicom_with_frames("MR_small_jpeg_ls_lossless.dcm", [frame])  # its header: 64 x 64


def truncated_jpeg_dicom() -> bytes:
    """A JPEG frame cut short by 200 bytes (its decoder fills the rest with grey)."""
    frame = small_jpeg()[:-200]
    return jpeg_in_dicom(frame + b"\x00" * (len(frame) % 2))


def deflate_bomb_dicom(inflated: int = 3 << 30) -> bytes:
    """A Deflated Explicit VR Little Endian file whose data set inflates to about `inflated` bytes.

    Its header declares one 512 x 512 16-bit frame; the pixel data element is `inflated` bytes of
    zeros, longer than declared (which native pixel data may be). Deflate streams made after a full
    flush are independent, so one deflated piece of zeros is repeated instead of compressing
    gigabytes here.
    """
    ds = sample_dataset("CT_small.dcm")
    del ds.PixelData
    ds.Rows = ds.Columns = 512
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian

    head = DicomBytesIO()
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, ds.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    pixel_data_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, inflated)

    def deflated(data: bytes, final: bool = False) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)

    zeros = deflated(bytes(_ZEROS))
    stream = (
        deflated(body.getvalue() + pixel_data_header) + zeros * (inflated // _ZEROS) + deflated(b"", True)
    )
    return head.getvalue() + stream


def png_declaring(width: int, height: int, *, color_type: int = 0, depth: int = 1) -> bytes:
    """A tiny, well-formed PNG whose header declares a huge image (1-bit grey by default)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
