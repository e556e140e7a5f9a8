"""Write an image's file into Django's file system storage in two halves: create here, fill on a thread.

The ingest writes each stored file on a thread beside the one preparing the next file. A Python
thread needs the GIL again after every system call, and the preparing thread holds it nearly all
the time (parsing and de-identifying are pure Python), so each call costs the writing thread a
wait. ``storage.save`` makes about nine calls per file (existence check, directory, open, lock,
write, unlock, close, chmod, plus the hash): in bench/ingest.py the writing thread needed 2.3 ms
per 0.5 MB slice, of which 0.8 ms on the CPU, and the preparing thread waited for it.

So for :class:`~django.core.files.storage.FileSystemStorage` (not a subclass that saves files its
own way) the file is created here — named by the image field as ``storage.save`` would name it,
opened with the same exclusive-create flags — and the writing thread only writes the bytes and
hashes them (:func:`write_and_hash`: two calls). :meth:`CreatedFile.finish` then sets the
storage's file permissions and closes it; :meth:`CreatedFile.abandon` removes it after a failure.
The lock ``storage.save`` takes is left out: nobody else knows the new file's random name yet.

A file whose folder does not exist yet, or a storage of another kind, goes through
``storage.save`` (:func:`created_file` returns None), which creates folders its own way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.files.storage import FileSystemStorage

from imaging.preparation import pieces_sha256

__all__ = ["CreatedFile", "created_file", "placed_file", "write_and_hash"]

# FileSystemStorage's own flags (Django 5.2): never replace an existing file.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
# A random name (imaging.models.stored_image_name) that exists already is drawn again.
_NAME_ATTEMPTS = 5
# The most pieces one os.writev takes (POSIX guarantees at least 16; Linux allows 1024).
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16


@dataclass
class CreatedFile:
    """A new, empty file in file system storage, open for writing; its name is the image's."""

    path: str
    fd: int | None
    permissions: int | None

    def finish(self) -> None:
        """Once the bytes are written: the storage's file permissions, as ``storage.save`` sets them."""
        try:
            if self.permissions is not None:
                os.fchmod(self.fd, self.permissions)
        finally:
            self._close()

    def abandon(self) -> None:
        """After a failure, or when the upload is given up: close and remove the file."""
        self._close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


def writes_files_itself(storage) -> bool:
    """Whether `storage` is Django's file system storage, saving files as Django 5.2 does."""
    return (
        isinstance(storage, FileSystemStorage)
        and storage.__class__._save is FileSystemStorage._save  # __class__: default_storage is lazy
        and storage.OS_OPEN_FLAGS == _CREATE_FLAGS
        and not getattr(storage, "_allow_overwrite", False)
    )


def created_file(image, known_folders: set[str]) -> CreatedFile | None:
    """Create the file of `image` (an unsaved row) and give the field its name; None: use ``save``.

    `known_folders` holds the folders seen to exist during this upload, so that each is looked
    at once.
    """
    permissions = image.file.storage.file_permissions_mode

    def create(path: str) -> CreatedFile:
        return CreatedFile(path=path, fd=os.open(path, _CREATE_FLAGS, 0o666), permissions=permissions)

    return _under_a_free_name(image, known_folders, create)


def placed_file(image, spooled_path: str, known_folders: set[str]) -> str | None:
    """Link a worker's spool file into storage under the name the image field gives `image`.

    Returns the stored file's path, or None when ``storage.save`` has to do it: another kind of
    storage, a folder that does not exist yet, or a spool on another file system (or one without
    hard links). A hard link, unlike a rename, never replaces a file already there: a taken name
    is drawn again, as ``storage.save`` would. The spool's name is unlinked once the file is in
    place (the folder goes anyway when the upload ends), and the storage's file permissions set.
    """
    permissions = image.file.storage.file_permissions_mode

    def link(path: str) -> str | None:
        try:
            os.link(spooled_path, path)
        except FileExistsError:  # a taken name (an OSError too): drawn again
            raise
        except OSError:  # another file system (EXDEV), or no hard links there: storage.save copies
            return None
        try:
            if permissions is not None:
                os.chmod(path, permissions)
        except BaseException:
            os.unlink(path)
            raise
        with contextlib.suppress(OSError):
            os.unlink(spooled_path)
        return path

    return _under_a_free_name(image, known_folders, link)


def _under_a_free_name(image, known_folders: set[str], create):
    """``create(path)`` at the name the image field gives `image`, drawn again while it is taken.

    `create` raises FileExistsError for a taken name, and returns None to leave the file to
    ``storage.save``; whatever else it returns is returned, and the field gets the name. None,
    too, for another kind of storage, or a folder that does not exist yet (``storage.save``
    creates it, with the storage's folder permissions).
    """
    field_file = image.file
    storage = field_file.storage
    if not writes_files_itself(storage):
        return None
    for _ in range(_NAME_ATTEMPTS):
        name = field_file.field.generate_filename(image, "upload")  # upload_to, then validated
        path = storage.path(name)  # refuses a name outside the storage's folder
        folder = os.path.dirname(path)
        if folder not in known_folders:
            if not os.path.isdir(folder):
                return None
            known_folders.add(folder)
        try:
            made = create(path)
        except FileExistsError:
            continue
        if made is not None:
            field_file.name = name
        return made
    raise FileExistsError(f"no free file name in {folder} after {_NAME_ATTEMPTS} attempts")


def write_and_hash(fd: int, pieces: Sequence[bytes]) -> str:
    """On the writing thread: the pieces into `fd`, one after the other, and the SHA-256 of them all.

    One ``os.writev`` writes them all (a system call or two per file, not one per piece), and
    the hash is taken piece by piece, so the pieces are never copied into one buffer.
    """
    views = [memoryview(piece) for piece in pieces if piece]
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        if written == 0:
            raise OSError(f"nothing was written to file descriptor {fd}")
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if written:
            views[0] = views[0][written:]
    return pieces_sha256(pieces)
