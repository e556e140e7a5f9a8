"""Pixel data is no hiding place: segments, comments, boxes, unused bits and trailing bytes go;
the image decodes exactly as before."""

from __future__ import annotations

import struct
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import pixel_array

from imaging.dicom.deidentify import Deidentifier, dataset_to_bytes
from imaging.dicom.errors import RejectedFile
from imaging.dicom.pixel_cleaning import UncleanablePixelData, clean_pixel_data
from imaging.dicom.reading import read_dicom
from imaging.preparation import prepare
from tests.helpers.dicom_samples import sample_dataset, to_bytes

SECRET = b"DOE^JANE MRN12345 glioblastoma"


def _frames(ds) -> list[bytes]:
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames") or 1)))


def _stored(ds) -> tuple[bytes, pydicom.Dataset, list[str]]:
    """`ds` through an upload's path: written, read, de-identified, written; and read back."""
    uploaded = read_dicom(to_bytes(ds), name="planted.dcm")
    report = Deidentifier().deidentify(uploaded)
    written = dataset_to_bytes(uploaded)
    return written, pydicom.dcmread(BytesIO(written)), report.pixel_data


def _segment(code: int, payload: bytes) -> bytes:
    return bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_dcmtk.dcm", "examples_ybr_color.dcm", "JPGExtended.dcm"])
def test_jpeg_comment_and_application_segments_are_stripped_from_every_frame(name):
    ds = sample_dataset(name)
    expected = pixel_array(ds)
    planted = [
        frame[:2] + _segment(0xFE, SECRET) + _segment(0xE1, b"Exif\0\0" + SECRET) + frame[2:] + SECRET
        for frame in _frames(ds)
    ]
    ds.PixelData = encapsulate(planted)
    assert SECRET in to_bytes(ds)

    written, back, notes = _stored(ds)

    assert SECRET not in written
    np.testing.assert_array_equal(pixel_array(back), expected)
    count = len(planted)
    assert f"JPEG COM segment ({count} of {count} frames)" in notes
    assert f"JPEG APP1 segment ({count} of {count} frames)" in notes
    assert f"bytes after a JPEG End Of Image marker ({count} of {count} frames)" in notes


def test_a_plain_adobe_segment_is_kept_for_the_colour_transform():
    ds = sample_dataset("SC_rgb_dcmtk_+eb+cr.dcm")  # RGB JPEG whose APP14 says: not transformed
    _, back, notes = _stored(ds)
    assert notes == []
    assert b"Adobe" in _frames(back)[0][:32]
    np.testing.assert_array_equal(pixel_array(back), pixel_array(ds))


def _with_tile_part_comment(frame: bytes) -> bytes:
    """A JPEG 2000 codestream with a COM marker added to its first tile-part header."""
    sot = frame.index(b"\xff\x90")
    psot = int.from_bytes(frame[sot + 6 : sot + 10], "big")
    comment = _segment(0x64, b"\x00\x01" + SECRET)  # Rcom 1: Latin text
    length = (psot + len(comment) if psot else 0).to_bytes(4, "big")
    header = frame[sot : sot + 6] + length + frame[sot + 10 : sot + 12]
    return frame[:sot] + header + comment + frame[sot + 12 :]


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "693_J2KI.dcm", "MR_small_jp2klossless.dcm"])
def test_jpeg_2000_comments_are_stripped_from_main_and_tile_part_headers(name):
    ds = sample_dataset(name)
    expected = pixel_array(ds)
    (frame,) = _frames(ds)
    ds.PixelData = encapsulate([_with_tile_part_comment(frame)])
    np.testing.assert_array_equal(pixel_array(ds), expected)  # a valid codestream, comment and all

    written, back, notes = _stored(ds)

    assert SECRET not in written
    assert b"\xff\x64" not in _frames(back)[0].split(b"\xff\x93")[0]  # no COM before the first SOD
    np.testing.assert_array_equal(pixel_array(back), expected)
    assert notes == ["JPEG 2000 COM marker (1 of 1 frames)"]


def test_a_jp2_file_in_a_frame_is_reduced_to_its_codestream():
    # GDCM wrote this frame as a JP2 file: an ICC profile with Apple's copyright and UUID boxes.
    ds = sample_dataset("GDCMJ2K_TextGBR.dcm")
    assert b"Copyright 2007 Apple" in ds.PixelData
    written, back, notes = _stored(ds)
    assert b"Copyright 2007 Apple" not in written
    assert _frames(back)[0][:2] == b"\xff\x4f"
    np.testing.assert_array_equal(pixel_array(back), pixel_array(ds))
    assert "JP2 file boxes around the JPEG 2000 codestream (1 of 1 frames)" in notes


