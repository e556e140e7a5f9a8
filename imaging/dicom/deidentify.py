"""De-identify DICOM data sets for the teaching archive: keep only what is known to be safe.

The rule is an explicit keep list (:data:`imaging.dicom.keep_list.KEEP`): the attributes a
teaching case needs (the image pixel, geometry and display modules, acquisition parameters,
modality, body part, laterality, the patient's age, sex, size and weight, and dates shifted
per case). Every other attribute is removed or replaced, at every level of every sequence,
including private attributes, curves (50xx), overlays (60xx) and public attributes no
dictionary knows. Where the PS3.15 Annex E *Basic Application Level Confidentiality Profile*
(Table E.1-1) says an attribute must stay present, it stays with a zero-length or dummy
value; those actions are read from a maintained, machine-readable copy of the table
(:mod:`imaging.dicom.annex_e`), never typed here. Two options of the profile are applied:

* **Retain Patient Characteristics Option** (DCM 113108, PS3.15 E.3.7): *Patient's Age*
  (90 or over stored as ``090Y``, HIPAA safe harbour), *Sex*, *Size* and *Weight*.
* **Retain Longitudinal Temporal Information with Modified Dates Option** (DCM 113107,
  PS3.15 E.3.6): the kept dates (DA) and date-times (DT) are shifted by one whole-day offset
  per :class:`Deidentifier` (per teaching case), so intervals between studies survive; a
  date-time loses its time-zone offset, and times of day are kept, which a whole-day shift
  leaves consistent. *Longitudinal Temporal Information Modified* (0028,0303) is set to
  ``MODIFIED``.

:data:`imaging.dicom.keep_list.RETAIN_OPTION_EXCEPTIONS` lists every kept attribute that
the Basic Profile alone would remove or replace, with the option that allows it; a test
holds every action here against the table, attribute by attribute.

Free text never survives: no person name (PN) and no long or short string or text (LO, SH,
LT, ST, UT, UC) is kept, except two coded strings checked against their defined terms, and
every kept value must conform to its value representation (PS3.5 6.2). *Patient's Name*
becomes ``ANONYMOUS`` and *Patient ID* a case pseudonym (``ANON-`` and 10 hex digits). New
UIDs and pseudonyms are derived from a per-case secret seed (:class:`Deidentifier`), so
files uploaded to one case at different times still form one study; every instance UID is
replaced, whatever its root, and a *SOP Class UID* is kept only if it is a registered SOP
class.

The pixel data is cleaned too (:mod:`imaging.dicom.pixel_cleaning`): JPEG APPn and COM
segments and JPEG 2000 comments inside encapsulated frames, bits above *Bits Stored* and
bytes past the end of the image are taken out.

Why not dicognito
-----------------
dicognito 0.19 keeps private tags, descriptions and comments, replaces names with
realistic-looking fakes (which in a teaching archive read like leaked data), shifts dates
by a random number of hours and writes no *De-identification Method Code Sequence*; each
would need an override, and it works from a list of what to remove rather than what to keep.

Burned-in text
--------------
De-identifying the header cannot clean the pixels' own picture. :class:`DeidReport` sets
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
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from imaging.dicom.annex_e import basic_profile_category
from imaging.dicom.keep_list import DEFINED_TERMS, KEEP
from imaging.dicom.pixel_cleaning import UncleanablePixelData, clean_pixel_data
from imaging.dicom.reading import PIXEL_DATA_KEYWORDS, header_value

__all__ = [
    "ACTIONS",
    "BURNED_IN_PRONE_MODALITIES",
    "DEID_METHOD_CODES",
    "REPLACED",
    "DeidReport",
    "Deidentifier",
    "UncleanablePixelData",
    "dataset_to_bytes",
    "planned_action",
]


def dataset_to_bytes(ds: Dataset) -> bytes:
    """`ds` as a DICOM Part 10 file (preamble, ``DICM``, file meta, data set), in its transfer syntax.

    ``enforce_file_format`` makes pydicom write the file meta and keep its SOP Class and Instance
    UIDs in line with the (de-identified) data set. Elements no rule changed stay raw and are
    written back as they were read, except in a file whose meta declares another encoding than
    its data set was read in (explicit VR declared over an implicit VR data set, say): pydicom
    would copy those elements unchanged into a file they do not fit, so they are converted first.
    """
    raw = next((elem for elem in ds.elements() if elem.is_raw), None)  # all read in one encoding
    if raw is not None and (raw.is_implicit_VR, raw.is_little_endian) != tuple(ds.original_encoding):
        for elem in list(ds.elements()):
            ds[elem.tag]  # converts it in place, to be encoded again
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


#: The actions, by code: those of the keep list (:mod:`imaging.dicom.keep_list`) and those of
#: PS3.15 Table E.1-1 taken for everything else.
ACTIONS = {
    "K": "kept if it conforms to its VR",
    "S": "date shifted",
    "U": "UID replaced",
    "A": "age kept, 90 or over as 090Y",
    "C": "kept if one of its defined terms",
    "Q": "sequence kept, its items cleaned",
    "X": "removed",
    "Z": "emptied",
    "D": "replaced with a dummy value",
}

#: Not kept, but replaced rather than emptied (Table E.1-1 allows it): a readable name, and a
#: pseudonym that stays the same for every file of the case.
REPLACED = {"PatientName": "D", "PatientID": "D"}

#: Modalities whose pixels often carry burned-in text (PS3.3 C.7.3.1.1.1 defined terms
#: plus the non-standard "SC" that some secondary capture software writes).
BURNED_IN_PRONE_MODALITIES = frozenset(
    ["US", "IVUS", "OT", "SC", "XA", "RF", "ES", "XC", "GM", "OP", "DOC", "PX"]
)
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
    "TEACHING ARCHIVE KEEP LIST; PIXEL DATA CLEANED",
]
# Written by this module at the top level of every file (see _method_dataset).
_METHOD_KEYWORDS = frozenset(
    {
        "PatientIdentityRemoved",
        "LongitudinalTemporalInformationModified",
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
    }
)

# File meta elements that are kept; the rest (AE titles, presentation addresses, private
# information) is dropped.
_FILE_META_KEPT = frozenset(
    {
        "FileMetaInformationVersion",
        "MediaStorageSOPClassUID",
        "MediaStorageSOPInstanceUID",
        "TransferSyntaxUID",
    }
)
_ANONYMOUS = "ANONYMOUS"
_DUMMY_TEXT = "ANONYMIZED"
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
# VRs whose values are read and written here as text (raw elements stay raw for them).
_STRING_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UT"}
)
# VRs whose values are binary (numbers, bytes, tags): no room for text to be checked.
_BINARY_VRS = frozenset(
    {"AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS", "SV", "UL", "US", "UV"}
    | {"US or SS", "US or OW", "US or SS or OW", "OB or OW"}
)
# What a kept value of each VR may look like (PS3.5 6.2), one value at a time, spaces trimmed.
_CONFORMING = {
    "CS": re.compile(r"[A-Z0-9_ ]{0,16}"),
    "DS": re.compile(r"(?=.{0,16}$)([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)?"),
    "IS": re.compile(r"([+-]?\d{1,11})?"),
    "TM": re.compile(r"(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?|\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?"),
}
_DATE_RE = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_DATETIME_RE = re.compile(r"^(\d{8})(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?([+-]\d{4})?$")
_AGE_RE = re.compile(r"^(\d{3})([DWMY])$")
_DAYS_PER = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}
_OLDEST_AGE_YEARS = 90  # HIPAA safe harbour: 90 and over are one category


@dataclass
class DeidReport:
    """What :meth:`Deidentifier.deidentify` did to one data set.

    Attributes
    ----------
    removed, replaced, kept : list of str
        Attribute keywords (``Sequence.Keyword`` inside sequences; ``(gggg,eeee)`` for
        private, repeating-group and unknown elements) that were removed, given a new
        value, or left unchanged.
    pixel_data : list of str
        What was taken out of the pixel data (JPEG segments, JPEG 2000 comments, bits above
        *Bits Stored* ...); empty if nothing was.
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
    pixel_data: list[str] = field(default_factory=list)
    burned_in_annotation: str = ""
    needs_review: bool = False
    review_reason: str = ""

    def as_dict(self) -> dict[str, object]:
        """Return the report as plain JSON-serialisable types (copies of the lists)."""
        return {
            "removed": list(self.removed),
            "replaced": list(self.replaced),
            "kept": list(self.kept),
            "pixel_data": list(self.pixel_data),
            "burned_in_annotation": self.burned_in_annotation,
            "needs_review": self.needs_review,
            "review_reason": self.review_reason,
        }


