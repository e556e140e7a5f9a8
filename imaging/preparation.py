"""The CPU-bound part of the ingest of one file: read, validate, de-identify, encode.

:func:`prepare` turns the bytes of one uploaded file into the de-identified bytes to store, the
fields of its index row and the de-identification report, or raises
:class:`~imaging.dicom.errors.RejectedFile`. It is a pure function of its input and the case's
de-identification key: no database, no storage, so it can be tested (and run) on its own.
"""

from __future__ import annotations

import hashlib

from imaging.decode_budget import DEFAULT_MEMORY_LIMIT
from imaging.dicom.deidentify import Deidentifier, UncleanablePixelData, dataset_to_bytes
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_dicom, slice_position, sort_key
from imaging.dicom.render import frame_count
from imaging.raster import read_raster, reencode_png

__all__ = [
    "KIND_DICOM",
    "KIND_RASTER",
    "RASTER_REVIEW_REASON",
    "Prepared",
    "looks_like_dicom",
    "prepare",
]

# The values of ``imaging.models.Image.Kind`` (plain strings: no Django here).
KIND_DICOM = "dicom"
KIND_RASTER = "raster"

RASTER_REVIEW_REASON = "PNG/JPEG upload: screenshots often carry burned-in names; look before publishing"

#: What :func:`prepare` returns: the bytes to store, the fields of their index row, the
#: de-identification report.
Prepared = tuple[bytes, dict, dict]


def looks_like_dicom(name: str, data: bytes) -> bool:
    return data[128:132] == b"DICM" or name.lower().endswith((".dcm", ".dicom", ".ima"))


def prepare(
    name: str, data: bytes, deidentifier: Deidentifier, *, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> Prepared:
    """Validated, de-identified bytes, the index fields (``sha256`` of those bytes among them), and
    the de-identification report.

    `memory_limit` bounds what reading the file may take (``settings.DECODE_MEMORY_LIMIT``: see
    :mod:`imaging.decode_budget`).

    Raises :class:`~imaging.dicom.errors.RejectedFile` for a file that cannot be accepted, with the
    SHA-256 of `data` (an accepted file is known by the hash of what is stored instead).
    """
    try:
        content, fields, report = _prepared(name, data, deidentifier, memory_limit)
    except RejectedFile as rejection:
        rejection.sha256 = hashlib.sha256(data).hexdigest()
        raise
    return content, {**fields, "sha256": hashlib.sha256(content).hexdigest()}, report


def _prepared(name: str, data: bytes, deidentifier: Deidentifier, memory_limit: int) -> Prepared:
    if looks_like_dicom(name, data):
        dataset = read_dicom(data, name=name, memory_limit=memory_limit)
        try:
            report = deidentifier.deidentify(dataset)
        except UncleanablePixelData as error:
            reason = f"the pixel data could not be cleaned of hidden content: {error}"
            raise RejectedFile(name, reason) from error
        fields = {
            "kind": KIND_DICOM,
            "modality": str(dataset.get("Modality", "")),
            "rows": int(dataset.Rows),
            "columns": int(dataset.Columns),
            "frame_count": frame_count(dataset),
            "sort_key": sort_key(dataset),
            "slice_position": slice_position(dataset),
            "needs_review": report.needs_review,
            "review_reason": report.review_reason,
        }
        return dataset_to_bytes(dataset), fields, report.as_dict()
    picture = read_raster(data, name=name, memory_limit=memory_limit)
    fields = {
        "kind": KIND_RASTER,
        "rows": picture.height,
        "columns": picture.width,
        "needs_review": True,
        "review_reason": RASTER_REVIEW_REASON,
    }
    return reencode_png(picture), fields, {"re-encoded": "PNG without metadata (text, EXIF, ICC) was stored"}
