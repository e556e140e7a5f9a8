"""Receivers that retire the cached page parts (``cases/caching.py``) whenever the archive changes.

Every model whose rows can move a facet count or a home-page aggregate is listed: cases and their
rows, tags and taggings, regions and region links, diagnoses, studies, series, images (through the
Upload each ingest records) and arrows. Writes that bypass signals (``bulk_create``,
``QuerySet.update()``) must call ``cases.caching.archive_changed()`` themselves.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from taggit.models import Tag

from cases.caching import archive_changed
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region, TaggedCase
from imaging.models import Annotation, Image, Series, Study, Upload

WATCHED_MODELS = (
    Case,
    Finding,
    DifferentialItem,
    Reference,
    Region,
    Diagnosis,
    Tag,
    TaggedCase,
    Case.regions.through,
    Study,
    Series,
    Image,
    # Ingest writes images in bulk (no signal per row), then records the run as an Upload: its save
    # is the signal that a series has new images.
    Upload,
    # Arrows and labels are in the case page's viewer data.
    Annotation,
)
M2M_THROUGH = (TaggedCase, Case.regions.through)


def _links_changed(sender, action, using=None, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        archive_changed(using=using or "default")


def connect() -> None:
    for model in WATCHED_MODELS:
        label = model._meta.label
        post_save.connect(archive_changed, sender=model, dispatch_uid=f"archive-changed-save-{label}")
        post_delete.connect(archive_changed, sender=model, dispatch_uid=f"archive-changed-delete-{label}")
    for through in M2M_THROUGH:
        m2m_changed.connect(
            _links_changed, sender=through, dispatch_uid=f"archive-changed-m2m-{through._meta.label}"
        )
