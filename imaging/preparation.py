"""The CPU-bound part of the ingest of one file: read, validate, de-identify, encode.

:func:`prepare` turns the bytes of one uploaded file into the de-identified bytes to store, the
fields of its index row and the de-identification report, or raises
:class:`~imaging.dicom.errors.RejectedFile`. It is a pure function of its input and the case's
de-identification key: no database, no storage.

:func:`imaging.services.images_ingest` runs it in-process for small uploads and, for larger ones,
in worker processes (:func:`serve`, started by :mod:`imaging.workers`) while the main process
stores files and writes rows. So this module must stay importable without Django: a worker
process never sets Django up, and takes in and hands back only plain data (the path of a file
holding the input, the path of a file it wrote the prepared bytes to: see :func:`serve`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import recv_handle

from imaging.decode_budget import DEFAULT_MEMORY_LIMIT
from imaging.dicom.deidentify import Deidentifier, UncleanablePixelData
from imaging.dicom.errors import RejectedFile
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
    "Reply",
    "Spooled",
    "Task",
    "looks_like_dicom",
    "pieces_sha256",
    "pieces_size",
    "prepare",
    "prepare_spooled",
    "serve",
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


def prepare(
    name: str, data: bytes, deidentifier: Deidentifier, *, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> Prepared:
    """Validated, de-identified bytes, the index fields, and the de-identification report.

    `memory_limit` bounds what reading the file may take (``settings.DECODE_MEMORY_LIMIT``: see
    :mod:`imaging.decode_budget`).

    The field ``sha256`` is None, left to whoever stores the bytes (in process, the ingest hashes
    them on its writing thread, beside the preparation of the next file; a worker, as it spools).

    Raises :class:`~imaging.dicom.errors.RejectedFile` for a file that cannot be accepted, with the
    SHA-256 of `data` (hashed only then: an accepted file is known by the hash of what is stored).
    """
    try:
        return _prepared(name, data, deidentifier, memory_limit)
    except RejectedFile as rejection:
        rejection.sha256 = hashlib.sha256(data).hexdigest()
        raise


def _prepared(name: str, data: bytes, deidentifier: Deidentifier, memory_limit: int) -> Prepared:
    if looks_like_dicom(name, data):
        dataset = read_dicom(data, name=name, memory_limit=memory_limit)
        try:
            report = deidentifier.deidentify(dataset)
        except UncleanablePixelData as error:
            reason = f"the pixel data could not be cleaned of hidden content: {error}"
            raise RejectedFile(name, reason) from error
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
    picture = read_raster(data, name=name, memory_limit=memory_limit)
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


@dataclass(frozen=True)
class Spooled:
    """Prepared bytes a worker wrote to a file of the upload's spool folder, in place of the bytes."""

    path: str
    size: int


@dataclass(frozen=True)
class Task:
    """One file for a worker: its bytes are in its slot number `slot`, `size` long.

    The bytes go through a file that is written over for every task, not through the pipe: on
    tmpfs that is one copy into memory already in use (about 20 µs for a 0.5 MB slice), where
    pickling and piping them cost this process about 0.25 ms of CPU per slice, and a feeder
    thread that had to wait for the GIL while this process de-identified other files.
    """

    name: str
    slot: int
    size: int


# What a worker sends back for a task: ("prepared", (Spooled, fields, report)), ("rejected",
# RejectedFile) or ("failed", (the exception, its traceback as text)); and, told to stop,
# ("stopped", its CPU seconds).
Reply = tuple[str, object]


def serve(
    conn,
    seed: str,
    date_offset_days: int,
    spool: str,
    slot_count: int,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> None:
    """A worker process: prepare each :class:`Task` received on `conn`, in order, until None comes.

    First `slot_count` descriptors come on `conn`: the worker's slots (files with no name).

    Deidentifiers built from the same seed and offset map every UID, date and Patient ID the same
    way (the new values are derived from the seed, see :class:`Deidentifier`), so the worker's own
    instance de-identifies exactly as the main process's would.

    The prepared bytes are written to a new file in `spool` (a folder of the main process's, for
    this upload) and hashed there; the reply names the file instead of carrying the bytes, and
    the main process links the file into storage. The main process removes the folder when the
    upload is done, whatever happened, so a file it never took is not left over.
    """
    deidentifier = Deidentifier(seed=seed, date_offset_days=date_offset_days)
    slots: list[int] = []
    try:
        slots += [recv_handle(conn) for _ in range(slot_count)]
        while (task := conn.recv()) is not None:
            conn.send(_reply(task, deidentifier, slots, spool, memory_limit))
        conn.send(("stopped", time.process_time()))  # its CPU time, for the benchmark's figures
    except (EOFError, BrokenPipeError, KeyboardInterrupt):  # the main process went away
        pass
    finally:
        for descriptor in slots:
            os.close(descriptor)


def _reply(task: Task, deidentifier: Deidentifier, slots: list[int], spool: str, memory_limit: int) -> Reply:
    try:
        data = os.pread(slots[task.slot], task.size, 0)
        if len(data) != task.size:
            raise OSError(f"slot {task.slot} holds {len(data)} bytes, not {task.size}")
        return "prepared", prepare_spooled(task.name, data, deidentifier, spool, memory_limit=memory_limit)
    except RejectedFile as rejection:
        return "rejected", rejection
    except Exception as error:  # raised again in the main process, with this traceback
        return "failed", (_picklable(error), traceback.format_exc())


def _picklable(error: Exception) -> Exception:
    """`error`, if it survives the trip to the main process; else a RuntimeError that says what it was.

    An exception whose ``__init__`` wants other arguments than it keeps in ``args`` pickles, then
    fails to unpickle there: the main process would see that TypeError instead of this error.
    """
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def prepare_spooled(
    name: str,
    data: bytes,
    deidentifier: Deidentifier,
    spool: str,
    *,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> tuple[Spooled, dict, dict]:
    """:func:`prepare`, with the prepared bytes written to a new file in `spool` and hashed."""
    content, fields, report = prepare(name, data, deidentifier, memory_limit=memory_limit)
    descriptor, path = tempfile.mkstemp(dir=spool, suffix=".part")
    with os.fdopen(descriptor, "wb") as spooled:
        spooled.writelines(content)
    return Spooled(path, pieces_size(content)), {**fields, "sha256": pieces_sha256(content)}, report
