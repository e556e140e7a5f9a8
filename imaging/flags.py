"""Clearing the burned-in text flag: an editor's look that lets an image be shown on a published case."""

from django.db import transaction
from django.utils import timezone

from cases.caching import archive_changed


@transaction.atomic
def image_flags_clear(*, images, by) -> int:
    """Clear the flag of every flagged image among ``images``; returns how many. A bulk update sends no
    signal, so the cached pages that left these images out are retired here."""
    cleared = images.filter(needs_review=True, reviewed_at__isnull=True).update(
        reviewed_by=by, reviewed_at=timezone.now()
    )
    if cleared:
        archive_changed()
    return cleared