def planned_action(tag: int, vr: str | None = None, *, nested: bool = False) -> str:
    """The action taken on the attribute `tag`, one of the codes of :data:`ACTIONS`.

    Parameters
    ----------
    tag : int
        ``(group << 16) | element``.
    vr : str, optional
        Its value representation as found in the file; by default the dictionary's.
    nested : bool, optional
        Whether it is inside a sequence item (pixel data is kept at the top level only).

    Returns
    -------
    str
        ``"K"``, ``"S"``, ``"U"``, ``"A"``, ``"C"`` or ``"Q"`` for a kept attribute
        (:data:`imaging.dicom.keep_list.KEEP`), else ``"X"``, ``"Z"`` or ``"D"``: the least
        removing choice PS3.15 Table E.1-1 allows for it that leaves none of its value,
        where the table names it (``"Z"`` for Z and Z/D, ``"D"`` for D, on text and
        sequences), and ``"X"`` for everything else (including UIDs not kept).
    """
    keyword, dictionary_vr = _tag_info(tag)
    return _action(tag, keyword, vr or dictionary_vr or "UN", nested)


def _action(tag: int, keyword: str, vr: str, nested: bool) -> str:
    if tag & 0xFFFF == 0 or tag >> 16 & 1 or _is_repeating_group(tag >> 16):
        return "X"  # group lengths, private data, curves and overlays (PS3.15 E.1-1: X)
    how = KEEP.get(keyword) if keyword else None
    if how is not None and not (nested and keyword in PIXEL_DATA_KEYWORDS):
        return how
    if keyword in REPLACED:
        return REPLACED[keyword]
    category = basic_profile_category(tag)
    if category in ("Z", "Z_D"):
        return "Z"
    if category == "D":
        return "D" if vr in _TEXT_VRS else ("Z" if vr == "SQ" else "X")
    return "X"


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
            The data set, with its ``file_meta`` if it has one (the *Transfer Syntax UID*
            there tells how to clean the pixel data).

        Returns
        -------
        DeidReport
            Removed, replaced and kept attributes, what was taken out of the pixel data, and
            whether the pixels need review for burned-in text.

        Raises
        ------
        UncleanablePixelData
            If encapsulated pixel data cannot be followed to clean it (see
            :func:`imaging.dicom.pixel_cleaning.clean_pixel_data`).
        """
        report = DeidReport()
        burned_in = str(header_value(ds, "BurnedInAnnotation", "") or "").strip().upper()
        report.burned_in_annotation = burned_in
        report.needs_review, report.review_reason = _review(ds, burned_in)

        self._clean(ds, "", report)
        meta = getattr(ds, "file_meta", None)
        if isinstance(meta, FileMetaDataset) and "TransferSyntaxUID" in meta:
            report.pixel_data = clean_pixel_data(ds)
            if report.pixel_data:
                report.replaced.append("PixelData")
        self._clean_file_meta(ds)
        if getattr(ds, "preamble", None) is not None:
            ds.preamble = None  # a preamble can hold anything (e.g. a TIFF header)

        for tag, elem in _method_elements(tuple(ds.original_encoding)):
            ds[tag] = elem
        # Recorded anew by this module: any value found before is replaced, not removed.
        report.replaced += [k for k in report.removed if k in _METHOD_KEYWORDS]
        report.removed = [k for k in report.removed if k not in _METHOD_KEYWORDS]

        report.removed = _unique(report.removed)
        report.replaced = _unique(report.replaced)
        changed = set(report.removed) | set(report.replaced)
        report.kept = [k for k in _unique(report.kept) if k not in changed]
        return report

    # -- the walk ----------------------------------------------------------------------

    def _clean(self, ds: Dataset, prefix: str, report: DeidReport) -> None:
        # The walk goes by tag and leaves alone every element it keeps unchanged: pydicom keeps
        # an element read from a file raw (its bytes) until its value is asked for, and writes a
        # raw element back byte for byte, so an element that stays raw costs neither decoding
        # nor encoding. The action depends only on the tag and the VR, so it is found without
        # converting; string values are checked or changed on their raw bytes where the VR is
        # known for sure. Sequences are converted and walked, item by item, at every level.
        for tag in sorted(ds.keys()):
            elem = ds.get_item(tag)
            keyword, dictionary_vr = _tag_info(tag)
            label = prefix + (keyword or _tag_label(tag))
            vr = elem.VR
            if elem.is_raw and (vr is None or vr == "UN"):
                vr = dictionary_vr or "UN"  # what pydicom would take; checked below if it matters
            action = _action(tag, keyword, vr, bool(prefix))
            if action == "X":
                del ds[tag]
                if tag & 0xFFFF:  # group lengths go silently (stale once anything goes)
                    report.removed.append(label)
                continue
            if action == "K" and vr in _BINARY_VRS:
                report.kept.append(label)  # a number, bytes or a tag: left as it is, raw stays raw
                continue
            if action == "K" and elem.is_raw and elem.VR != "UN" and vr in _CONFORMING:
                # The common case, checked on the raw bytes (the slices of a series repeat most values).
                if _raw_conforms(vr, elem.value or b""):
                    report.kept.append(label)
                else:
                    del ds[tag]
                    report.removed.append(label)
                continue
            if elem.is_raw and (elem.VR == "UN" or vr not in _STRING_VRS or keyword == "PatientID"):
                # Converted as pydicom reads it (an explicit UN gets the dictionary's VR), and the
                # action taken again from that VR. Patient ID's pseudonym hashes the text decoded
                # in the data set's character set.
                elem = ds[tag]
                vr = elem.VR
                action = _action(tag, keyword, vr, bool(prefix))
            if action == "Q" or vr == "SQ":
                self._sequence(ds, elem, action, label, report)
                continue
            value = _raw_strings(elem) if elem.is_raw else elem.value
            outcome, new = self._decide(keyword, vr, action, value)
            if outcome == "X":
                del ds[tag]
                report.removed.append(label)
            elif outcome == "K":
                report.kept.append(label)
            else:
                _set_value(ds, elem, vr, new)
                report.replaced.append(label)

    def _sequence(self, ds: Dataset, elem: DataElement, action: str, label: str, report: DeidReport) -> None:
        if action == "Z" and elem.VR == "SQ":
            elem.value = []
            report.replaced.append(label)
        elif action != "Q" or elem.VR != "SQ":
            del ds[elem.tag]  # a sequence no rule keeps, or a kept one that is not a sequence
            report.removed.append(label)
        else:
            changes = len(report.removed) + len(report.replaced)
            for item in elem.value or []:
                self._clean(item, label + ".", report)
            # A sequence whose items were changed is not "kept" as a whole.
            unchanged = changes == len(report.removed) + len(report.replaced)
            (report.kept if unchanged else report.replaced).append(label)

    def _decide(self, keyword: str, vr: str, action: str, value: object) -> tuple[str, object]:
        """("K", None) to keep the value, ("X", None) to remove it, or (action, new value)."""
        if action == "Z":
            return "Z", ""
        if action == "D":
            return "D", self._dummy(keyword, vr, value)
        if action == "U":
            return ("U", _map_values(value, self._uid)) if vr == "UI" else ("X", None)
        if action == "S":
            function = {"DA": self._shift_da, "DT": self._shift_dt}.get(vr)
            shifted = _map_values(value, function) if function else None
            if shifted is None:
                return "X", None  # a date that cannot be parsed cannot be shifted safely
            return ("K", None) if shifted == value else ("S", shifted)
        values = _as_list(value)
        if not any(v.strip(" \0") for v in values):
            return "K", None  # empty: nothing to check (a Type 2 attribute may be empty)
        if action == "A":
            ages = [_capped_age(v) for v in values] if vr == "AS" else [None]
            if any(age is None for age in ages):
                return "X", None
            return ("K", None) if ages == [v.strip() for v in values] else ("A", "\\".join(ages))
        if action == "C":
            terms = DEFINED_TERMS.get(keyword, frozenset())
            return ("K", None) if all(v.strip() in terms for v in values) else ("X", None)
        # "K": a value that conforms to its VR holds no free text.
        if vr == "UI" and keyword == "SOPClassUID":
            registered = all(UID(v.strip()).type == "SOP Class" for v in values)
            return ("K", None) if registered else ("U", _map_values(value, self._uid))
        pattern = _CONFORMING.get(vr)
        if pattern is None or not all(pattern.fullmatch(v.strip(" \0")) for v in values):
            return "X", None
        return "K", None

    def _dummy(self, keyword: str, vr: str, value: object = None) -> object:
        if keyword == "PatientName" or vr == "PN":
            return _ANONYMOUS
        if keyword == "PatientID":
            return "ANON-" + self._keyed_digest("PatientID:" + str(value or "")).hex()[:10].upper()
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
        elif meta.get("MediaStorageSOPClassUID"):
            _, new = self._decide("SOPClassUID", "UI", "K", str(meta.MediaStorageSOPClassUID))
            if new is not None:  # not a registered SOP class: replaced as the data set's would be
                meta.MediaStorageSOPClassUID = new
        # The file will be written by pydicom: name it as the implementation.
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = f"PYDICOM {pydicom.__version__}"[:16]

    # -- value replacement ---------------------------------------------------------------

    def uid(self, value: str) -> str:
        """The UID this key writes in place of `value`, as in every file it de-identifies."""
        return self._uid(value)

    def _uid(self, value: str) -> str:
        value = str(value).strip(" \0")
        if not value:
            return value
        # Every UID, whatever its root: an instance UID under a well-known root is still one.
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
        """The date part shifted, the time kept, the time-zone offset (``&ZZXX``) dropped."""
        value = str(value).strip()
        if not value:
            return ""
        match = _DATETIME_RE.match(value)
        if not match:
            return None
        shifted = self._shift_da(match.group(1))
        return None if shifted is None else shifted + (match.group(2) or "")


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


@functools.lru_cache(maxsize=8192)
def _raw_conforms(vr: str, data: bytes) -> bool:
    """Whether the raw value `data` of a CS, DS, IS or TM element conforms to its VR (PS3.5 6.2)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return False
    pattern = _CONFORMING[vr]
    return all(pattern.fullmatch(v.strip(" \0")) for v in text.rstrip(" \0").split("\\"))