def test_bits_above_bits_stored_are_zeroed_in_unsigned_pixels():
    ds = sample_dataset("examples_overlay.dcm")  # 12 of 16 bits, unsigned
    expected = pixel_array(ds)
    values = np.frombuffer(ds.PixelData, dtype="<u2").copy()
    values[: len(SECRET)] |= np.frombuffer(SECRET, dtype=np.uint8).astype(np.uint16) << 12
    values[len(SECRET) :] |= 0xA000  # a retired overlay in the high bits
    ds.PixelData = values.tobytes()
    np.testing.assert_array_equal(pixel_array(ds), expected)  # decoders mask them: invisible, yet there

    _, back, notes = _stored(ds)

    stored = np.frombuffer(back.PixelData, dtype="<u2")
    assert int(stored.max()) < 1 << 12
    np.testing.assert_array_equal(pixel_array(back), expected)
    assert notes == ["bits above Bits Stored (12 of 16)"]


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_bigendian.dcm"])
def test_bits_above_bits_stored_are_the_sign_extension_in_signed_pixels(name):
    ds = sample_dataset(name)  # 16 of 16 bits, signed: stored as 12 of 16 here
    dtype = ">i2" if name.endswith("bigendian.dcm") else "<i2"
    values = np.frombuffer(ds.PixelData, dtype=dtype).copy()
    values = np.clip(values, -2048, 2047).astype(dtype)  # (clip gives the machine's byte order)
    values[::3] = -values[::3]
    ds.BitsStored, ds.HighBit = 12, 11
    expected = values.reshape(ds.Rows, ds.Columns)
    garbled = (values.view(dtype.replace("i", "u")) & 0x0FFF) | 0x5000  # the high bits hold anything
    ds.PixelData = garbled.astype(dtype.replace("i", "u")).tobytes()
    np.testing.assert_array_equal(pixel_array(ds), expected)

    _, back, notes = _stored(ds)

    stored = np.frombuffer(back.PixelData, dtype=dtype).reshape(expected.shape)
    np.testing.assert_array_equal(stored, expected)
    np.testing.assert_array_equal(pixel_array(back), expected)
    assert notes == ["bits above Bits Stored (12 of 16)"]


def test_bytes_after_the_native_image_are_cut_off():
    ds = sample_dataset("MR_small.dcm")
    image = ds.PixelData
    ds.PixelData = image + SECRET
    written, back, notes = _stored(ds)
    assert SECRET not in written
    assert back.PixelData == image
    assert notes == [f"{len(SECRET)} bytes after the end of the image"]


def test_clean_pixel_data_leaves_clean_native_pixels_raw():
    ds = read_dicom(to_bytes(sample_dataset("CT_small.dcm")), name="ct.dcm")
    assert clean_pixel_data(ds) == []
    assert ds.get_item(0x7FE00010).is_raw  # written back byte for byte


def test_a_frame_that_breaks_the_marker_syntax_is_refused_with_a_reason():
    # Decoders refuse this frame too, so an upload is refused before (read_dicom); the cleaning
    # does not take it on trust either.
    ds = sample_dataset("SC_rgb_jpeg_dcmtk.dcm")
    (frame,) = _frames(ds)
    broken = frame[:2] + b"\xff\xfe\xff\xff" + frame[2:]  # a COM segment longer than the frame
    ds.PixelData = encapsulate([broken])
    with pytest.raises(UncleanablePixelData, match="runs past the end of its frame"):
        clean_pixel_data(ds)
    # The bounds check (imaging.codestreams) reads the frame's markers first and refuses it as cut short.
    with pytest.raises(RejectedFile, match=r"broken\.dcm: frame 1: the JPEG codestream is truncated"):
        prepare("broken.dcm", to_bytes(ds), Deidentifier())


def test_a_jpeg_frame_without_end_of_image_is_refused_as_truncated():
    ds = sample_dataset("SC_rgb_jpeg_dcmtk.dcm")
    (frame,) = _frames(ds)
    ds.PixelData = encapsulate([frame[:2] + _segment(0xFE, SECRET) + frame[2 : frame.rindex(b"\xff\xd9")]])
    with pytest.raises(RejectedFile, match=r"truncated \(it ends before its End of Image marker\)"):
        prepare("planted.dcm", to_bytes(ds), Deidentifier())
