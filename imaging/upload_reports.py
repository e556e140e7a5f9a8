"""An upload's de-identification report summed over its files, for faculty to read on the series page.

The report stored with an :class:`~imaging.models.Upload` has one entry per file: its verdict and,
for an accepted DICOM file, the attributes de-identification removed, replaced and kept. The slices
of one series nearly always give the same lists, so they are shown once, each attribute with the
number of files it applied to when that is not every one of them.

A file is named there by its place in the upload and a hash (:func:`file_label`), never by the
name it was uploaded under: names like ``DOE_JANE_MRN12345_ct1.dcm`` are common. The uploader sees
the names while the upload runs and in the answer to it; they are never stored.

Faculty read first a short summary: how many attributes were removed, replaced and kept, by kind
(:data:`KINDS`, :func:`attribute_kind`); the attributes themselves are listed below it, folded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR, tag_for_keyword

__all__ = [
    "ACTIONS",
    "KINDS",
    "UploadSummary",
    "attribute_kind",
    "counts_by_kind",
    "file_label",
    "upload_summary",
    "without_file_name",
]

ACTIONS = ("removed", "replaced", "kept")
#: The kinds of attribute a summary counts, in the order it shows them.
KINDS = ("names and IDs", "dates and times", "UIDs", "private tags", "descriptions", "other")
_UNNAMED_TAG = re.compile(r"\(([0-9A-Fa-f]{4}),[0-9A-Fa-f]{4}\)")
# Keyword endings of identifying text (Accession Number, Station Name, Other Patient IDs …); numeric
# ones such as Series Number (IS) are counted apart by their VR.
_IDENTIFYING_ENDINGS = ("ID", "IDs", "Number", "Name", "Address")
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "SQ"})
#: Hex digits of the hash shown: enough to tell a series' files apart, too few to look anything up.
HASH_DIGITS = 8


def file_label(position: int, sha256: str = "") -> str:
    """How the stored report names a file: ``"file 3 (sha256 1a2b3c4d…)"``.

    Parameters
    ----------
    position : int
        The file's place in the upload, from 1 (each entry of a zip counts as a file).
    sha256 : str, optional
        The hex SHA-256 of the stored, de-identified file (an accepted file: the image's own
        ``sha256``), or of the bytes as uploaded (a rejected file); empty if they were never
        read (a file refused by its declared size).
    """
    return f"file {position} (sha256 {sha256[:HASH_DIGITS]}…)" if sha256 else f"file {position}"


def without_file_name(text: str, name: str) -> str:
    """`text` with the file name `name`, and each part of its path, replaced by "the file".

    A reason for refusing a file can quote its name (a zip library's error names the entry).
    """
    parts = {name, *re.split(r"[/\\:]", name)}
    for part in sorted((p for p in parts if len(p) >= 3), key=len, reverse=True):
        text = text.replace(part, "the file")
    return text


def attribute_kind(label: str) -> str:
    """The kind (one of :data:`KINDS`) of the attribute a report names `label`.

    `label` is a keyword (``"PatientName"``), a keyword inside a sequence
    (``"OtherPatientIDsSequence.PatientID"``: the last one counts) or an unnamed tag
    (``"(0019,1002)"``: private when its group is odd, PS3.5 7.8). Kinds follow the attribute's
    VR in the data dictionary (PN names, DA/DT/TM dates and times, UI UIDs) and its keyword.
    """
    keyword = label.rsplit(".", 1)[-1]
    unnamed = _UNNAMED_TAG.fullmatch(keyword)
    if unnamed:
        return "private tags" if int(unnamed[1], 16) % 2 else "other"
    tag = tag_for_keyword(keyword)
    vr = dictionary_VR(tag) if tag is not None else ""
    stem = keyword.removesuffix("Sequence")
    if vr == "UI":
        return "UIDs"
    if vr in ("DA", "DT", "TM"):
        return "dates and times"
    if vr == "PN" or (vr in _TEXT_VRS and stem.endswith(_IDENTIFYING_ENDINGS)):
        return "names and IDs"
    if vr in ("LT", "ST", "UT") or "Description" in stem or "Comment" in stem:
        return "descriptions"
    return "other"


def counts_by_kind(attributes: Mapping[str, Iterable[str]]) -> dict[str, dict[str, int]]:
    """How many attributes of each kind each action applied to: ``{kind: {action: count}}``, only the
    kinds met, in the order of :data:`KINDS`. `attributes` maps an action to attribute labels."""
    counts = {kind: dict.fromkeys(ACTIONS, 0) for kind in KINDS}
    for action in ACTIONS:
        for label in attributes.get(action, ()):
            counts[attribute_kind(label)][action] += 1
    return {kind: by_action for kind, by_action in counts.items() if any(by_action.values())}


@dataclass
class UploadSummary:
    accepted: int = 0
    #: (file label, why it was refused)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    #: Accepted DICOM files, to which the attribute counts below refer.
    dicom_files: int = 0
    #: For each action: (attribute, how many DICOM files it applied to), in the order first met.
    attributes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: Accepted PNG/JPEG files, re-encoded without their metadata.
    re_encoded: int = 0
    #: (file label, why it waits for an editor's look)
    flagged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def by_kind(self) -> dict[str, dict[str, int]]:
        """Distinct attributes per kind and action, over the upload's DICOM files."""
        return counts_by_kind(
            {action: [name for name, _files in names] for action, names in self.attributes.items()}
        )


def upload_summary(report: list[dict]) -> UploadSummary:
    """Sum `report` (``Upload.report``: one dict per file, as ``FileOutcome.as_dict`` made it)."""
    summary = UploadSummary()
    counts = {action: Counter() for action in ACTIONS}
    for entry in report:
        if not entry.get("accepted"):
            summary.rejected.append((entry.get("file", ""), entry.get("reason", "")))
            continue
        summary.accepted += 1
        deidentification = entry.get("deidentification") or {}
        if "re-encoded" in deidentification:
            summary.re_encoded += 1
            continue
        summary.dicom_files += 1
        for action in ACTIONS:
            counts[action].update(dict.fromkeys(deidentification.get(action, []), 1))
        if deidentification.get("needs_review"):
            summary.flagged.append((entry.get("file", ""), deidentification.get("review_reason", "")))
    summary.attributes = {action: list(counts[action].items()) for action in ACTIONS}
    return summary
