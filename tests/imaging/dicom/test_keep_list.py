"""The keep list: only what teaching needs survives, and only values that can hold no free text."""

from __future__ import annotations

from io import BytesIO

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from imaging.dicom.deidentify import Deidentifier, dataset_to_bytes
from imaging.dicom.reading import read_dicom
from tests.helpers.dicom_samples import sample_dataset, to_bytes

# Seen surviving the old block list in files marked Patient Identity Removed: each must go.
NOT_KEPT = {
    "PatientBirthDateInAlternativeCalendar": "13450712 Hijri",
    "PatientDeathDateInAlternativeCalendar": "14400101 Hijri",
    "CameraOwnerName": "Jane Doe",
    "CommentsOnRadiationDose": "Doe pregnant, dose checked",
    "HL7InstanceIdentifier": "MRN12345^^^ST MARY",
    "SecondaryCaptureDeviceID": "Ward 9 capture desk",
    "TextValue": "Glioblastoma, left frontal",
    "WindowCenterWidthExplanation": "GLIOBLASTOMA WINDOW",
    "TimezoneOffsetFromUTC": "+0530",
    "EthnicGroup": "Pacific islander",
    "Manufacturer": "St Mary's in-house",
    "InstitutionName": "St Mary's",
}


def _through_upload(ds: Dataset, deidentifier: Deidentifier | None = None):
    uploaded = read_dicom(to_bytes(ds), name="planted.dcm")
    report = (deidentifier or Deidentifier(date_offset_days=-100)).deidentify(uploaded)
    written = dataset_to_bytes(uploaded)
    return written, pydicom.dcmread(BytesIO(written)), report


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"])
def test_attributes_off_the_keep_list_do_not_survive_at_any_level(syntax):
    ds = sample_dataset("CT_small.dcm")
    group = Dataset()
    for keyword, value in NOT_KEPT.items():
        setattr(ds, keyword, value)
        setattr(group, keyword, value)
    ds.ContainerIdentifier = "MRN12345-A"  # Table E.1-1: D, so replaced with a dummy
    ds.add_new(0x00100FF0, "PN", "Doe^Unknown")  # a public tag no dictionary knows
    group.add_new(0x00100FF0, "PN", "Doe^Unknown")
    group.add_new(0x7FE00010, "OB", b"Doe^Jane" * 4)  # pixel data is kept at the top level only
    ds.SharedFunctionalGroupsSequence = Sequence([group])
    ds.file_meta.TransferSyntaxUID = syntax

    written, back, report = _through_upload(ds)

    for value in [*NOT_KEPT.values(), "MRN12345", "Doe^Unknown", "Doe^Jane"]:
        assert value.encode() not in written, value
    for keyword in NOT_KEPT:
        assert keyword not in back and keyword not in back.SharedFunctionalGroupsSequence[0], keyword
    assert back.ContainerIdentifier == "ANONYMIZED"
    assert 0x00100FF0 not in back
    assert "(0010,0FF0)" in report.removed and "SharedFunctionalGroupsSequence.PixelData" in report.removed
    assert back.PatientIdentityRemoved == "YES"


@pytest.mark.parametrize(
    ("age", "stored"),
    [
        ("097Y", "090Y"),
        ("120Y", "090Y"),
        ("090Y", "090Y"),
        ("089Y", "089Y"),
        ("045Y", "045Y"),
        ("999M", "999M"),  # 83 years: the largest age in months, weeks or days stays under 90
        ("120D", "120D"),
        ("", ""),
    ],
)
def test_ages_of_90_and_over_are_stored_as_090y(age, stored):
    ds = sample_dataset("CT_small.dcm")
    ds.PatientAge = age
    _, back, report = _through_upload(ds)
    assert back.PatientAge == stored
    assert ("PatientAge" in report.replaced) == (age != stored)


def test_an_age_that_is_not_an_age_string_is_removed():
    ds = sample_dataset("CT_small.dcm")
    ds.PatientAge = "97 years"
    _, back, report = _through_upload(ds)
    assert "PatientAge" not in back and "PatientAge" in report.removed


def test_uids_under_well_known_roots_are_replaced_and_registered_classes_kept():
    ds = sample_dataset("CT_small.dcm")
    ds.StudyInstanceUID = "1.2.840.10008.5.1.4.1.1.2.20240101.12345"  # an instance UID under DICOM's root
    ds.SeriesInstanceUID = "1.2.840.113619.2.55.3.12345.2"  # GE's root
    ds.FrameOfReferenceUID = "1.2.840.10008.1.4.1.1"  # a well-known frame of reference, used as an id
    _, back, _ = _through_upload(ds)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert back[keyword].value.startswith("2.25."), keyword
    assert back.SOPClassUID == ds.SOPClassUID == back.file_meta.MediaStorageSOPClassUID


def test_a_sop_class_uid_that_is_not_a_registered_class_is_replaced():
    ds = sample_dataset("CT_small.dcm")
    ds.SOPClassUID = "1.2.826.0.1.3680043.99.12345"  # a private "class" carrying a site's number
    _, back, report = _through_upload(ds)
    assert back.SOPClassUID.startswith("2.25.")
    assert back.file_meta.MediaStorageSOPClassUID == back.SOPClassUID
    assert "SOPClassUID" in report.replaced


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("BodyPartExamined", "Doe's chest"),  # CS: upper case, digits, space and _ only
        ("Laterality", "JANE DOE LEFT SIDE"),  # CS: 16 characters at most
        ("SliceThickness", "5 Doe"),  # DS
        ("SeriesNumber", "Doe"),  # IS
        ("StudyTime", "Doe"),  # TM
        ("RescaleType", "Jane"),  # LO kept only as a defined term
    ],
)
def test_a_kept_attribute_whose_value_does_not_conform_to_its_vr_is_removed(keyword, value):
    ds = sample_dataset("CT_small.dcm")  # explicit VR little endian
    tag = pydicom.datadict.tag_for_keyword(keyword)
    data = value.encode() + b" " * (len(value) % 2)
    # As read from a file: pydicom would refuse to set a malformed number itself.
    ds[tag] = RawDataElement(Tag(tag), pydicom.datadict.dictionary_VR(tag), len(data), data, 0, False, True)
    written, back, report = _through_upload(ds)
    assert keyword not in back
    assert keyword in report.removed
    assert b"Doe" not in written and b"Jane" not in written


def test_conforming_kept_values_stay_as_they_are():
    ds = sample_dataset("CT_small.dcm")
    ds.BodyPartExamined = "CHEST"
    ds.Laterality = "L"
    ds.RescaleType = "HU"
    ds.StudyTime = "101112.123"
    _, back, report = _through_upload(ds)
    assert (back.BodyPartExamined, back.Laterality, back.RescaleType, back.StudyTime) == (
        "CHEST",
        "L",
        "HU",
        "101112.123",
    )
    assert {"BodyPartExamined", "Laterality", "RescaleType", "StudyTime"} <= set(report.kept)
