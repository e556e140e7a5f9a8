"""An upload's de-identification report summed over its files, for faculty to read on the series page.

The report stored with an :class:`~imaging.models.Upload` has one entry per file: its verdict and,
for an accepted DICOM file, the attributes de-identification removed, replaced and kept. The slices
of one series nearly always give the same lists, so they are shown once, each attribute with the
number of files it applied to when that is not every one of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["ACTIONS", "UploadSummary", "upload_summary"]

ACTIONS = ("removed", "replaced", "kept")


@dataclass
class UploadSummary:
    accepted: int = 0
    #: (file name, why it was refused)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    #: Accepted DICOM files, to which the attribute counts below refer.
    dicom_files: int = 0
    #: For each action: (attribute, how many DICOM files it applied to), in the order first met.
    attributes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: Accepted PNG/JPEG files, re-encoded without their metadata.
    re_encoded: int = 0
    #: (file name, why it waits for an editor's look)
    flagged: list[tuple[str, str]] = field(default_factory=list)


def upload_summary(report: list[dict]) -> UploadSummary:
    """Sum `report` (``Upload.report``: one dict per file, as ``FileOutcome.as_dict`` made it)."""
    summary = UploadSummary()
    counts = {action: Counter() for action in ACTIONS}
    for entry in report:
        if not entry.get("accepted"):
            summary.rejected.append((entry.get("name", ""), entry.get("reason", "")))
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
            summary.flagged.append((entry.get("name", ""), deidentification.get("review_reason", "")))
    summary.attributes = {action: list(counts[action].items()) for action in ACTIONS}
    return summary
