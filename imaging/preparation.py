"""The CPU-bound part of the ingest of one file: read, validate, de-identify, encode.

:func:`prepare` turns the bytes of one uploaded file into the de-identified bytes to store, the
fields of its index row and the de-identification report, or raises
:class:`~imaging.dicom.errors.RejectedFile`. It is a pure function of its input and the case's
de-identification key: no database, no storage.

:func:`imaging.services.images_ingest` runs it in-process for small uploads and, for larger ones,
in worker processes (:func:`prepare_in_worker`) while the main process stores files and writes
rows. So this module must stay importable without Django: a worker process never sets Django up,
and takes in and hands back only bytes and plain data (or, in a worker, the path of a file it
wrote the prepared bytes to: see :func:`prepare_in_worker`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

from imaging.dicom.deidentify import Deidentifier
from imaging.dicom.reading import read_dicom, slice_position, sort_key
from imaging.dicom.render import frame_count
from imaging.dicom.writing import dataset_to_pieces
from imaging.raster import read_raster, reencode_png

__all__ = [
    "KIND_DICOM",
    "KIND_RASTER",
    "RASTER_REVIEW_REASON",
    "Pieces",
    "Prepared",
    "Spooled",
    "looks_like_dicom",
    "pieces_sha256",
    "pieces_size",
    "prepare",
    "prepare_in_worker",
]

# The values of ``imaging.models.Image.Kind`` (plain strings: no Django here).
KIND_DICOM = "dicom"
KIND_RASTER = "raster"

RASTER_REVIEW_REASON = "PNG/JPEG upload: screenshots often carry burned-in names; look before publishing"

#: The bytes to store, in pieces written one after the other (a DICOM file's pixel data is a piece
#: of its own, not copied: see :func:`~imaging.dicom.writing.dataset_to_pieces`).
Pieces = tuple[bytes, ...]
#: What :func:`prepare` returns: the bytes to store, the fields of their index row (``sha256``
#: left None: see :func:`prepare`), the de-identification report.
Prepared = tuple[Pieces, dict, dict]


def pieces_size(pieces: Pieces) -> int:
    return sum(map(len, pieces))


def pieces_sha256(pieces: Pieces) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


def looks_like_dicom(name: str, data: bytes) -> bool:
    return data[128:132] == b"DICM" or name.lower().endswith((".dcm", ".dicom", ".ima"))


def prepare(name: str, data: bytes, deidentifier: Deidentifier) -> Prepared:
    """Validated, de-identified bytes, the index fields, and the de-identification report.

    The field ``sha256`` is None, left to whoever stores the bytes (in process, the ingest hashes
    them on its writing thread, beside the preparation of the next file; a worker, as it spools).

    Raises :class:`~imaging.dicom.errors.RejectedFile` for a file that cannot be accepted.
    """
    if looks_like_dicom(name, data):
        dataset = read_dicom(data, name=name)
        report = deidentifier.deidentify(dataset)
        content = tuple(dataset_to_pieces(dataset))
        fields = {
            "kind": KIND_DICOM,
            "sha256": None,
            "modality": str(dataset.get("Modality", "")),
            "rows": int(dataset.Rows),
            "columns": int(dataset.Columns),
            "frame_count": frame_count(dataset),
            "sort_key": sort_key(dataset),
            "slice_position": slice_position(dataset),
            "needs_review": report.needs_review,
            "review_reason": report.review_reason,
        }
        return content, fields, report.as_dict()
    picture = read_raster(data, name=name)
    content = (reencode_png(picture),)
    fields = {
        "kind": KIND_RASTER,
        "sha256": None,
        "rows": picture.height,
        "columns": picture.width,
        "needs_review": True,
        "review_reason": RASTER_REVIEW_REASON,
    }
    return content, fields, {"re-encoded": "PNG without metadata (text, EXIF, ICC) was stored"}


# -- in a worker process ------------------------------------------------------------------------

# The worker's Deidentifier and the key it was built from. One upload uses one key, so this is
# built once per worker; a worker that is handed another key builds a new one.
_worker_deidentifier: tuple[tuple[str, int], Deidentifier] | None = None


@dataclass(frozen=True)
class Spooled:
    """Prepared bytes a worker wrote to a file of the upload's spool folder, in place of the bytes."""

    path: str
    size: int


def prepare_in_worker(
    name: str, data: bytes, seed: str, date_offset_days: int, spool: str
) -> tuple[Spooled, dict, dict]:
    """:func:`prepare` in a worker process, with a Deidentifier built there from the case's key.

    Deidentifiers built from the same seed and offset map every UID, date and Patient ID the same
    way (the new values are derived from the seed, see :class:`Deidentifier`), so each worker's
    own instance de-identifies exactly as the main process's would. A
    :class:`~imaging.dicom.errors.RejectedFile` raised here pickles cleanly and is raised again
    in the main process.

    The prepared bytes are written to a new file in `spool` (a folder of the main process's, for
    this upload), hashed, and its path handed back instead of the bytes: the main process then moves
    the file into storage rather than receive the bytes through a pipe and write them itself,
    which was most of its work per file. The main process removes the folder when the upload
    is done, whatever happened, so a file it never took is not left over.
    """
    global _worker_deidentifier
    key = (seed, date_offset_days)
    if _worker_deidentifier is None or _worker_deidentifier[0] != key:
        _worker_deidentifier = (key, Deidentifier(seed=seed, date_offset_days=date_offset_days))
    content, fields, report = prepare(name, data, _worker_deidentifier[1])
    descriptor, path = tempfile.mkstemp(dir=spool, suffix=".part")
    with os.fdopen(descriptor, "wb") as spooled:
        spooled.writelines(content)
    return Spooled(path, pieces_size(content)), {**fields, "sha256": pieces_sha256(content)}, report
