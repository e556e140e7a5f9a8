"""Facet counts beside the case-list filters, for the set of cases that currently match.

Counts are read from the facet sets (``CaseFacetSet``, one narrow row a case holding every value it
counts under, kept by ``cases/facet_rows.py``), never from the cases and their joins:

* the unfiltered list and the home page add the maintained published counts (``FacetCount``, a few
  hundred rows whatever the archive's size) to those of the other cases this user may see (drafts
  of their own, or for editors; none for anonymous visitors);
* a filtered list or a search groups the keys of the matching cases' sets (``CaseFacetKey``) by
  value, in one query; the list's region, modality and tag filters are tested on the same sets
  (``having_keys``), so that the matching sets are read once, straight from their GIN index.

Names of the diagnoses and tags shown are read in one query each. The views keep the result in
Django's cache (``cases/caching.py``).
"""

from collections import Counter
from dataclasses import dataclass

from django.db.models import CharField, Count, Value
from django.db.models.functions import Concat
from taggit.models import Tag

from cases.facet_rows import FacetValue as FacetKey
from cases.modalities import MODALITY_CHOICES, facet_key
from cases.models import (
    Case,
    CaseFacetKey,
    CaseQuerySet,
    Diagnosis,
    FacetCount,
    FacetKind,
    facet_value_of,
)
from cases.regions import RegionTree

TAG_FACET_LIMIT = 25
Kind = FacetKind


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


def _grouped(cases: CaseQuerySet, having_keys: list[str] = ()):
    keys = CaseFacetKey.objects.filter(case_id__in=cases.values("pk"))
    if having_keys:
        keys = keys.filter(set_keys__has_keys=having_keys)
    return keys.values_list("key").annotate(n=Count("*")).order_by()


def facet_counts(cases: CaseQuerySet, *, having_keys: list[str] | None = ()) -> Counter[FacetKey]:
    """Every facet value of these cases whose facet set has ``having_keys`` (``None``: no case; see
    ``cases.filters.facet_filter_keys``), with how many of them count under it, in one GROUP BY."""
    if having_keys is None:
        return Counter()
    return Counter({facet_value_of(key): n for key, n in _grouped(cases, having_keys)})


def visible_counts(user) -> Counter[FacetKey]:
    """The counts of every case this user may see: the maintained published counts plus, for a
    logged-in user, those of the other cases they may see (few or none), read together in one query."""
    rows = FacetCount.objects.filter(count__gt=0).values_list(
        Concat("facet", Value(":"), "value", output_field=CharField()), "count"
    )
    if user.is_authenticated:
        rows = rows.union(_grouped(Case.objects.unpublished_visible_to(user)), all=True)
    counts: Counter[FacetKey] = Counter()
    for key, n in rows:
        counts[facet_value_of(key)] += n
    return counts


def case_facets(
    cases: CaseQuerySet,
    tree: RegionTree,
    *,
    having_keys: list[str] | None = (),
    tag_limit: int | None = TAG_FACET_LIMIT,
    all_visible_to=None,
) -> Facets:
    """The facets of ``cases`` whose facet set has ``having_keys``; ``all_visible_to=user`` says that
    they are every case that user may see (no filter), which reads the maintained counts instead of
    grouping every case's keys."""
    if all_visible_to is not None:
        counts = visible_counts(all_visible_to)
    else:
        counts = facet_counts(cases, having_keys=having_keys)
    regions = [
        FacetValue(region.slug, region.name, counts[(Kind.REGION, str(region.pk))], depth)
        for region, depth in tree.walk()
        if counts[(Kind.REGION, str(region.pk))]
    ]
    modalities = [
        FacetValue(code, label, counts[(Kind.MODALITY, code)])
        for code, label in _facet_modalities()
        if counts[(Kind.MODALITY, code)]
    ]
    sexes = [
        FacetValue(code, label, counts[(Kind.SEX, code)])
        for code, label in Case.Sex.choices
        if counts[(Kind.SEX, code)]
    ]
    return Facets(
        counts[(Kind.ALL, "")],
        regions,
        modalities,
        _diagnoses(counts),
        _tags(counts, tag_limit),
        sexes,
    )


def _ids_of(counts: Counter[FacetKey], kind: str) -> dict[int, int]:
    return {int(value): n for (facet, value), n in counts.items() if facet == kind and n > 0}


def _diagnoses(counts: Counter[FacetKey]) -> list[FacetValue]:
    by_id = _ids_of(counts, Kind.DIAGNOSIS)
    if not by_id:
        return []
    named = Diagnosis.objects.filter(pk__in=by_id).order_by("name").values_list("pk", "slug", "name")
    return [FacetValue(slug, name, by_id[pk]) for pk, slug, name in named]


def _tags(counts: Counter[FacetKey], limit: int | None) -> list[FacetValue]:
    """The ``limit`` most used tags, ties by name: only tags at least as used as the last one shown
    are read."""
    by_id = _ids_of(counts, Kind.TAG)
    if not by_id:
        return []
    ranked = sorted(by_id.values(), reverse=True)
    least = ranked[min(limit, len(ranked)) - 1] if limit is not None else 0
    wanted = [pk for pk, n in by_id.items() if n >= least]
    named = Tag.objects.filter(pk__in=wanted).values_list("pk", "slug", "name")
    tags = sorted(
        (FacetValue(slug, name, by_id[pk]) for pk, slug, name in named), key=lambda t: (-t.count, t.label)
    )
    return tags[:limit]
