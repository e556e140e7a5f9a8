"""read_dicom accepts real DICOM files (all codecs in use) and refuses bad ones with a clear reason."""

from __future__ import annotations

import pickle
from io import BytesIO
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import pixel_array
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from imaging.dicom import reading
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_dicom, sort_key
from tests.helpers.dicom_samples import sample_bytes, sample_dataset, to_bytes

# pydicom complains about the sample files' own malformed values (rtdose's UIDs).
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR")

READABLE = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_bigendian.dcm",
    "JPEG2000.dcm",
    "JPGExtended.dcm",
    "693_J2KI.dcm",
    "examples_ybr_color.dcm",
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "examples_jpeg2k.dcm",
    "rtdose.dcm",
    "image_dfl.dcm",
]


def rejection(data: bytes, name: str = "upload.dcm", **kwargs) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        read_dicom(data, name=name, **kwargs)
    assert info.value.name == name
    return info.value


@pytest.mark.parametrize("name", READABLE)
def test_real_samples_are_accepted(name):
    ds = read_dicom(sample_bytes(name), name=name)
    assert "PixelData" in ds
    assert (
        ds.file_meta.TransferSyntaxUID
        == pydicom.dcmread(BytesIO(sample_bytes(name))).file_meta.TransferSyntaxUID
    )


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
    ],
)
def test_lossless_variants_of_mr_small_decode_to_the_same_pixels(name):
    reference = pixel_array(read_dicom(sample_bytes("MR_small.dcm"), name="MR_small.dcm"))
    ds = read_dicom(sample_bytes(name), name=name)
    np.testing.assert_array_equal(pixel_array(ds), reference)


def test_jpeg_extended_12_bit_decodes():
    ds = read_dicom(sample_bytes("JPGExtended.dcm"), name="JPGExtended.dcm")
    arr = pixel_array(ds)
    assert arr.shape == (1024, 256)
    assert arr.max() > arr.min()


def test_text_file_named_dcm_is_not_dicom():
    err = rejection(b"Patient notes: see the attached scans.\n" * 10, name="notes.dcm")
    assert err.reason == "not a DICOM file"
    assert str(err) == "notes.dcm: not a DICOM file"


def test_empty_file():
    assert rejection(b"").reason == "the file is empty"


def test_zero_filled_file_is_not_dicom():
    assert "not a DICOM file" in rejection(b"\x00" * 4096).reason


def test_truncated_pixel_data_is_refused():
    err = rejection(sample_bytes("MR_truncated.dcm"), name="MR_truncated.dcm")
    assert "pixel data is shorter than the header declares" in err.reason
    assert "truncated" in err.reason


@pytest.mark.parametrize(
    ("cut", "expected"), [(300, "ends after the DICOM file header"), (1500, "truncated")]
)
def test_truncated_header_is_refused(cut, expected):
    # pydicom stops quietly at the end of a cut file, so what is missing is the image.
    err = rejection(sample_bytes("CT_small.dcm")[:cut])
    assert "truncated" in err.reason
    assert expected in err.reason


def test_pixel_data_that_fails_to_decode_is_refused():
    # A real sample whose JPEG stream no installed codec can decode.
    err = rejection(sample_bytes("JPEG-lossy.dcm"))
    assert err.reason.startswith("the pixel data could not be decoded")


def test_dicom_without_pixel_data_is_refused():
    err = rejection(sample_bytes("rtplan.dcm"))
    assert "no image" in err.reason


def test_dataset_without_preamble_or_file_meta_is_read():
    ds = sample_dataset("CT_small.dcm")
    ds.file_meta = FileMetaDataset()
    ds.preamble = None
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=False, little_endian=True)
    raw = buffer.getvalue()
    assert raw[128:132] != b"DICM" and raw[:2] == b"\x08\x00"

    parsed = read_dicom(raw, name="bare.dcm")
    assert parsed.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    np.testing.assert_array_equal(pixel_array(parsed), pixel_array(sample_dataset("CT_small.dcm")))


def test_bare_dataset_without_an_image_is_refused_for_that_reason():
    # Read through the no-preamble path, then refused because it is an RT plan.
    err = rejection(sample_bytes("ExplVR_LitEndNoMeta.dcm"))
    assert "no image" in err.reason


