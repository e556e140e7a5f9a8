"""De-identification: a keep list, with the PS3.15 Annex E basic profile (patient-characteristics
and modified-dates options) for what is not kept; descriptive "spoiler" text never survives."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.sequence import Sequence
from pydicom.uid import UID

from imaging.dicom.deidentify import REPLACED, Deidentifier, DeidReport, dataset_to_bytes
from imaging.dicom.keep_list import DEFINED_TERMS, KEEP, RETAIN_OPTION_EXCEPTIONS
from imaging.dicom.reading import read_dicom
from tests.helpers.dicom_samples import sample_bytes, sample_dataset

# pydicom complains about the sample files' own malformed values (rtdose's UIDs).
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR")

SAMPLES = ["CT_small.dcm", "MR_small.dcm", "examples_ybr_color.dcm", "rtdose.dcm", "examples_overlay.dcm"]
OFFSET_DAYS = -1234

# Attributes of PS3.15 Table E.1-1 (basic profile action X, Z, D or a choice of them) that
# occur in the samples, written out independently of the module's own table. After
# de-identification each must be gone, empty, or a neutral placeholder.
BASIC_PROFILE_REMOVED_OR_REPLACED = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientAddress",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "AdditionalPatientHistory",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "RequestingService",
    "StationName",
    "DeviceSerialNumber",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
    "SeriesDescription",
    "ProtocolName",
    "ImageComments",
    "StudyComments",
    "DerivationDescription",
    "RequestedProcedureDescription",
    "RequestAttributesSequence",
    "PerformedProcedureStepID",
    "PerformedProcedureStepDescription",
    "ContrastBolusAgent",
    "TimezoneOffsetFromUTC",
    "IconImageSequence",
    "DataSetTrailingPadding",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription",
]
# Table E.1-1 UIDs (action U): replaced where kept, else removed.
BASIC_PROFILE_UIDS = [
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "InstanceCreatorUID",
    "StorageMediaFileSetUID",
]
# Kept by the keep list, so always replaced.
KEPT_UIDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"]
# Dates: removed by the basic profile, shifted under the Modified Dates option (those teaching needs).
PROFILE_DATES = ["StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"]
# Dates teaching does not need: not on the keep list, so removed rather than shifted.
DATES_NOT_KEPT = ["InstanceCreationDate", "PerformedProcedureStepStartDate", "InstanceCreationTime"]
# Times: kept as they are under the Modified Dates option (the shift is whole days).
PROFILE_TIMES = ["StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"]
# Retain Patient Characteristics option (Ethnic Group is free text, SH: not kept).
PATIENT_CHARACTERISTICS = ["PatientAge", "PatientSex", "PatientWeight", "PatientSize"]
# What teaching needs, unchanged.
TEACHING_KEPT = [
    "Modality",
    "SOPClassUID",
    "BodyPartExamined",
    "SliceThickness",
    "SpacingBetweenSlices",
    "PixelSpacing",
    "EchoTime",
    "RepetitionTime",
    "InversionTime",
    "FlipAngle",
    "MagneticFieldStrength",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "PhotometricInterpretation",
    "SamplesPerPixel",
    "PlanarConfiguration",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "NumberOfFrames",
    "ImageType",
    "PixelData",
]
SPOILERS = [
    "StudyDescription",
    "SeriesDescription",
    "ProtocolName",
    "ImageComments",
    "RequestedProcedureDescription",
    "PerformedProcedureStepDescription",
    "AdmittingDiagnosesDescription",
    "AdditionalPatientHistory",
    "ReasonForStudy",
    "RequestedProcedureComments",
    "ImagingServiceRequestComments",
    "DerivationDescription",
    "PatientComments",
    "StudyComments",
    "AcquisitionProtocolDescription",
    "ClinicalTrialSeriesDescription",
    "ClinicalTrialTimePointDescription",
    "ClinicalTrialProtocolName",
    "ContentDescription",
    # Caught only by the rule on keywords ending in Description/Comments/Comment:
    "RequestedSeriesDescription",
    "IndicationDescription",
    "InterventionDescription",
    "AssertionComments",
]
NEUTRAL = {"", "ANONYMOUS", "ANONYMIZED"}


def deidentified(name: str, deidentifier: Deidentifier | None = None):
    original = read_dicom(sample_bytes(name), name=name)
    ds = copy.deepcopy(original)
    report = (deidentifier or Deidentifier(date_offset_days=OFFSET_DAYS)).deidentify(ds)
    return original, ds, report


def is_neutral(value) -> bool:
    text = str(value if value is not None else "")
    return text in NEUTRAL or text.startswith("ANON-")


def all_elements(ds: Dataset):
    yield from ds.file_meta
    yield from ds.iterall()


@pytest.mark.parametrize("name", SAMPLES)
def test_basic_profile_attributes_are_removed_or_replaced(name):
    # At every level of the file as it is written to storage, not only at the top of the data set.
    original, ds, _ = deidentified(name)
    present = {elem.keyword for elem in all_elements(original)} & set(BASIC_PROFILE_REMOVED_OR_REPLACED)
    assert len(present) >= 5
    stored = pydicom.dcmread(BytesIO(dataset_to_bytes(ds)))
    for after in all_elements(stored):
        if after.keyword in present:
            assert after.VR != "SQ" or len(after.value) == 0, after.keyword
            assert is_neutral(after.value), f"{after.keyword} kept {after.value!r}"


@pytest.mark.parametrize("name", SAMPLES)
def test_identifying_values_do_not_survive_anywhere_in_the_file(name):
    original, ds, _ = deidentified(name)
    written = dataset_to_bytes(ds)
    identifying = {str(original.PatientName), str(original.PatientID)}
    identifying |= {str(original[k].value) for k in ("InstitutionName", "StationName") if k in original}
    identifying |= {str(original[k].value) for k in PROFILE_DATES if k in original}
    identifying |= {
        str(elem.value)
        for elem in all_elements(original)
        if elem.VR == "UI" and not elem.keyword.endswith(("ClassUID", "TransferSyntaxUID"))
    }
    # Values that also occur inside an attribute that is rightly kept (MR_small's
    # institution "TOSHIBA" is part of its manufacturer "TOSHIBA_MEC") cannot be checked.
    retained = " ".join(
        str(original[k].value) for k in ("Manufacturer", "ManufacturerModelName") if k in original
    )
    # Short all-digit values (examples_ybr_color's Patient ID "204") turn up by chance in
    # the digits of random new UIDs; dates (8 digits) are long enough to check.
    checkable = [v for v in identifying if len(v) >= (8 if v.isdigit() else 3) and v not in retained]
    assert len(checkable) >= 3
    for value in sorted(checkable):
        assert value.encode() not in written, value


@pytest.mark.parametrize("name", SAMPLES)
def test_uids_are_replaced_with_valid_new_uids(name):
    original, ds, _ = deidentified(name)
    present = [k for k in BASIC_PROFILE_UIDS if k in original]
    assert {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"} <= set(present)
    for keyword in present:
        if keyword not in KEPT_UIDS:
            assert keyword not in ds, keyword
            continue
        new = ds[keyword].value
        assert new != original[keyword].value
        assert UID(new).is_valid, new
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.SOPClassUID == original.SOPClassUID
    assert ds.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID


@pytest.mark.parametrize("name", SAMPLES)
def test_dates_shift_by_the_offset_and_times_are_kept(name):
    original, ds, report = deidentified(name)
    shifted = 0
    for keyword in PROFILE_DATES:
        if keyword in original and original[keyword].value:
            before = dt.datetime.strptime(original[keyword].value, "%Y%m%d").date()
            after = dt.datetime.strptime(ds[keyword].value, "%Y%m%d").date()
            assert after - before == dt.timedelta(days=OFFSET_DAYS), keyword
            assert keyword in report.replaced
            shifted += 1
    assert shifted >= 1
    for keyword in DATES_NOT_KEPT:
        assert keyword not in ds
    for keyword in PROFILE_TIMES:
        if keyword in original:
            assert ds[keyword].value == original[keyword].value
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


@pytest.mark.parametrize("name", SAMPLES)
def test_patient_characteristics_and_teaching_attributes_are_kept(name):
    original, ds, report = deidentified(name)
    kept = [k for k in PATIENT_CHARACTERISTICS + TEACHING_KEPT if k in original]
    assert len(kept) >= 10
    for keyword in kept:
        if keyword == "PixelData" and report.pixel_data:
            # Segments were taken out of the frames (examples_ybr_color's JFIF APP0): the
            # bytes differ, the image does not.
            np.testing.assert_array_equal(pixel_array(ds), pixel_array(original))
            continue
        assert ds[keyword].value == original[keyword].value, keyword
    for keyword in report.kept:
        if "." not in keyword and not keyword.startswith("("):
            assert ds[keyword].value == original[keyword].value, keyword


@pytest.mark.parametrize("name", SAMPLES)
def test_private_tags_and_overlays_are_gone(name):
    original, ds, report = deidentified(name)
    assert not any(elem.tag.is_private for elem in ds.iterall())
    assert not any(0x6000 <= elem.tag.group <= 0x601E for elem in ds)
    if name in ("CT_small.dcm", "examples_ybr_color.dcm"):
        assert any(elem.tag.is_private for elem in original.iterall())
        assert any(entry.startswith("(00") for entry in report.removed)
    if name == "examples_overlay.dcm":
        assert any(0x6000 <= elem.tag.group <= 0x601E for elem in original)


@pytest.mark.parametrize("name", SAMPLES)
def test_identity_removed_and_method_are_recorded(name):
    _, ds, _ = deidentified(name)
    assert ds.PatientIdentityRemoved == "YES"
    codes = {(item.CodeValue, item.CodingSchemeDesignator) for item in ds.DeidentificationMethodCodeSequence}
    assert codes == {("113100", "DCM"), ("113108", "DCM"), ("113107", "DCM")}
    assert all(item.CodeMeaning for item in ds.DeidentificationMethodCodeSequence)
    assert ds.DeidentificationMethod
    assert ds.PatientName == "ANONYMOUS"
    assert str(ds.PatientID).startswith("ANON-")


@pytest.mark.parametrize(
    "name", [*SAMPLES, "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm"]
)
def test_written_file_is_valid_and_pixels_are_unchanged(name):
    original, ds, _ = deidentified(name)
    written = dataset_to_bytes(ds)
    assert written[:128] == b"\x00" * 128  # the original preamble may hold anything
    assert written[128:132] == b"DICM"
    back = pydicom.dcmread(BytesIO(written))
    assert back.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
    assert "SourceApplicationEntityTitle" not in back.file_meta
    np.testing.assert_array_equal(pixel_array(back), pixel_array(original))
    assert back.PatientIdentityRemoved == "YES"


def test_spoiler_tags_are_removed_at_every_level():
    ds = sample_dataset("CT_small.dcm")
    for keyword in SPOILERS:
        setattr(ds, keyword, "Pulmonary embolism")
    ds.ProcedureCodeSequence = Sequence([_code("PE-CT", "CT angiogram for pulmonary embolism")])
    ds.ReasonForRequestedProcedureCodeSequence = Sequence([_code("PE", "Pulmonary embolism")])
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    reference.ImageComments = "Pulmonary embolism, left lower lobe"
    ds.ReferencedImageSequence = Sequence([reference])
    # A sequence that is kept: its items are cleaned by the same rules.
    group = Dataset()
    group.ImageComments = "Pulmonary embolism, right lower lobe"
    group.PixelMeasuresSequence = Sequence([Dataset()])
    group.PixelMeasuresSequence[0].PixelSpacing = [0.5, 0.5]
    group.PixelMeasuresSequence[0].FrameComments = "embolism in this frame"
    ds.SharedFunctionalGroupsSequence = Sequence([group])

    report = Deidentifier().deidentify(ds)

    for keyword in [*SPOILERS, "ProcedureCodeSequence", "ReasonForRequestedProcedureCodeSequence"]:
        # Removed; or, where Table E.1-1 keeps the attribute present (Z: the clinical trial
        # protocol name), emptied.
        assert keyword not in ds or ds[keyword].value in ("", None), keyword
    # Not on the keep list: the whole sequence goes (the old block list cleaned it item by item).
    assert "ReferencedImageSequence" not in ds
    assert "ReferencedImageSequence" in report.removed
    kept_group = ds.SharedFunctionalGroupsSequence[0]
    assert "ImageComments" not in kept_group
    assert "FrameComments" not in kept_group.PixelMeasuresSequence[0]
    assert kept_group.PixelMeasuresSequence[0].PixelSpacing == [0.5, 0.5]
    assert "SharedFunctionalGroupsSequence.ImageComments" in report.removed
    assert "SharedFunctionalGroupsSequence.PixelMeasuresSequence.FrameComments" in report.removed
    assert b"embolism" not in dataset_to_bytes(ds).lower()


def test_no_free_text_is_on_the_keep_list():
    # Person names and free text (PS3.5 6.2) are never kept; the two coded strings only as
    # one of their defined terms.
    free_text = {"PN", "LO", "LT", "SH", "ST", "UT", "UC"}
    kept_text = {k for k in KEEP if dictionary_VR(keyword_dict[k]) in free_text}
    assert kept_text == set(DEFINED_TERMS) == {k for k, how in KEEP.items() if how == "C"}


def test_every_table_keyword_is_a_real_dicom_keyword():
    # A misspelt keyword would never match and silently drop (or, in the exceptions, excuse)
    # the attribute.
    names = set(KEEP) | set(REPLACED) | set(RETAIN_OPTION_EXCEPTIONS) | set(DEFINED_TERMS)
    assert not sorted(k for k in names if k not in keyword_dict)


def test_person_names_outside_the_keep_list_are_removed_and_birth_date_emptied():
    ds = sample_dataset("CT_small.dcm")
    ds.EvaluatorName = "Doe^Jane"  # a PN Table E.1-1 does not list: not kept, so removed
    ds.PatientBirthDate = "19600101"  # Table E.1-1: Z
    ds.PerformingPhysicianName = "House^Gregory"
    Deidentifier().deidentify(ds)
    assert "EvaluatorName" not in ds
    assert ds.PatientBirthDate == ""
    assert "PerformingPhysicianName" not in ds


def test_uids_are_consistent_within_one_deidentifier_and_differ_across_two():
    first = sample_dataset("CT_small.dcm")
    second = sample_dataset("CT_small.dcm")  # another slice of the same series
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    second.InstanceNumber = 2
    third = sample_dataset("CT_small.dcm")  # refers back to the first slice
    third.SOPInstanceUID = first.SOPInstanceUID + ".3"
    reference = Dataset()
    reference.ReferencedSOPClassUID = first.SOPClassUID
    reference.ReferencedSOPInstanceUID = first.SOPInstanceUID
    third.ReferencedImageSequence = Sequence([reference])
    original_sop = first.SOPInstanceUID

    case = Deidentifier(date_offset_days=-10)
    for ds in (first, second, third):
        case.deidentify(ds)

    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert first[keyword].value == second[keyword].value == third[keyword].value
    assert first.SOPInstanceUID != second.SOPInstanceUID != third.SOPInstanceUID
    # References to other instances are not on the keep list: they go (the old rules kept the
    # sequence and mapped the UID in it).
    assert "ReferencedImageSequence" not in third
    assert first.SOPInstanceUID != original_sop
    assert first.PatientID == second.PatientID == third.PatientID

    other_case = sample_dataset("CT_small.dcm")
    Deidentifier(date_offset_days=-10).deidentify(other_case)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert other_case[keyword].value != first[keyword].value
    assert other_case.PatientID != first.PatientID


def test_default_date_offset_is_a_nonzero_whole_number_of_days():
    original, ds, _ = deidentified("CT_small.dcm", Deidentifier())
    delta = dt.datetime.strptime(ds.StudyDate, "%Y%m%d") - dt.datetime.strptime(original.StudyDate, "%Y%m%d")
    assert delta.days < 0
    assert ds.StudyTime == original.StudyTime


def test_zero_date_offset_is_refused():
    with pytest.raises(ValueError, match="must not be 0"):
        Deidentifier(date_offset_days=0)


def test_unparseable_date_is_removed_rather_than_kept():
    ds = sample_dataset("CT_small.dcm")
    ds["AcquisitionDate"].value = "last Tuesday"
    report = Deidentifier().deidentify(ds)
    assert "AcquisitionDate" not in ds
    assert "AcquisitionDate" in report.removed


def test_datetime_values_shift_their_date_part_and_lose_the_time_zone():
    # The time-zone offset tells where the patient was scanned: it goes (it was kept before).
    ds = sample_dataset("CT_small.dcm")
    ds.AcquisitionDateTime = "20040119072731.123456+0100"
    Deidentifier(date_offset_days=-19).deidentify(ds)
    assert ds.AcquisitionDateTime == "20031231072731.123456"


def test_report_is_json_serialisable_and_lists_actions():
    _, _, report = deidentified("CT_small.dcm")
    data = json.loads(json.dumps(report.as_dict()))
    assert set(data) == {
        "removed",
        "replaced",
        "kept",
        "pixel_data",
        "burned_in_annotation",
        "needs_review",
        "review_reason",
    }
    assert "StudyDescription" in data["removed"] and "InstitutionName" in data["removed"]
    assert "PatientName" in data["replaced"] and "StudyInstanceUID" in data["replaced"]
    assert "Modality" in data["kept"] and "PatientAge" in data["kept"]
    assert not set(data["kept"]) & (set(data["removed"]) | set(data["replaced"]))
    assert set(data) == {f.name for f in dataclasses.fields(DeidReport)}  # as_dict misses none
    assert report.as_dict()["kept"] is not report.kept  # copies


def test_ultrasound_without_burned_in_flag_needs_review():
    _, _, report = deidentified("examples_ybr_color.dcm")
    assert report.burned_in_annotation == ""
    assert report.needs_review is True
    assert "US" in report.review_reason


def test_ct_without_burned_in_flag_does_not_need_review():
    _, _, report = deidentified("CT_small.dcm")
    assert (report.needs_review, report.review_reason) == (False, "")


def test_burned_in_annotation_yes_needs_review_on_any_modality():
    ds = sample_dataset("CT_small.dcm")
    ds.BurnedInAnnotation = "YES"
    report = Deidentifier().deidentify(ds)
    assert (report.burned_in_annotation, report.needs_review) == ("YES", True)
    assert "Burned In Annotation is YES" in report.review_reason
    assert ds.BurnedInAnnotation == "YES"


def test_ultrasound_declared_free_of_burned_in_text_needs_no_review():
    ds = sample_dataset("examples_ybr_color.dcm")
    ds.BurnedInAnnotation = "NO"
    report = Deidentifier().deidentify(ds)
    assert (report.burned_in_annotation, report.needs_review) == ("NO", False)


def test_secondary_capture_class_needs_review_whatever_the_modality():
    ds = sample_dataset("MR_small.dcm")
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
    report = Deidentifier().deidentify(ds)
    assert report.needs_review is True
    assert "secondary capture" in report.review_reason


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "99LOCAL"
    item.CodeMeaning = meaning
    return item


def test_same_seed_repeats_the_replacements_across_instances():
    # Uploads to one case made at different times use separate instances with the case's seed.
    first, second, stranger = (sample_dataset("CT_small.dcm") for _ in range(3))
    Deidentifier(seed="case-42-secret").deidentify(first)
    Deidentifier(seed="case-42-secret").deidentify(second)
    Deidentifier(seed="case-43-secret").deidentify(stranger)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID", "StudyDate"):
        assert first[keyword].value == second[keyword].value
        assert first[keyword].value != stranger[keyword].value
    assert first.StudyInstanceUID.startswith("2.25.")
    assert len(first.StudyInstanceUID) <= 64


def _nested_case_file(syntax: str, undefined_lengths: bool) -> tuple[bytes, Dataset]:
    """CT_small with identifying data two sequence levels down, written in `syntax`.

    Once in sequences the keep list keeps (functional groups, cleaned item by item), once in
    a sequence it does not (a reference to another image, removed whole).
    """
    ds = sample_dataset("CT_small.dcm")
    deeper = Dataset()
    deeper.OperatorsName = "Quinn^Michaela"
    deeper.PixelSpacing = [0.5, 0.5]
    deeper.SecondaryCaptureDeviceID = "Ward 9 capture desk"
    deeper.add_new(0x00291010, "LO", "GEMS")  # private creator ...
    deeper.add_new(0x00291011, "LO", "Hidden Hospital")  # ... and its element
    group = Dataset()
    group.PatientName = "Doe^Jane"
    group.ImageComments = "Pulmonary embolism, left lower lobe"
    group.add_new(0x00091001, "LO", "Station Nine")  # private without a creator
    group.PixelMeasuresSequence = Sequence([deeper])
    ds.SharedFunctionalGroupsSequence = Sequence([group])
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    reference.ReferencedFrameNumber = 1
    reference.InstanceCreationDate = "20040119"
    reference.DerivationDescription = "Dissection flap, Smith County Hospital"
    ds.ReferencedImageSequence = Sequence([reference])
    if undefined_lengths:
        for sequence in (ds.SharedFunctionalGroupsSequence, ds.ReferencedImageSequence):
            sequence.is_undefined_length = True
        for sequence in (group.PixelMeasuresSequence,):
            sequence.is_undefined_length = True
        for item in (group, deeper, reference):
            item.is_undefined_length_sequence_item = True
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue(), ds


@pytest.mark.parametrize(
    ("syntax", "undefined_lengths"),
    [
        (UID("1.2.840.10008.1.2.1"), False),  # Explicit VR Little Endian
        (UID("1.2.840.10008.1.2.1"), True),
        (UID("1.2.840.10008.1.2"), False),  # Implicit VR Little Endian
        (UID("1.2.840.10008.1.2"), True),
        (UID("1.2.840.10008.1.2.2"), False),  # Explicit VR Big Endian
    ],
)
def test_sequences_read_from_a_file_are_de_identified_at_every_level(syntax, undefined_lengths):
    # Read from bytes, the nested elements arrive raw, as in an upload: the walk must still
    # reach and clean them, two levels down.
    data, original = _nested_case_file(syntax, undefined_lengths)
    ds = read_dicom(data, name="nested.dcm")
    assert ds.original_encoding == (syntax.is_implicit_VR, syntax.is_little_endian)
    report = Deidentifier(date_offset_days=OFFSET_DAYS).deidentify(ds)
    written = dataset_to_bytes(ds)

    secrets = (b"Doe^Jane", b"Quinn", b"Hidden Hospital", b"Station Nine", b"embolism", b"GEMS", b"Ward 9")
    for secret in (*secrets, b"Smith County", b"Dissection"):
        assert secret not in written, secret
    back = pydicom.dcmread(BytesIO(written))
    assert back.file_meta.TransferSyntaxUID == syntax
    assert not any(elem.tag.is_private for elem in back.iterall())
    group = back.SharedFunctionalGroupsSequence[0]
    deeper = group.PixelMeasuresSequence[0]
    assert group.PatientName == "ANONYMOUS"  # Table E.1-1 keeps it present, replaced
    assert "ImageComments" not in group
    assert "OperatorsName" not in deeper and "SecondaryCaptureDeviceID" not in deeper
    assert deeper.PixelSpacing == [0.5, 0.5]  # kept two levels down
    assert "ReferencedImageSequence" not in back  # not on the keep list: removed whole
    assert back.SOPInstanceUID != original.SOPInstanceUID
    assert {
        "SharedFunctionalGroupsSequence.PatientName",
        "SharedFunctionalGroupsSequence.ImageComments",
        "SharedFunctionalGroupsSequence.(0009,1001)",
        "SharedFunctionalGroupsSequence.PixelMeasuresSequence.OperatorsName",
        "SharedFunctionalGroupsSequence.PixelMeasuresSequence.SecondaryCaptureDeviceID",
        "SharedFunctionalGroupsSequence.PixelMeasuresSequence.(0029,1011)",
        "ReferencedImageSequence",
    } <= set(report.removed) | set(report.replaced)
    assert "SharedFunctionalGroupsSequence.PixelMeasuresSequence.PixelSpacing" in report.kept


def test_raw_dates_are_shifted_value_by_value_and_an_unparseable_one_is_removed():
    # Read from bytes, these reach the de-identification raw, the path of every upload.
    ds = sample_dataset("CT_small.dcm")
    ds.AcquisitionDateTime = "20040119072731.123456+0100"
    ds.ContentDate = ["20040119", "20040120"]  # DA, multi-valued
    ds.AcquisitionDate = "last Tuesday"
    ds.FrameOfReferenceUID = ds.StudyInstanceUID  # one original UID in two places
    raw = read_dicom(dataset_to_bytes(ds), name="dates.dcm")
    assert all(raw.get_item(k).is_raw for k in ("AcquisitionDateTime", "ContentDate", "AcquisitionDate"))

    report = Deidentifier(date_offset_days=-19).deidentify(raw)

    assert raw.AcquisitionDateTime == "20031231072731.123456"
    assert list(raw.ContentDate) == ["20031231", "20040101"]
    assert "AcquisitionDate" not in raw and "AcquisitionDate" in report.removed
    assert raw.FrameOfReferenceUID == raw.StudyInstanceUID != ds.StudyInstanceUID
