"""De-identify DICOM data sets for the teaching archive.

This module applies the DICOM PS3.15 Annex E *Basic Application Level Confidentiality
Profile* (Table E.1-1) with two options, and then removes free text that could give away
a teaching case's diagnosis:

* **Retain Patient Characteristics Option** (DCM 113108, PS3.15 E.3.7): *Patient's Age*,
  *Sex*, *Size*, *Weight*, *Ethnic Group*, *Smoking Status*, *Pregnancy Status*,
  *Patient's Sex Neutered* and the veterinary species/breed descriptions are kept.
* **Retain Longitudinal Temporal Information with Modified Dates Option** (DCM 113107,
  PS3.15 E.3.6): every date (DA) and the date part of every date-time (DT) is shifted by
  one whole-day offset per :class:`Deidentifier` (per teaching case), so intervals
  between studies survive. Times of day (TM) are kept as they are, which a whole-day
  shift leaves consistent; *Longitudinal Temporal Information Modified* (0028,0303) is set
  to ``MODIFIED``. *Patient's Birth Date* is emptied all the same: the retained age is
  what teaching needs.

Why not dicognito
-----------------
dicognito 0.19 (``Anonymizer().anonymize(ds)``) was tried on the pydicom samples
(CT_small, MR_small, examples_ybr_color, rtdose). Its UID handling is good (every non-class
UID, file meta included, mapped consistently within one ``Anonymizer``), but it fails
this archive's requirements in ways that would each need an override:

* private tags are kept (CT_small keeps ~190 GEMS elements, including the station name;
  examples_ybr_color keeps SonoSite's XML blobs);
* *Study/Series Description*, *Image Comments*, *Derivation Description*, *Protocol Name*
  and the other descriptive attributes are kept, and so is *Device Serial Number*;
* names, IDs and institutions are replaced by realistic-looking fakes (``"PARSONS^LOURDES^KEVIN"``,
  ``"MUMBAI'S YORK STREET CLINIC"``), even where the original was empty (an empty
  *Institution Name* gains a fake one plus an invented *Institution Address*), which in
  a teaching archive reads like leaked patient data;
* the date offset is a random number of *hours*, so times of day change too, and it
  cannot be chosen; *Patient's Birth Date* is shifted rather than removed;
* *Patient Identity Removed* is set only when *Burned In Annotation* is ``NO`` (it was
  absent on every sample, so it was never set), and no *De-identification Method Code
  Sequence* is written, only ``DeidentificationMethod = "DICOGNITO"``.

So the profile is implemented here, as an explicit keyword table (:data:`PROFILE_ACTIONS`)
applied at every nesting level, backed by rules by value representation for anything the
table does not name: every PN is emptied, every non-standard UID is remapped, every DA/DT
is shifted. Private tags, curve (50xx) and overlay (60xx) groups and clinical trial
(0012) attributes are removed whole. *Patient's Name* becomes ``ANONYMOUS`` and *Patient
ID* a case pseudonym (``ANON-`` and 10 hex digits). New UIDs and pseudonyms are derived
from a per-case secret seed (:class:`Deidentifier`), so files uploaded to one case at
different times still form one study.

Teaching-specific additions ("spoilers")
----------------------------------------
Free text that can name the diagnosis goes even where the profile would allow a cleaned
copy: every attribute whose keyword ends in ``Description``, ``Comments`` or ``Comment``,
plus :data:`SPOILER_KEYWORDS` (protocol names, reasons for study, procedure and
diagnosis code sequences, content and segment labels, ...).

Burned-in text
--------------
De-identifying the header cannot clean the pixels. :class:`DeidReport` sets
``needs_review`` when *Burned In Annotation* is ``YES``, when *Recognizable Visual
Features* is ``YES``, or when *Burned In Annotation* is absent on images that commonly
carry burned-in text: the modalities in :data:`BURNED_IN_PRONE_MODALITIES` (ultrasound,
secondary capture/other, angiography and fluoroscopy, endoscopy and photography,
ophthalmic photography, documents, panoramic X-ray) and any Secondary Capture SOP class.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO

import pydicom
from pydicom.charset import default_encoding
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from imaging.dicom.reading import header_value
from imaging.dicom.writing import dataset_to_bytes

__all__ = [
    "BURNED_IN_PRONE_MODALITIES",
    "DEID_METHOD_CODES",
    "PROFILE_ACTIONS",
    "RETAINED_KEYWORDS",
    "SPOILER_KEYWORDS",
    "DeidReport",
    "Deidentifier",
    "dataset_to_bytes",
]

# -- the profile table --------------------------------------------------------------------
#
# Actions, as in PS3.15 Table E.1-1 (the code applied here; where the table offers a
# choice such as X/Z/D the stricter one that keeps the object valid was taken):
#   X  remove the attribute
#   Z  replace with a zero-length value (Type 2 attributes, which must stay present)
#   D  replace with a non-identifying dummy value (Type 1 attributes)
#   U  replace the UID, consistently within one Deidentifier
#   S  shift the date by the Deidentifier's offset (Modified Dates option; "C" in the table)
#   K  keep (retained by one of the options, or a time kept under the Modified Dates option)

_X = "X"
_Z = "Z"
_D = "D"
_U = "U"
_S = "S"
_K = "K"


def _table(action: str, keywords: str) -> dict[str, str]:
    return dict.fromkeys(keywords.split(), action)


def _words(keywords: str) -> frozenset[str]:
    return frozenset(keywords.split())


#: Attribute keyword -> action for the attributes of PS3.15 Table E.1-1 that occur in
#: image objects. Attributes the table does not name fall back to rules by value
#: representation (see :meth:`Deidentifier.deidentify`).
PROFILE_ACTIONS: dict[str, str] = {
    # Patient identification and demographics.
    **_table(_D, "PatientName PatientID"),
    **_table(_Z, "PatientBirthDate"),
    **_table(
        _X,
        """
        PatientBirthTime PatientBirthName PatientMotherBirthName OtherPatientNames OtherPatientIDs
        OtherPatientIDsSequence IssuerOfPatientID IssuerOfPatientIDQualifiersSequence
        PatientAddress CountryOfResidence RegionOfResidence PatientTelephoneNumbers
        PatientTelecomInformation MilitaryRank BranchOfService Occupation MedicalRecordLocator
        PatientReligiousPreference PatientInsurancePlanCodeSequence InsurancePlanIdentification
        PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence
        ReferencedPatientSequence ReferencedPatientAliasSequence ReferencedPatientPhotoSequence
        ResponsiblePerson ResponsibleOrganization PatientComments AdditionalPatientHistory
        MedicalAlerts Allergies SpecialNeeds PatientState LastMenstrualDate PatientTransportArrangements
        ConfidentialityConstraintOnPatientDataDescription
        """,
    ),
    # Visit, order and request.
    **_table(_Z, "AccessionNumber StudyID ReferringPhysicianName ConsultingPhysicianName"),
    **_table(
        _X,
        """
        IssuerOfAccessionNumberSequence AdmissionID IssuerOfAdmissionID IssuerOfAdmissionIDSequence
        ServiceEpisodeID IssuerOfServiceEpisodeID IssuerOfServiceEpisodeIDSequence
        ServiceEpisodeDescription AdmittingDiagnosesDescription AdmittingDiagnosesCodeSequence
        DischargeDiagnosisDescription CurrentPatientLocation PatientInstitutionResidence
        ScheduledPatientInstitutionResidence VisitComments ReasonForVisit ReasonForVisitCodeSequence
        ReasonForStudy ReasonForTheRequestedProcedure ReasonForRequestedProcedureCodeSequence
        ReasonForTheImagingServiceRequest RequestAttributesSequence RequestedProcedureID
        RequestedProcedureDescription RequestedProcedureComments RequestedProcedureLocation
        RequestedContrastAgent PlacerOrderNumberImagingServiceRequest
        FillerOrderNumberImagingServiceRequest OrderEnteredBy OrderEntererLocation
        OrderCallbackPhoneNumber OrderCallbackTelecomInformation ImagingServiceRequestComments
        StudyIDIssuer StudyComments StudyDescription NamesOfIntendedRecipientsOfResults
        IntendedRecipientsOfResultsIdentificationSequence PreMedication
        ConsultingPhysicianIdentificationSequence
        """,
    ),
    # People and organisations.
    **_table(
        _X,
        """
        ReferringPhysicianAddress ReferringPhysicianTelephoneNumbers
        ReferringPhysicianIdentificationSequence PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence
        PerformingPhysicianName PerformingPhysicianIdentificationSequence NameOfPhysiciansReadingStudy
        PhysiciansReadingStudyIdentificationSequence OperatorsName OperatorIdentificationSequence
        RequestingPhysician RequestingService ScheduledPerformingPhysicianName
        ScheduledPerformingPhysicianIdentificationSequence PersonAddress PersonTelephoneNumbers
        PersonTelecomInformation PersonName PersonIdentificationCodeSequence VerifyingObserverName
        VerifyingObserverSequence VerifyingObserverIdentificationCodeSequence VerifyingOrganization
        AuthorObserverSequence ParticipantSequence CustodialOrganizationSequence
        ActualHumanPerformersSequence ScheduledHumanPerformersSequence HumanPerformerName
        HumanPerformerOrganization ContentCreatorName ContentCreatorIdentificationCodeSequence
        ReviewerName InterpretationAuthor InterpretationRecorder InterpretationTranscriber
        InterpretationApproverSequence PhysicianApprovingInterpretation
        InstitutionName InstitutionAddress InstitutionalDepartmentName InstitutionCodeSequence
        InstitutionalDepartmentTypeCodeSequence
        """,
    ),
    # Equipment and locations.
    **_table(_D, "DeviceSerialNumber"),
    **_table(
        _X,
        """
        StationName StationAETitle RetrieveAETitle PerformedStationAETitle PerformedStationName
        PerformedLocation PerformedStationNameCodeSequence PerformedStationGeographicLocationCodeSequence
        ScheduledStationAETitle ScheduledStationName ScheduledStationNameCodeSequence
        ScheduledStationGeographicLocationCodeSequence ScheduledStudyLocation
        ScheduledStudyLocationAETitle ScheduledProcedureStepLocation DetectorID GantryID GeneratorID
        CassetteID PlateID XRayDetectorID XRaySourceID XRayDetectorLabel UDISequence
        UniqueDeviceIdentifier TransducerIdentificationSequence ModifyingDeviceID
        ModifyingDeviceManufacturer SourceSerialNumber TreatmentMachineName DeviceLabel NetworkID
        StorageMediaFileSetID LabelText BarcodeValue TimezoneOffsetFromUTC
        """,
    ),
    # Procedure steps, acquisition and interpretation text.
    **_table(_Z, "ContrastBolusAgent"),
    **_table(
        _X,
        """
        PerformedProcedureStepID PerformedProcedureStepDescription ScheduledProcedureStepID
        ScheduledProcedureStepDescription CommentsOnThePerformedProcedureStep
        ReferencedPerformedProcedureStepSequence ReferencedStudySequence AcquisitionContextSequence
        ProtocolName AcquisitionComments AcquisitionDeviceProcessingDescription
        AcquisitionProtocolDescription ContributionDescription DerivationDescription SeriesDescription
        ImageComments FrameComments ImagePresentationComments ModifiedImageDescription
        IdentifyingComments InterpretationText InterpretationDiagnosisDescription InterpretationID
        InterpretationIDIssuer Impressions ResultsID ResultsIDIssuer ResultsComments
        ResultsDistributionListSequence TextComments TextString Arbitrary TopicTitle TopicSubject
        TopicAuthor TopicKeywords DistributionName DistributionAddress GraphicAnnotationSequence
        ContentSequence
        """,
    ),
    # Integrity, provenance and hidden copies of the original values.
    **_table(
        _X,
        """
        DataSetTrailingPadding DigitalSignaturesSequence ReferencedDigitalSignatureSequence
        ReferencedSOPInstanceMACSequence MACParametersSequence EncryptedAttributesSequence
        OriginalAttributesSequence ModifiedAttributesSequence IconImageSequence
        AffectedSOPInstanceUID RequestedSOPInstanceUID
        """,
    ),
}

#: Kept by the Retain Patient Characteristics Option (PS3.15 E.3.7).
PATIENT_CHARACTERISTICS = _words(
    """
    PatientAge PatientSex PatientSize PatientWeight EthnicGroup SmokingStatus PregnancyStatus
    PatientSexNeutered PatientSpeciesDescription PatientBreedDescription
    """
)

#: Never touched by any rule here: patient characteristics kept by option, and the
#: attributes teaching needs (several end in "Description" or carry UIDs).
RETAINED_KEYWORDS = PATIENT_CHARACTERISTICS | _words(
    """
    SpecificCharacterSet Modality BodyPartExamined PixelSpacingCalibrationDescription
    BurnedInAnnotation RecognizableVisualFeatures
    """
)

#: Not in the basic profile (or only cleaned by its options) but able to give away a
#: teaching case's diagnosis; removed. Keywords ending in Description/Comments/Comment are
#: removed by rule as well.
SPOILER_KEYWORDS = _words(
    """
    StudyDescription SeriesDescription SeriesDescriptionCodeSequence ProtocolName
    AcquisitionProtocolName ImageComments RequestedProcedureDescription
    PerformedProcedureStepDescription ScheduledProcedureStepDescription AdmittingDiagnosesDescription
    AdmittingDiagnosesCodeSequence AdditionalPatientHistory ReasonForStudy ReasonForVisit
    ReasonForVisitCodeSequence ReasonForTheRequestedProcedure ReasonForRequestedProcedureCodeSequence
    ReasonForTheImagingServiceRequest RequestedProcedureComments ImagingServiceRequestComments
    DerivationDescription PatientComments StudyComments VisitComments MedicalAlerts
    ProcedureCodeSequence RequestedProcedureCodeSequence PerformedProtocolCodeSequence
    ScheduledProtocolCodeSequence ContentDescription ContentLabel SegmentLabel SegmentDescription
    InterpretationText InterpretationDiagnosisDescription Impressions
    """
)
_SPOILER_SUFFIXES = ("Description", "Comments", "Comment")
# Type 1 spoilers that must stay present to keep the object valid: replaced, not removed.
_SPOILER_DUMMY = frozenset({"ContentLabel", "SegmentLabel"})

#: Modalities whose pixels often carry burned-in text (PS3.3 C.7.3.1.1.1 defined terms
#: plus the non-standard "SC" that some secondary capture software writes).
BURNED_IN_PRONE_MODALITIES = _words("US IVUS OT SC XA RF ES XC GM OP DOC PX")
_SECONDARY_CAPTURE_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.7"

#: (Code Value, Code Meaning) of the de-identification methods applied, from CID 7050,
#: coding scheme DCM.
DEID_METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)
_METHOD_TEXT = [
    "PS3.15 E.1 BASIC APPLICATION CONFIDENTIALITY PROFILE",
    "RETAIN PATIENT CHARACTERISTICS OPTION",
    "RETAIN LONGITUDINAL TEMPORAL INFO MODIFIED DATES OPTION",
    "TEACHING ARCHIVE: DESCRIPTIONS AND COMMENTS REMOVED",
]

# File meta elements that are kept; the rest (AE titles, presentation addresses, private
# information) is dropped.
_FILE_META_KEPT = _words(
    "FileMetaInformationVersion MediaStorageSOPClassUID MediaStorageSOPInstanceUID TransferSyntaxUID"
)
_STANDARD_UID_ROOT = "1.2.840.10008."
_ANONYMOUS = "ANONYMOUS"
_DUMMY_TEXT = "ANONYMIZED"
# VRs whose new value _apply_raw can encode: plain text, no character set beyond ASCII needed.
_RAW_REPLACEABLE_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UT"}
)
_DATE_RE = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")


@dataclass
class DeidReport:
    """What :meth:`Deidentifier.deidentify` did to one data set.

    Attributes
    ----------
    removed, replaced, kept : list of str
        Attribute keywords (``Sequence.Keyword`` inside sequences; ``(gggg,eeee)`` for
        private and repeating-group elements) that were removed, given a new value, or
        left unchanged.
    burned_in_annotation : str
        *Burned In Annotation* (0028,0301) as found: ``"YES"``, ``"NO"`` or ``""``.
    needs_review : bool
        Whether a person must look at the pixels before publishing (burned-in text).
    review_reason : str
        Why, in plain words; empty when no review is needed.
    """

    removed: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    burned_in_annotation: str = ""
    needs_review: bool = False
    review_reason: str = ""

    def as_dict(self) -> dict[str, object]:
        """Return the report as plain JSON-serialisable types (copies of the lists)."""
        return {
            "removed": list(self.removed),
            "replaced": list(self.replaced),
            "kept": list(self.kept),
            "burned_in_annotation": self.burned_in_annotation,
            "needs_review": self.needs_review,
            "review_reason": self.review_reason,
        }


class Deidentifier:
    """De-identify the files of one teaching case consistently.

    Use one instance per case: the same original UID always becomes the same new UID, so
    the files of one study and series keep pointing at each other, and one date offset
    and one patient pseudonym apply to all of them. Two instances share nothing, unless
    they are given the same `seed`.

    Parameters
    ----------
    date_offset_days : int, optional
        Whole days added to every date (negative moves dates into the past). By default
        derived from `seed`: between 1 and 10 years into the past, never 0.
    seed : str, optional
        A secret that makes the replacements repeatable: instances with the same seed
        map each UID and Patient ID to the same new value, so uploads made to one case
        at different times stay one study. Keep it as secret as the original data: with
        the seed, a guessed original UID can be confirmed. By default a fresh random
        seed, so the instance matches no other.

    Raises
    ------
    ValueError
        If `date_offset_days` is 0: the dates would not be modified, yet the Modified
        Dates option would be recorded.

    Notes
    -----
    New UIDs are ``2.25.`` followed by the integer form of a name-based (SHA-1, version 5)
    UUID of the original UID in a namespace derived from the seed (PS3.5 B.2, ITU-T X.667).
    """

    def __init__(self, *, date_offset_days: int | None = None, seed: str | None = None) -> None:
        self._seed = (seed if seed is not None else secrets.token_hex(16)).encode()
        if date_offset_days is None:
            date_offset_days = -(365 + self._keyed_int("date-offset") % (9 * 365 + 1))
        if int(date_offset_days) == 0:
            raise ValueError("date_offset_days must not be 0 (the dates would not be modified)")
        self.date_offset = dt.timedelta(days=int(date_offset_days))
        self._namespace = uuid.UUID(bytes=self._keyed_digest("uid-namespace")[:16])
        self._uids: dict[str, str] = {}

    # -- public API ---------------------------------------------------------------------

    def deidentify(self, ds: Dataset) -> DeidReport:
        """De-identify `ds` in place and report what was done.

        Parameters
        ----------
        ds : pydicom.dataset.Dataset
            The data set, with its ``file_meta`` if it has one. Pixel data is not touched.

        Returns
        -------
        DeidReport
            Removed, replaced and kept attributes, and whether the pixels need review
            for burned-in text.
        """
        report = DeidReport()
        burned_in = str(header_value(ds, "BurnedInAnnotation", "") or "").strip().upper()
        report.burned_in_annotation = burned_in
        report.needs_review, report.review_reason = _review(ds, burned_in)

        self._clean(ds, "", report)
        self._clean_file_meta(ds)
        if getattr(ds, "preamble", None) is not None:
            ds.preamble = None  # a preamble can hold anything (e.g. a TIFF header)

        for tag, elem in _method_elements(tuple(ds.original_encoding)):
            ds[tag] = elem

        report.removed = _unique(report.removed)
        report.replaced = _unique(report.replaced)
        changed = set(report.removed) | set(report.replaced)
        report.kept = [k for k in _unique(report.kept) if k not in changed]
        return report

    # -- the walk ----------------------------------------------------------------------

    def _clean(self, ds: Dataset, prefix: str, report: DeidReport) -> None:
        # The walk goes by tag and leaves alone every element no rule changes: pydicom keeps an
        # element read from a file raw (its bytes) until its value is asked for, and writes a raw
        # element back byte for byte, so an element that stays raw costs neither decoding nor
        # encoding. The action depends only on the keyword and the VR, never on the value, so
        # both are found without converting. An element whose VR the raw form may not tell for
        # sure (implicit VR, or UN), or that a rule does change, is converted first, and its
        # action taken again from the converted VR, exactly as pydicom reads it; sequences are
        # always converted and walked, item by item, at every nesting level.
        for tag in sorted(ds.keys()):
            elem = ds.get_item(tag)
            keyword, dictionary_vr = _tag_info(tag)
            label = prefix + (keyword or _tag_label(tag))

            if tag.element == 0 or tag.is_private or _is_repeating_group(tag.group) or tag.group == 0x0012:
                # group lengths (stale once anything goes), private data, curves and
                # overlays (PS3.15 E.1-1: Curve Data, Overlay Data/Comments X), clinical trial.
                del ds[tag]
                if tag.element != 0:
                    report.removed.append(label)
                continue

            vr = elem.VR
            if elem.is_raw and (vr is None or vr == "UN"):
                vr = dictionary_vr or "UN"  # what pydicom would take; checked below if it matters
            action = self._action(keyword, vr)
            if action == _X:  # by keyword alone: the value does not matter
                del ds[tag]
                report.removed.append(label)
                continue
            if action == _K and vr != "SQ":
                report.kept.append(label)  # left as it is: raw stays raw
                continue
            if elem.is_raw:
                outcome = self._apply_raw(ds, elem, keyword, vr, action)
                if outcome is not None:
                    (report.removed if outcome == _X else report.replaced).append(label)
                    continue
                elem = ds[tag]  # converted now, as pydicom reads it
                action = self._action(keyword, elem.VR)

            if action == _X:
                del ds[tag]
                report.removed.append(label)
            elif action == _K:
                changes = len(report.removed) + len(report.replaced)
                if elem.VR == "SQ":
                    for item in elem.value or []:
                        self._clean(item, label + ".", report)
                # A sequence whose items were changed is not "kept" as a whole.
                unchanged = changes == len(report.removed) + len(report.replaced)
                (report.kept if unchanged else report.replaced).append(label)
            else:
                outcome = self._apply(ds, elem, action)
                (report.removed if outcome == _X else report.replaced).append(label)

    def _action(self, keyword: str, vr: str) -> str:
        if keyword in RETAINED_KEYWORDS:
            return _K
        if keyword in _SPOILER_DUMMY:
            return _D
        table_action = PROFILE_ACTIONS.get(keyword)
        if table_action is not None:
            return table_action
        if keyword in SPOILER_KEYWORDS or keyword.endswith(_SPOILER_SUFFIXES):
            return _X
        if vr == "PN":
            return _Z
        if vr in ("DA", "DT"):
            return _S
        if vr == "UI" and not _is_standard_uid_attribute(keyword):
            return _U
        return _K

    def _apply(self, ds: Dataset, elem: DataElement, action: str) -> str:
        """Apply a Z, D, U or S action; return the action actually taken (X if removed)."""
        if action == _Z:
            elem.value = [] if elem.VR == "SQ" else ""
            return _Z
        if action == _D:
            elem.value = self._dummy(elem.keyword, elem.VR, elem.value)
            return _D
        if action == _U:
            elem.value = _map_values(elem.value, self._uid)
            return _U
        shifted = _map_values(elem.value, self._shift_dt if elem.VR == "DT" else self._shift_da)
        if shifted is None:
            del ds[elem.tag]  # a date that cannot be parsed cannot be shifted safely
            return _X
        elem.value = shifted
        return _S

    def _apply_raw(self, ds: Dataset, elem: RawDataElement, keyword: str, vr: str, action: str) -> str | None:
        """:meth:`_apply` on a raw element, kept raw; None where only pydicom's conversion will do.

        The values written here are this module's own (empty, a dummy, a new UID, a shifted
        date), encoded as pydicom encodes a string (multiple values joined by backslashes,
        padded to an even length with a space, or a NUL for a UI); the values read are UIDs and
        dates, decoded as pydicom decodes them. An element whose VR the raw form does not give
        for sure (UN), a sequence, and Patient ID (whose pseudonym hashes the decoded text in
        the data set's character set) take the general path.
        """
        if elem.value is None or elem.VR == "UN" or vr not in _RAW_REPLACEABLE_VRS:
            return None
        if action == _Z:
            new: object = ""
        elif action == _D:
            if keyword == "PatientID":
                return None
            new = self._dummy(keyword, vr)
        elif action == _U and vr == "UI":
            new = _map_values(_raw_strings(elem), self._uid)
        elif action == _S and vr in ("DA", "DT"):
            new = _map_values(_raw_strings(elem), self._shift_dt if vr == "DT" else self._shift_da)
            if new is None:
                del ds[elem.tag]  # a date that cannot be parsed cannot be shifted safely
                return _X
        else:
            return None
        text = "\\".join(new) if isinstance(new, list) else str(new)
        if len(text) % 2:
            text += "\0" if vr == "UI" else " "
        data = text.encode(default_encoding)
        ds[elem.tag] = elem._replace(length=len(data), value=data)
        return action

    def _dummy(self, keyword: str, vr: str, value: object = None) -> object:
        if keyword == "PatientName":
            return _ANONYMOUS
        if keyword == "PatientID":
            return "ANON-" + self._keyed_digest("PatientID:" + str(value or "")).hex()[:10].upper()
        if vr == "PN":
            return _ANONYMOUS
        return _DUMMY_TEXT

    def _clean_file_meta(self, ds: Dataset) -> None:
        meta = getattr(ds, "file_meta", None)
        if not isinstance(meta, FileMetaDataset):
            return
        for tag in list(meta.keys()):
            if _tag_info(tag)[0] not in _FILE_META_KEPT:
                del meta[tag]
        # The file meta describes the data set (PS3.10 7.1); some writers let them disagree.
        # (header_value: the data set's elements stay raw, to be written as they are.)
        instance, sop_class = header_value(ds, "SOPInstanceUID"), header_value(ds, "SOPClassUID")
        if instance:
            meta.MediaStorageSOPInstanceUID = instance
        elif meta.get("MediaStorageSOPInstanceUID"):
            meta.MediaStorageSOPInstanceUID = self._uid(str(meta.MediaStorageSOPInstanceUID))
        if sop_class:
            meta.MediaStorageSOPClassUID = sop_class
        # The file will be written by pydicom: name it as the implementation.
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = f"PYDICOM {pydicom.__version__}"[:16]

    # -- value replacement ---------------------------------------------------------------

    def _uid(self, value: str) -> str:
        value = str(value).strip()
        if not value or value.startswith(_STANDARD_UID_ROOT):
            return value  # DICOM-registered UIDs (coding schemes, well-known frames ...) identify nobody
        if value not in self._uids:
            self._uids[value] = f"2.25.{uuid.uuid5(self._namespace, value).int}"
        return self._uids[value]

    def _keyed_digest(self, message: str) -> bytes:
        return hmac.new(self._seed, message.encode(), hashlib.sha256).digest()

    def _keyed_int(self, message: str) -> int:
        return int.from_bytes(self._keyed_digest(message)[:8], "big")

    def _shift_da(self, value: str) -> str | None:
        value = str(value).strip()
        if not value:
            return ""
        match = _DATE_RE.match(value)
        if not match:
            return None
        try:
            date = dt.date(*(int(part) for part in match.groups())) + self.date_offset
        except (ValueError, OverflowError):
            return None
        return date.strftime("%Y%m%d")

    def _shift_dt(self, value: str) -> str | None:
        value = str(value).strip()
        if not value:
            return ""
        shifted = self._shift_da(value[:8]) if len(value) >= 8 else None
        return None if shifted is None else shifted + value[8:]


# -- helpers --------------------------------------------------------------------------------


def _review(ds: Dataset, burned_in: str) -> tuple[bool, str]:
    modality = str(header_value(ds, "Modality", "") or "").strip().upper()
    sop_class = str(header_value(ds, "SOPClassUID", "") or "")
    if burned_in == "YES":
        return True, "Burned In Annotation is YES: the pixels show text that may identify the patient"
    if str(header_value(ds, "RecognizableVisualFeatures", "") or "").strip().upper() == "YES":
        return True, "Recognizable Visual Features is YES: the image may show the patient's face or features"
    if burned_in != "NO":
        if modality in BURNED_IN_PRONE_MODALITIES:
            return True, (
                f"Burned In Annotation is not recorded and {modality} images often carry burned-in "
                "text: check the pixels before publishing"
            )
        if sop_class.startswith(_SECONDARY_CAPTURE_CLASS_PREFIX):
            return True, (
                "Burned In Annotation is not recorded and this is a secondary capture, which often "
                "carries burned-in text: check the pixels before publishing"
            )
    return False, ""


@functools.lru_cache(maxsize=4096)
def _tag_info(tag: int) -> tuple[str, str | None]:
    """The keyword of a tag ("" if unknown) and its VR in the dictionary (None if unknown)."""
    try:
        return keyword_for_tag(tag), dictionary_VR(tag)
    except KeyError:
        return keyword_for_tag(tag), None


def _is_standard_uid_attribute(keyword: str) -> bool:
    """UID attributes that name DICOM definitions, not instances: never replaced."""
    return keyword.endswith(("ClassUID", "TransferSyntaxUID", "TransferSyntaxUIDInFile")) or keyword in {
        "CodingSchemeUID",
        "MappingResourceUID",
        "PrivateInformationCreatorUID",
    }


def _is_repeating_group(group: int) -> bool:
    """Curve (50xx) and overlay (60xx) groups, PS3.5 7.6."""
    return group % 2 == 0 and (0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E)


def _map_values(value: object, function: Callable[[str], str | None]) -> object:
    """Apply `function` to each value of a possibly multi-valued element; None if any fails."""
    if isinstance(value, MultiValue | list | tuple):
        mapped = [function(v) for v in value]
        return None if any(m is None for m in mapped) else mapped
    if value is None:
        return ""
    return function(value)


def _method_dataset() -> Dataset:
    """The attributes that record the de-identification (PS3.15 E.1-1, C.7.1.1 / C.7.1.3)."""
    ds = Dataset()
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethod = list(_METHOD_TEXT)
    ds.DeidentificationMethodCodeSequence = Sequence([_code_item(v, m) for v, m in DEID_METHOD_CODES])
    return ds


def _method_elements(encoding: tuple[bool | None, bool | None]) -> Iterable[tuple[int, object]]:
    """(tag, element) of :func:`_method_dataset`, to add to a data set read in `encoding`.

    For a data set read from a file, the elements are the same for every file: encoded once per
    encoding (:func:`_encoded_method_elements`) and added raw, as if read with the file, so that
    they are written back as they are rather than encoded again each time. For a data set made
    in memory (no encoding read), new elements.
    """
    implicit, little = encoding
    if implicit is None or little is None or (implicit and not little):
        return [(elem.tag, elem) for elem in _method_dataset()]
    return _encoded_method_elements(implicit, little)


@functools.cache
def _encoded_method_elements(implicit: bool, little: bool) -> tuple[tuple[int, object], ...]:
    # Raw elements are immutable tuples: a data set that reads one converts its own copy.
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit, little
    write_dataset(buffer, _method_dataset())
    parsed = read_dataset(BytesIO(buffer.getvalue()), implicit, little)
    return tuple((elem.tag, elem) for elem in parsed.elements())


def _raw_strings(elem: RawDataElement) -> str | list[str]:
    """The value of a raw UI, DA or DT element, as pydicom converts it (text, or a list of texts)."""
    if not elem.value:
        return ""
    items = elem.value.decode(default_encoding).rstrip(" \0").split("\\")
    return items[0] if len(items) == 1 else items


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _tag_label(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
