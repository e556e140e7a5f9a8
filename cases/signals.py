"""Receivers that retire the cached page parts (``cases/caching.py``) whenever the archive changes.

Cases and their rows (findings, differential items, references, taggings, region links) retire the
``cases`` scope; regions, diagnoses and tags, whose names and places are in every entry, the
``names`` scope. The filter values a case counted under before and after a write are retired by
``cases/facet_rows.py``, which alone knows them. Apps above ``cases`` connect their own models with
``archive_changed_on_save_and_delete`` (``imaging``: studies, series, images and arrows, in its
``apps.py``). Writes that bypass signals (``bulk_create``, ``QuerySet.update()``) must call
``cases.caching.archive_changed()`` and ``cases.facet_rows.case_facets_refresh`` themselves.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from taggit.models import Tag

from cases.caching import archive_changed, names_changed
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region, TaggedCase

WATCHED_MODELS = (Case, Finding, DifferentialItem, Reference, TaggedCase, Case.regions.through)
NAMED_MODELS = (Region, Diagnosis, Tag)
M2M_THROUGH = (TaggedCase, Case.regions.through)


def _links_changed(sender, action, using=None, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        archive_changed(using=using or "default")


def archive_changed_on_save_and_delete(*models) -> None:
    """Retire the cached page parts whenever a row of these models is saved or deleted."""
    for model in models:
        label = model._meta.label
        post_save.connect(archive_changed, sender=model, dispatch_uid=f"archive-changed-save-{label}")
        post_delete.connect(archive_changed, sender=model, dispatch_uid=f"archive-changed-delete-{label}")


def connect() -> None:
    archive_changed_on_save_and_delete(*WATCHED_MODELS)
    for model in NAMED_MODELS:
        label = model._meta.label
        post_save.connect(names_changed, sender=model, dispatch_uid=f"names-changed-save-{label}")
        post_delete.connect(names_changed, sender=model, dispatch_uid=f"names-changed-delete-{label}")
    for through in M2M_THROUGH:
        m2m_changed.connect(
            _links_changed, sender=through, dispatch_uid=f"archive-changed-m2m-{through._meta.label}"
        )
