"""Receivers that keep the facet sets and published counts (``cases/facet_rows.py``) current.

Connected in ``CasesConfig.ready``; each only says which cases changed, and runs inside the
transaction of the write that sent it. Raw saves (``loaddata``) are left alone, as for search: the
rows may not all be loaded yet (``manage.py facets_rebuild`` after a load). Writes that send no
signal (``bulk_create``, ``QuerySet.update()``) call ``case_facets_refresh`` themselves.
"""

from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from cases.facet_rows import case_facets_forget, case_facets_refresh
from cases.models import Case, DifferentialItem, Finding, Region, TaggedCase

RegionLink = Case.regions.through
# Rows of a case that a facet counts: each names its case in ``case_id``.
CASE_ROWS = (Finding, DifferentialItem, RegionLink)


def _deleted_with_its_case(origin) -> bool:
    return isinstance(origin, Case) or (isinstance(origin, QuerySet) and origin.model is Case)


def _case_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        case_facets_refresh(case_ids=[instance.pk])


def _case_deleting(sender, instance, **kwargs):
    case_facets_forget(case_ids=[instance.pk])


def _case_row_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        case_facets_refresh(case_ids=[instance.case_id])


def _case_row_deleted(sender, instance, origin=None, **kwargs):
    # A row deleted with its case: the case's own pre_delete took it out of the counts already.
    if not _deleted_with_its_case(origin):
        case_facets_refresh(case_ids=[instance.case_id])


def _tagging_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        case_facets_refresh(case_ids=[instance.content_object_id])


def _tagging_deleted(sender, instance, origin=None, **kwargs):
    if not _deleted_with_its_case(origin):
        case_facets_refresh(case_ids=[instance.content_object_id])


def _links_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """``case.regions.set()``, ``case.tags.add()``, ``region.cases.add()`` …: links written in bulk,
    which send no ``post_save``."""
    if not reverse:
        if action in {"post_add", "post_remove", "post_clear"}:
            case_facets_refresh(case_ids=[instance.pk])
    elif action == "pre_clear":
        through = sender.objects.filter(**{_reverse_field(sender): instance.pk})
        instance._facet_cases_before_clear = list(through.values_list(_case_field(sender), flat=True))
    elif action == "post_clear":
        case_facets_refresh(case_ids=instance.__dict__.pop("_facet_cases_before_clear", []))
    elif action in {"post_add", "post_remove"}:
        case_facets_refresh(case_ids=pk_set or [])


def _case_field(through) -> str:
    return "content_object_id" if through is TaggedCase else "case_id"


def _reverse_field(through) -> str:
    return "tag_id" if through is TaggedCase else "region_id"


def _region_saved(sender, instance, created, raw=False, **kwargs):
    """A region moved under another parent moves every case below it to other ancestors."""
    if created or raw:
        return
    below = [instance.pk]
    frontier = [instance.pk]
    while frontier:
        frontier = list(Region.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        below += frontier
    case_facets_refresh(
        case_ids=RegionLink.objects.filter(region_id__in=below).values_list("case_id", flat=True)
    )


def connect() -> None:
    post_save.connect(_case_saved, sender=Case, dispatch_uid="facets-case-saved")
    pre_delete.connect(_case_deleting, sender=Case, dispatch_uid="facets-case-deleting")
    for model in CASE_ROWS:
        label = model._meta.label
        post_save.connect(_case_row_saved, sender=model, dispatch_uid=f"facets-row-saved-{label}")
        post_delete.connect(_case_row_deleted, sender=model, dispatch_uid=f"facets-row-deleted-{label}")
    post_save.connect(_tagging_saved, sender=TaggedCase, dispatch_uid="facets-tagging-saved")
    post_delete.connect(_tagging_deleted, sender=TaggedCase, dispatch_uid="facets-tagging-deleted")
    for through in (TaggedCase, RegionLink):
        m2m_changed.connect(_links_changed, sender=through, dispatch_uid=f"facets-m2m-{through._meta.label}")
    post_save.connect(_region_saved, sender=Region, dispatch_uid="facets-region-saved")
