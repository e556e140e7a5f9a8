"""An image's files go with it: once the deletion of an Image row commits, its stored de-identified
file and its cached renders are deleted from storage.

Faculty expect an image they delete to be gone, not kept on disk. A ``post_delete`` receiver,
because a case, study or series deleted in the admin deletes its images by cascade, without
calling ``Image.delete()``. Nothing is deleted before the commit (a deletion rolled back loses no
file), and the deletions of one transaction — a whole case's images — are done together, at its
end: a query per 500 stored files, for those another row still names (bench/generate.py's archives
share files between rows), and one folder listing per thousand images for the renders. A storage
error then is logged, not raised: the rows are gone either way, and a file left behind harms nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.db.models.signals import post_delete

from imaging.models import Image
from imaging.rendering import renders_delete

__all__ = ["connect", "image_files_delete"]

# Query parameters per query, well under SQLite's limit (999 before 3.32).
_NAMES_PER_QUERY = 500


def image_files_delete(*, names: set[str], image_ids: set[int]) -> None:
    """Delete the stored files `names` (unless a row still names one) and the renders of `image_ids`."""
    ordered = sorted(names)
    still_named = set()
    for start in range(0, len(ordered), _NAMES_PER_QUERY):
        chunk = ordered[start : start + _NAMES_PER_QUERY]
        still_named.update(Image.objects.filter(file__in=chunk).values_list("file", flat=True))
    for name in sorted(names - still_named):
        default_storage.delete(name)
    renders_delete(image_ids)


@dataclass
class _PendingDeletions:
    """The files of the images one transaction (or savepoint) deletes, for its commit."""

    names: set[str] = field(default_factory=set)
    image_ids: set[int] = field(default_factory=set)

    def __call__(self) -> None:
        image_files_delete(names=self.names, image_ids=self.image_ids)


def _registered(using: str) -> _PendingDeletions | None:
    """This transaction's pending deletions, if ``on_commit`` has them already.

    Only if registered under the current savepoints: a savepoint rolled back drops its callbacks,
    and so the deletions inside it, but not those registered before it.
    """
    connection = connections[using]
    savepoints = set(connection.savepoint_ids)
    for registered_under, callback, _robust in getattr(connection, "run_on_commit", []):
        if isinstance(callback, _PendingDeletions) and registered_under == savepoints:
            return callback
    return None


def _image_deleted(sender, instance: Image, using: str, **_kwargs) -> None:
    pending = _registered(using)
    fresh = pending is None
    if fresh:
        pending = _PendingDeletions()
    if instance.file.name:
        pending.names.add(instance.file.name)
    pending.image_ids.add(instance.pk)
    if fresh:  # after the first image is in: outside a transaction, on_commit runs it at once
        transaction.on_commit(pending, using=using, robust=True)


def connect() -> None:
    post_delete.connect(_image_deleted, sender=Image, dispatch_uid="imaging-image-files-deleted")