def test_enormous_declared_image_is_refused_before_decoding(monkeypatch):
    ds = sample_dataset("CT_small.dcm")
    ds.Rows = 65535
    ds.Columns = 65535
    ds.NumberOfFrames = 1000
    data = to_bytes(ds)

    def must_not_decode(*args, **kwargs):
        raise AssertionError("pixel data decoded before the size check")

    monkeypatch.setattr(reading, "iter_pixels", must_not_decode)
    err = rejection(data)
    assert err.reason.startswith("the image is too large")
    assert "65535 x 65535 pixels x 1000 frame(s)" in err.reason


def test_max_pixels_limit_is_inclusive():
    data = sample_bytes("CT_small.dcm")  # 128 x 128, one sample
    assert read_dicom(data, name="ct.dcm", max_pixels=128 * 128)
    assert "too large" in rejection(data, max_pixels=128 * 128 - 1).reason


def test_multiframe_colour_counts_frames_and_samples():
    data = sample_bytes("examples_ybr_color.dcm")  # 240 x 320 x 30 frames x 3 samples
    assert read_dicom(data, name="us.dcm", max_pixels=240 * 320 * 30 * 3)
    err = rejection(data, max_pixels=240 * 320 * 30 * 3 - 1)
    assert "30 frame(s) x 3 sample(s)" in err.reason


