"""Receivers that keep each case's search document current when a row its text is made of changes.

Connected in ``CasesConfig.ready``. Each passes the news on to the service code in ``cases/search.py``
and ``cases/tags.py``, which does the work. Raw saves (``loaddata``) are left alone: the rows a
document is built from may not all be loaded yet. Writes that send no signal (``bulk_create``,
``QuerySet.update()``) call ``search_documents_refresh`` themselves.
"""

from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from taggit.models import Tag

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region, TaggedCase
from cases.search import (
    case_search_refresh,
    search_after_diagnosis_saved,
    search_after_m2m_change,
    search_after_region_saved,
    search_documents_refresh,
)
from cases.tags import search_after_tag_saved, tagged_case_ids

SECTION_ROWS = (Finding, DifferentialItem, Reference)


def _case_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        case_search_refresh(case=instance)


def _diagnosis_saved(sender, instance, raw=False, **kwargs):
    # Its name and synonyms are in the search text of every case that names it.
    if not raw:
        search_after_diagnosis_saved(diagnosis=instance)


def _region_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        search_after_region_saved(region=instance)


def _section_row_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        search_documents_refresh(case_ids=[instance.case_id])


def _deleted_with_its_case(origin) -> bool:
    return isinstance(origin, Case) or (isinstance(origin, QuerySet) and origin.model is Case)


def _section_row_deleted(sender, instance, origin=None, **kwargs):
    # A row deleted with its case takes the case's document with it: there is nothing to rewrite.
    if not _deleted_with_its_case(origin):
        search_documents_refresh(case_ids=[instance.case_id])


def _tags_or_regions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """Tags and regions change through ``case.tags.set()`` / ``case.regions.set()``, which save no row
    of ours: ``m2m_changed`` is the only place to hear of it."""
    search_after_m2m_change(instance=instance, action=action, reverse=reverse, pk_set=pk_set)


def _tag_saved(sender, instance, created, raw=False, **kwargs):
    """A renamed tag (in the admin, say) leaves its old name in its cases' search documents."""
    if not created and not raw:
        search_after_tag_saved(tag=instance)


def _remember_cases_of_deleted_tag(sender, instance, **kwargs):
    instance._search_cases_before_delete = tagged_case_ids(instance)


def _tag_deleted(sender, instance, **kwargs):
    search_documents_refresh(case_ids=instance.__dict__.pop("_search_cases_before_delete", []))


def connect() -> None:
    post_save.connect(_case_saved, sender=Case, dispatch_uid="search-case-saved")
    post_save.connect(_diagnosis_saved, sender=Diagnosis, dispatch_uid="search-diagnosis-saved")
    post_save.connect(_region_saved, sender=Region, dispatch_uid="search-region-saved")
    for model in SECTION_ROWS:
        label = model._meta.label
        post_save.connect(_section_row_saved, sender=model, dispatch_uid=f"search-row-saved-{label}")
        post_delete.connect(_section_row_deleted, sender=model, dispatch_uid=f"search-row-deleted-{label}")
    for through in (TaggedCase, Case.regions.through):
        m2m_changed.connect(
            _tags_or_regions_changed, sender=through, dispatch_uid=f"search-m2m-{through._meta.label}"
        )
    post_save.connect(_tag_saved, sender=Tag, dispatch_uid="search-tag-saved")
    pre_delete.connect(_remember_cases_of_deleted_tag, sender=Tag, dispatch_uid="search-tag-pre-delete")
    post_delete.connect(_tag_deleted, sender=Tag, dispatch_uid="search-tag-deleted")
