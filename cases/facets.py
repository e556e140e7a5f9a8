"""Facet counts beside the case-list filters, for the set of cases that currently match.

Three queries whatever the archive's size: one aggregate counts the total, every region (with
its sub-regions) and every modality at once; one groups by final diagnosis; one by tag. They are
the larger part of the list and home pages, so the views keep them in Django's cache
(``VisibleCasesMixin.cached``) under the archive version, the user's visibility class and the
normalised filters (``cases/caching.py``): none on a hit, and any edit of the archive retires them.
"""

from dataclasses import dataclass

from django.db.models import Count, Q

from cases.modalities import MODALITY_CHOICES, facet_key, modality_codes_matching
from cases.models import Case, CaseQuerySet, TaggedCase
from cases.regions import RegionTree

TAG_FACET_LIMIT = 25


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    depth: int = 0


@dataclass(frozen=True)
class Facets:
    total: int
    regions: list[FacetValue]
    modalities: list[FacetValue]
    diagnoses: list[FacetValue]
    tags: list[FacetValue]
    sexes: list[FacetValue]


def _facet_modalities() -> list[tuple[str, str]]:
    """One entry per group of equivalent codes (CR and DX count together as radiograph)."""
    seen = set()
    entries = []
    for code, label in MODALITY_CHOICES:
        key = facet_key(code)
        if key not in seen:
            seen.add(key)
            entries.append((key, label))
    return entries


def count_regions_and_modalities(cases: CaseQuerySet, tree: RegionTree) -> dict[str, int]:
    """Total, per-region (sub-regions included), per-sex and per-modality counts, in one query."""
    aggregates = {"total": Count("pk", distinct=True)}
    for region in tree.regions:
        aggregates[f"region_{region.pk}"] = Count(
            "pk", filter=Q(regions__in=tree.descendant_ids(region)), distinct=True
        )
    for code, _label in Case.Sex.choices:
        aggregates[f"sex_{code}"] = Count("pk", filter=Q(sex=code), distinct=True)
    for code, _label in _facet_modalities():
        aggregates[f"modality_{code}"] = Count(
            "pk", filter=Q(findings__modality__in=modality_codes_matching(code)), distinct=True
        )
    return Case.objects.filter(pk__in=cases.values("pk")).aggregate(**aggregates)


def case_facets(cases: CaseQuerySet, tree: RegionTree, *, tag_limit: int | None = TAG_FACET_LIMIT) -> Facets:
    counts = count_regions_and_modalities(cases, tree)
    regions = [
        FacetValue(region.slug, region.name, counts[f"region_{region.pk}"], depth)
        for region, depth in tree.walk()
        if counts[f"region_{region.pk}"]
    ]
    modalities = [
        FacetValue(code, label, counts[f"modality_{code}"])
        for code, label in _facet_modalities()
        if counts[f"modality_{code}"]
    ]
    sexes = [
        FacetValue(code, label, counts[f"sex_{code}"])
        for code, label in Case.Sex.choices
        if counts[f"sex_{code}"]
    ]
    matching_ids = cases.values("pk")
    diagnoses = [
        FacetValue(row["final_diagnosis__slug"], row["final_diagnosis__name"], row["n"])
        for row in Case.objects.filter(pk__in=matching_ids, final_diagnosis__isnull=False)
        .values("final_diagnosis__slug", "final_diagnosis__name")
        .annotate(n=Count("pk"))
        .order_by("final_diagnosis__name")
    ]
    tags = [
        FacetValue(row["tag__slug"], row["tag__name"], row["n"])
        for row in TaggedCase.objects.filter(content_object__in=matching_ids)
        .values("tag__slug", "tag__name")
        .annotate(n=Count("content_object", distinct=True))
        .order_by("-n", "tag__name")[:tag_limit]
    ]
    return Facets(counts["total"], regions, modalities, diagnoses, tags, sexes)