def test_made_up_transfer_syntax_is_refused_by_name():
    ds = sample_dataset("MR_small_RLE.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7"
    err = rejection(to_bytes(ds))
    assert err.reason.startswith("unsupported transfer syntax")
    assert "1.2.3.4.5.6.7" in err.reason


def test_video_transfer_syntax_is_refused_by_name():
    ds = sample_dataset("examples_ybr_color.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.102"
    err = rejection(to_bytes(ds))
    assert "MPEG-4 AVC/H.264 High Profile / Level 4.1" in err.reason
    assert "1.2.840.10008.1.2.4.102" in err.reason


def test_transfer_syntax_without_installed_codec_is_refused(monkeypatch):
    unavailable = SimpleNamespace(
        is_available=False, missing_dependencies=["pylibjpeg - requires numpy, pylibjpeg and pylibjpeg-rle"]
    )
    monkeypatch.setattr(reading, "get_decoder", lambda uid: unavailable)
    err = rejection(sample_bytes("MR_small_RLE.dcm"))
    assert "'RLE Lossless' (1.2.840.10008.1.2.5) needs a codec that is not installed" in err.reason
    assert "pylibjpeg-rle" in err.reason


def test_rejected_file_pickles_and_keeps_its_fields():
    err = pickle.loads(pickle.dumps(RejectedFile("a.dcm", "the file is empty")))
    assert (err.name, err.reason, str(err)) == ("a.dcm", "the file is empty", "a.dcm: the file is empty")


def test_sort_key_prefers_instance_number():
    ds = sample_dataset("CT_small.dcm")
    ds.InstanceNumber = 7
    assert sort_key(ds) == 7.0


def test_sort_key_uses_position_along_the_slice_normal():
    slices = []
    # Sagittal: rows run anterior-posterior (0,1,0), columns head-feet (0,0,-1);
    # the normal is row x column = (-1, 0, 0), so the key is minus the x position.
    for x in (12.5, -30.0, 4.0):
        ds = sample_dataset("CT_small.dcm")
        del ds.InstanceNumber
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.ImagePositionPatient = [x, -100.0, 50.0]
        slices.append(ds)
    assert [sort_key(ds) for ds in slices] == [-12.5, 30.0, -4.0]
    ordered = sorted(slices, key=sort_key)
    assert [float(ds.ImagePositionPatient[0]) for ds in ordered] == [12.5, 4.0, -30.0]


def test_sort_key_axial_position():
    ds = sample_dataset("CT_small.dcm")
    del ds.InstanceNumber
    assert sort_key(ds) == pytest.approx(float(ds.ImagePositionPatient[2]))


def test_sort_key_without_any_ordering_information_is_zero():
    ds = sample_dataset("CT_small.dcm")
    for keyword in ("InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient"):
        delattr(ds, keyword)
    assert sort_key(ds) == 0.0


def _with_raw_element(vr: str, value: bytes, nested: bool = False) -> bytes:
    """CT_small with Acquisition Matrix (0018,1310) encoded as given, however wrong.

    At the top level, pydicom writes a raw element's bytes as they are. In a sequence item
    (undefined lengths, so that no outer length needs fixing) a sound value is written and then
    replaced in the bytes.
    """
    ds = sample_dataset("CT_small.dcm")
    if not nested:
        ds[0x00181310] = RawDataElement(Tag(0x00181310), vr, len(value), value, 0, False, True)
        return to_bytes(ds)
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    item.add_new(0x00181310, "US", 1)
    item.is_undefined_length_sequence_item = True
    ds.ReferencedImageSequence = Sequence([item])
    ds.ReferencedImageSequence.is_undefined_length = True
    sound = b"\x18\x00\x10\x13US\x02\x00\x01\x00"
    data = to_bytes(ds)
    assert data.count(sound) == 1
    return data.replace(sound, b"\x18\x00\x10\x13" + vr.encode() + len(value).to_bytes(2, "little") + value)


def _converting_everything_fails(data: bytes) -> bool:
    try:
        for _ in pydicom.dcmread(BytesIO(data)).iterall():
            pass
    except Exception:
        return True
    return False


@pytest.mark.parametrize("nested", [False, True])
def test_a_binary_number_of_the_wrong_length_is_refused_as_a_corrupt_header(nested):
    # read_dicom no longer converts every element, but refuses what converting would fail on.
    data = _with_raw_element("US", b"\x01\x00\x02", nested=nested)
    assert _converting_everything_fails(data)
    err = rejection(data)
    assert err.reason.startswith("the DICOM header is corrupt")
    assert "(0018,1310) (US) has 3 bytes" in err.reason


def test_an_unknown_value_representation_is_refused_as_a_corrupt_header():
    data = _with_raw_element("ZZ", b"ab")
    assert _converting_everything_fails(data)
    assert "unknown Value Representation 'ZZ'" in rejection(data).reason


def test_a_sound_binary_number_is_accepted():
    assert read_dicom(_with_raw_element("US", b"\x01\x00\x02\x00"), name="ok.dcm")


def test_read_dicom_leaves_the_elements_raw_and_parses_every_sequence():
    ds = read_dicom(sample_bytes("examples_palette.dcm"), name="palette.dcm")
    elements = list(ds.elements())
    assert sum(elem.is_raw for elem in elements) > len(elements) / 2  # not converted
    sequences = [elem for elem in elements if elem.VR == "SQ"]
    assert sequences and not any(elem.is_raw for elem in sequences)
    assert all(isinstance(item, Dataset) for elem in sequences for item in elem.value)
    # Native pixels are checked by their length: the element stays raw too.
    assert read_dicom(sample_bytes("CT_small.dcm"), name="ct.dcm").get_item("PixelData").is_raw


def test_header_value_is_what_get_gives_without_converting_the_element():
    ds = read_dicom(sample_bytes("CT_small.dcm"), name="ct.dcm")
    for keyword in ("Rows", "Modality", "SOPInstanceUID", "ImagePositionPatient", "NotThere"):
        value = reading.header_value(ds, keyword, "default")
        if keyword != "NotThere":
            assert ds.get_item(keyword).is_raw
        assert value == pydicom.dcmread(BytesIO(sample_bytes("CT_small.dcm"))).get(keyword, "default")


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"]
)
def test_slice_order_read_from_raw_text_is_what_the_converted_values_give(name):
    raw = read_dicom(sample_bytes(name), name=name)
    converted = sample_dataset(name)
    for _ in converted.iterall():
        pass
    assert raw.get_item("ImagePositionPatient").is_raw
    assert reading.slice_position(raw) == reading.slice_position(converted) is not None
    assert sort_key(raw) == sort_key(converted) == float(converted.InstanceNumber)
    assert raw.get_item("ImagePositionPatient").is_raw  # read on the side


def test_malformed_slice_numbers_give_no_position_rather_than_an_error():
    ds = sample_dataset("CT_small.dcm")
    ds["ImagePositionPatient"] = RawDataElement(Tag(0x00200032), "DS", 6, b"1\\x\\3 ", 0, False, True)
    ds["InstanceNumber"] = RawDataElement(Tag(0x00200013), "IS", 2, b"  ", 0, False, True)
    assert reading.slice_position(ds) is None
    assert sort_key(ds) == 0.0