def _capped_age(value: str) -> str | None:
    """An Age String (PS3.5 6.2, AS) as kept: ``090Y`` from 90 years on; None if not an age."""
    match = _AGE_RE.match(value.strip())
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2)
    if number * _DAYS_PER[unit] >= _OLDEST_AGE_YEARS * _DAYS_PER["Y"]:
        return f"{_OLDEST_AGE_YEARS:03d}Y"
    return match.group(0)


@functools.lru_cache(maxsize=4096)
def _tag_info(tag: int) -> tuple[str, str | None]:
    """The keyword of a tag ("" if unknown) and its VR in the dictionary (None if unknown)."""
    try:
        return keyword_for_tag(tag), dictionary_VR(tag)
    except KeyError:
        return keyword_for_tag(tag), None


def _is_repeating_group(group: int) -> bool:
    """Curve (50xx) and overlay (60xx) groups, PS3.5 7.6."""
    return group % 2 == 0 and (0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E)


def _as_list(value: object) -> list[str]:
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _map_values(value: object, function: Callable[[str], str | None]) -> object:
    """Apply `function` to each value of a possibly multi-valued element; None if any fails."""
    if isinstance(value, MultiValue | list | tuple):
        mapped = [function(v) for v in value]
        return None if any(m is None for m in mapped) else mapped
    if value is None:
        return ""
    return function(value)


def _set_value(ds: Dataset, elem: DataElement | RawDataElement, vr: str, new: object) -> None:
    """Give `elem` the value `new`, a text (or list of texts) made here, or [] for a sequence.

    A raw element whose VR is known stays raw, encoded as pydicom encodes a string (multiple
    values joined by backslashes, padded to an even length with a space, or a NUL for a UI).
    The texts made here (empty, a dummy, a UID, a date, an age) are plain ASCII.
    """
    if not elem.is_raw or vr not in _STRING_VRS or elem.VR == "UN":
        ds[elem.tag].value = new
        return
    text = "\\".join(new) if isinstance(new, list) else str(new)
    if len(text) % 2:
        text += "\0" if vr == "UI" else " "
    data = text.encode(default_encoding)
    ds[elem.tag] = elem._replace(length=len(data), value=data)


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
    """The value of a raw string element, as pydicom converts an ASCII one (text, or a list of texts)."""
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
