"""The stored file is a valid DICOM Part 10 file; the ingest's raw path de-identifies like the converted path.

The ingest keeps every element no de-identification rule changes in pydicom's raw (undecoded) form,
and ``pydicom.dcmwrite`` writes it back as its bytes. These tests hold that path to the slow one on
every sample pydicom ships that read_dicom accepts: the same de-identification (report and every
value) as on a data set converted in full, and a file that reads back with its pixel data.
"""

from __future__ import annotations

import copy
from functools import cache
from io import BytesIO

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from imaging.dicom.deidentify import Deidentifier, dataset_to_bytes
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_dicom
from tests.helpers.dicom_samples import TEST_FILES, sample_bytes

pytestmark = pytest.mark.filterwarnings("ignore")  # the samples' own malformed values


@cache
def accepted_samples() -> tuple[str, ...]:
    names = []
    for path in sorted(TEST_FILES.glob("*.dcm")):
        try:
            read_dicom(path.read_bytes(), name=path.name)
        except RejectedFile:
            continue
        names.append(path.name)
    return tuple(names)


SAMPLES = accepted_samples()


def pydicom_bytes(ds: Dataset) -> bytes:
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, copy.deepcopy(ds), enforce_file_format=True)
    return buffer.getvalue()


def converted(ds: Dataset) -> Dataset:
    """A copy of `ds` with every element converted, as read_dicom used to leave it."""
    ds = copy.deepcopy(ds)
    for _ in ds.iterall():
        pass
    return ds


def values(data: bytes) -> list:
    ds = pydicom.dcmread(BytesIO(data))
    meta = [(elem.tag, elem.value) for elem in ds.file_meta]
    elements = [(elem.tag, elem.VR, elem.value) for elem in ds.iterall() if elem.VR != "SQ"]
    sequences = [(elem.tag, len(elem.value)) for elem in ds.iterall() if elem.VR == "SQ"]
    return meta + elements + sequences


def test_the_samples_cover_every_encoding_and_undefined_lengths():
    assert len(SAMPLES) >= 50
    encodings = {tuple(read_dicom(sample_bytes(name), name=name).original_encoding) for name in SAMPLES}
    assert encodings == {(False, True), (True, True), (False, False)}
    assert {"image_dfl.dcm", "liver_1frame.dcm", "693_J2KI.dcm"} <= set(SAMPLES)  # deflated, undefined SQs


@pytest.mark.parametrize("name", SAMPLES)
def test_the_de_identified_file_is_a_part_10_file_with_its_pixel_data(name):
    ds = read_dicom(sample_bytes(name), name=name)
    pixels = ds.get_item(0x7FE00010).value if "PixelData" in ds else None
    Deidentifier(seed="case", date_offset_days=-30).deidentify(ds)
    written = dataset_to_bytes(ds)
    assert written[128:132] == b"DICM"
    stored = pydicom.dcmread(BytesIO(written))  # not force=True: the file meta must be there
    assert stored.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    assert stored.file_meta.MediaStorageSOPInstanceUID == stored.SOPInstanceUID == ds.SOPInstanceUID
    assert stored.PatientIdentityRemoved == "YES"
    if pixels is not None:
        assert stored.PixelData == ds.PixelData


@pytest.mark.parametrize("name", SAMPLES)
def test_the_raw_path_de_identifies_like_a_data_set_converted_in_full(name):
    ds = read_dicom(sample_bytes(name), name=name)
    full = converted(ds)
    assert any(elem.is_raw for elem in ds.elements())

    raw_report = Deidentifier(seed="case", date_offset_days=-30).deidentify(ds)
    full_report = Deidentifier(seed="case", date_offset_days=-30).deidentify(full)

    assert raw_report == full_report
    assert values(dataset_to_bytes(ds)) == values(pydicom_bytes(full))


ADDED = [
    "PatientIdentityRemoved",
    "LongitudinalTemporalInformationModified",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
]


def convert_label(ds: Dataset, label: str) -> None:
    """Convert the element a report label names ("Keyword" or "Sequence.Keyword"), at every item."""
    first, _, rest = label.partition(".")
    if first not in ds:
        return
    elem = ds[first]  # converts it
    if rest and elem.VR == "SQ":
        for item in elem.value:
            convert_label(item, rest)


@pytest.mark.parametrize("name", SAMPLES)
def test_replaced_values_are_encoded_as_pydicom_encodes_them(name):
    # The new values are written raw by the de-identification: once converted, pydicom must
    # encode them to the same bytes.
    ds = read_dicom(sample_bytes(name), name=name)
    report = Deidentifier(seed="case", date_offset_days=-30).deidentify(ds)
    # First: like dcmwrite, dataset_to_bytes converts in place what it cannot copy (raw elements
    # read in another encoding than the file meta declares, as in SC_rgb_jpeg.dcm).
    written = dataset_to_bytes(ds)
    encoded_by_pydicom = copy.deepcopy(ds)
    for label in [*report.replaced, *ADDED]:
        convert_label(encoded_by_pydicom, label)
    assert written == pydicom_bytes(encoded_by_pydicom)


def test_an_untouched_element_is_copied_byte_for_byte_not_encoded_again():
    # This sample's Image Type carries a space before its separator; converting and encoding
    # again drops it. Copied raw, the element leaves as it came.
    data = sample_bytes("SC_rgb_gdcm_KY.dcm")
    element = b"\x08\x00\x08\x00CS\x1a\x00DERIVED \\SECONDARY\\OTHER  "
    assert element in data
    ds = read_dicom(data, name="sc.dcm")
    full = converted(ds)
    for dataset in (ds, full):
        Deidentifier(seed="case", date_offset_days=-30).deidentify(dataset)
    assert element in dataset_to_bytes(ds)
    assert element not in pydicom_bytes(full)


def test_a_changed_character_set_is_left_to_pydicom_which_encodes_everything_again():
    ds = read_dicom(sample_bytes("MR_small.dcm"), name="mr.dcm")
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Çelik^Ayşe"
    assert dataset_to_bytes(ds) == pydicom_bytes(ds)
    assert "Çelik^Ayşe".encode() in dataset_to_bytes(ds)


def test_the_de_identification_attributes_are_not_shared_between_files():
    case = Deidentifier(seed="case", date_offset_days=-30)
    first, second = (read_dicom(sample_bytes("CT_small.dcm"), name="ct.dcm") for _ in range(2))
    case.deidentify(first)
    first.DeidentificationMethodCodeSequence[0].CodeMeaning = "changed"
    first.PatientIdentityRemoved = "NO"
    case.deidentify(second)
    assert isinstance(second.get_item("PatientIdentityRemoved"), RawDataElement)  # added raw
    assert second.PatientIdentityRemoved == "YES"
    meaning = second.DeidentificationMethodCodeSequence[0].CodeMeaning
    assert meaning == "Basic Application Confidentiality Profile"
