"""Originals of an upload wait for the worker here, in a storage of their own, never in media storage.

``settings.QUARANTINE_STORAGE`` names the ``STORAGES`` alias: a private folder outside MEDIA_ROOT by
default (never served), or a private bucket. An original is stored under a neutral name (the upload's
id, its place, and an extension from an allow-list, which the ingest uses to sniff the file), since the
name it was uploaded under can name the patient. Each is deleted as soon as its file is de-identified or
refused; :func:`quarantine_sweep` removes what a dead or unknown upload left.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.utils import timezone

from imaging import inputs
from imaging.dicom.errors import RejectedFile
from imaging.inputs import SNIFF_BYTES, InputFile, is_zip
from imaging.models import Upload

__all__ = [
    "quarantine_delete",
    "quarantine_release",
    "quarantine_save",
    "quarantine_storage",
    "quarantine_sweep",
    "quarantined_inputs",
]

#: Extensions kept on a quarantined file (the ingest sniffs DICOM and zip files by them too).
KEPT_EXTENSIONS = {".dcm", ".dicom", ".ima", ".zip", ".png", ".jpg", ".jpeg"}
#: Originals that no upload row names are left this long: their request may not have committed yet.
UNKNOWN_GRACE = timedelta(hours=1)


def quarantine_storage() -> Storage:
    return storages[settings.QUARANTINE_STORAGE]


def _extension(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    return suffix if suffix in KEPT_EXTENSIONS else ""


def quarantine_save(*, upload_id: int, files: Iterable) -> list[str]:
    """Store Django uploaded `files` for upload `upload_id`; their quarantine names, in order."""
    storage = quarantine_storage()
    return [
        storage.save(f"uploads/{upload_id}/{position:05d}{_extension(file.name)}", file)
        for position, file in enumerate(files, start=1)
    ]


def input_name(position: int, stored_name: str) -> str:
    """The name the ingest sees for the `position`-th original: neutral, with its kept extension."""
    return f"file-{position}{_extension(stored_name)}"


def quarantined_inputs(names: Iterable[str]) -> Iterator[InputFile | RejectedFile]:
    """The originals `names`, read one at a time as the ingest asks for them; a file over the size
    limit is refused by its size, unread (as :func:`imaging.inputs.uploaded_files` does)."""
    storage = quarantine_storage()
    for position, name in enumerate(names, start=1):
        label = input_name(position, name)
        if not storage.exists(name):
            yield RejectedFile(label, "the original was no longer in quarantine")
            continue
        with storage.open(name, "rb") as original:
            head = original.read(SNIFF_BYTES)
            size = storage.size(name)
            limit = inputs.MAX_FILE_BYTES
            if size > limit and not is_zip(label, head):
                yield RejectedFile(label, f"file of {size} bytes is over the {limit}-byte limit")
                continue
            data = head + original.read()
        yield InputFile(label, data)


def quarantine_delete(names: Iterable[str]) -> None:
    storage = quarantine_storage()
    for name in names:
        storage.delete(name)  # no error when it is gone already


def quarantine_release(upload_id: int) -> None:
    """Delete whatever of upload `upload_id` is left in quarantine, and its folder."""
    storage = quarantine_storage()
    folder = f"uploads/{upload_id}"
    try:
        _, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    quarantine_delete(f"{folder}/{name}" for name in files)
    _remove_empty_folder(storage, folder)


def quarantine_sweep() -> int:
    """Delete the originals of uploads that are finished or unknown; how many files were deleted.

    An upload's originals go with its last file; this removes what a dead worker or a failed request
    left: folders of uploads that are done or failed, and folders no row names (a request rolled back)
    once they are older than :data:`UNKNOWN_GRACE`, since a request stores its originals before its
    upload row is committed.
    """
    storage = quarantine_storage()
    try:
        folders, _ = storage.listdir("uploads")
    except FileNotFoundError:
        return 0
    ids = {int(folder) for folder in folders if folder.isdigit()}
    status_of = dict(Upload.objects.filter(pk__in=ids).values_list("pk", "status"))
    finished = {Upload.Status.DONE, Upload.Status.FAILED}
    cutoff = timezone.now() - UNKNOWN_GRACE
    deleted = 0
    for folder in folders:
        status = status_of.get(int(folder)) if folder.isdigit() else None
        if status is not None and status not in finished:
            continue  # still waiting for a worker, or being worked on
        _, files = storage.listdir(f"uploads/{folder}")
        for file_name in files:
            name = f"uploads/{folder}/{file_name}"
            if status is None and storage.get_modified_time(name) > cutoff:
                continue
            storage.delete(name)
            deleted += 1
        _remove_empty_folder(storage, f"uploads/{folder}")
    return deleted


def _remove_empty_folder(storage: Storage, name: str) -> None:
    """File system storage leaves empty folders behind; object storage has none to remove."""
    with contextlib.suppress(NotImplementedError, OSError):  # no local path, or not empty
        os.rmdir(storage.path(name))
