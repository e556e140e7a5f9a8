"""An image's files go with it: once the deletion of an Image row commits, its stored de-identified
file and its cached renders are deleted from storage.

Faculty expect an image they delete to be gone, not kept on disk. A ``post_delete`` receiver,
because a case, study or series deleted in the admin deletes its images by cascade, without
calling ``Image.delete()``. Nothing is deleted before the commit (a deletion rolled back loses no
file): each image's files go in a ``transaction.on_commit`` callback of its own, which keeps a
file another row still names (bench/generate.py's archives share files between rows). A storage
error then is logged, not raised: the rows are gone either way, and a file left behind harms nothing.
"""

from __future__ import annotations

from functools import partial

from django.core.files.storage import default_storage
from django.db import transaction
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


def _image_deleted(sender, instance: Image, using: str, **_kwargs) -> None:
    names = {instance.file.name} if instance.file.name else set()
    # Outside a transaction on_commit runs at once; inside, a rollback drops it with the deletion.
    transaction.on_commit(
        partial(image_files_delete, names=names, image_ids={instance.pk}), using=using, robust=True
    )


def connect() -> None:
    post_delete.connect(_image_deleted, sender=Image, dispatch_uid="imaging-image-files-deleted")
