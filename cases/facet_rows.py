"""Facet sets and the published counts, kept in the transaction of every write that moves them (at the
end of a ``cases.upkeep.case_upkeep_deferred()`` block, for the writes inside it).

``case_facets_refresh(case_ids=…)`` recomputes the ``CaseFacetSet`` of some cases from their
status, sex, diagnoses, regions, findings and tags, writes those that changed, and adds the
difference their published sets make to ``FacetCount``. It is the one path for single saves (the
receivers in ``cases/facet_upkeep.py``), bulk loads (``bench/generate.py``, the seed) and the
``facets_rebuild`` command. A deleted case takes its set away through ``case_facets_forget``.

The functions take the models as arguments where a migration must call them with its historical
models (``rows_of``); the rest use the real ones.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections, router, transaction
from taggit.models import Tag

from cases import deferral
from cases.caching import facet_values_changed
from cases.modalities import facet_key
from cases.models import (
    Case,
    CaseFacetSet,
    Diagnosis,
    DifferentialItem,
    FacetCount,
    FacetKind,
    Finding,
    Region,
    TaggedCase,
    facet_value_key,
    facet_value_of,
)
from cases.regions import RegionTree

BATCH = 2000
Kind = FacetKind
# The case-list filter (``cases/filters.py``) that selects each kind of facet value.
FILTER_OF = {Kind.REGION: "region", Kind.DIAGNOSIS: "diagnosis", Kind.TAG: "tag"}
PUBLISHED = Case.Status.PUBLISHED.value

# (facet, value): one facet value; a case's facet set is a set of them.
FacetValue = tuple[str, str]


@dataclass(frozen=True)
class Sources:
    """The models facet sets are computed from (real ones, or a migration's historical ones)."""

    case: type = Case
    region: type = Region
    region_link: type = Case.regions.through
    finding: type = Finding
    differential: type = DifferentialItem
    tagged: type = TaggedCase


def rows_of(case_ids: list[int], sources: Sources = Sources()) -> dict[int, tuple[bool, set[FacetValue]]]:
    """Each existing case's published state and facet values, in five queries for any number of cases."""
    tree = RegionTree(list(sources.region.objects.all()))
    rows: dict[int, tuple[bool, set[FacetValue]]] = {}
    finals: dict[int, int | None] = {}
    cases = sources.case.objects.filter(pk__in=case_ids).values_list(
        "pk", "status", "sex", "final_diagnosis_id"
    )
    for pk, status, sex, final in cases:
        values = {(Kind.ALL, "")}
        if sex:
            values.add((Kind.SEX, sex))
        if final is not None:
            values.add((Kind.DIAGNOSIS, str(final)))
        rows[pk] = (status == PUBLISHED, values)
        finals[pk] = final
    links = sources.region_link.objects.filter(case_id__in=case_ids).values_list("case_id", "region_id")
    for case_id, region_id in links:
        region = tree.by_id[region_id]
        for counted in (region, *tree.ancestors(region)):
            rows[case_id][1].add((Kind.REGION, str(counted.pk)))
    findings = sources.finding.objects.filter(case_id__in=case_ids).values_list("case_id", "modality")
    for case_id, modality in findings:
        rows[case_id][1].add((Kind.MODALITY, facet_key(modality)))
    tagged = sources.tagged.objects.filter(content_object_id__in=case_ids).values_list(
        "content_object_id", "tag_id"
    )
    for case_id, tag_id in tagged:
        rows[case_id][1].add((Kind.TAG, str(tag_id)))
    items = sources.differential.objects.filter(case_id__in=case_ids).values_list("case_id", "diagnosis_id")
    for case_id, diagnosis_id in items:
        # The diagnosis page counts cases that considered it and concluded otherwise (or not at all).
        if diagnosis_id != finals[case_id]:
            rows[case_id][1].add((Kind.DIFFERENTIAL, str(diagnosis_id)))
    return rows


def counts_add(differences: Counter, *, using: str, table: str = FacetCount._meta.db_table) -> None:
    """Add each difference to its published count in the database's own arithmetic, so that two
    writers never overwrite each other's sums: an upsert for the values that gain cases (PostgreSQL
    and SQLite both know ``ON CONFLICT … DO UPDATE``), an update for those that lose some (the row
    exists, and an inserted negative count would fail the check even where it would conflict)."""
    gains = [(facet, value, n) for (facet, value), n in sorted(differences.items()) if n > 0]
    losses = [(n, facet, value) for (facet, value), n in sorted(differences.items()) if n < 0]
    with connections[using].cursor() as cursor:
        if gains:
            cursor.executemany(
                f"INSERT INTO {table} (facet, value, count) VALUES (%s, %s, %s) "
                f"ON CONFLICT (facet, value) DO UPDATE SET count = {table}.count + excluded.count",
                gains,
            )
        if losses:
            cursor.executemany(
                f"UPDATE {table} SET count = count + %s WHERE facet = %s AND value = %s", losses
            )


def _published_differences(old: dict, new: dict) -> Counter:
    differences: Counter = Counter()
    for sign, rows in ((-1, old), (1, new)):
        for published, values in rows.values():
            if published:
                for value in values:
                    differences[value] += sign
    return differences


def _stored_values(case_ids: list[int], using: str) -> dict[int, tuple[bool, set[FacetValue]]]:
    sets = CaseFacetSet.objects.using(using).filter(case_id__in=case_ids)
    return {
        case_id: (published, {facet_value_of(key) for key in keys})
        for case_id, published, keys in sets.values_list("case_id", "published", "keys")
    }


def _facet_sets(rows: dict[int, tuple[bool, set[FacetValue]]], case_ids: list[int]) -> list[CaseFacetSet]:
    return [
        CaseFacetSet(
            case_id=pk,
            published=rows[pk][0],
            keys={facet_value_key(facet, value): 1 for facet, value in sorted(rows[pk][1])},
        )
        for pk in case_ids
        if pk in rows
    ]


def _retire_cached(old: dict, new: dict, changed: list[int], *, using: str) -> None:
    """Retire the cached entries of every filter value these cases counted under before or after."""
    touched: set[FacetValue] = set()
    for rows in (old, new):
        for pk in changed:
            if pk in rows:
                touched |= rows[pk][1]
    by_kind: dict[str, set[str]] = {}
    for facet, value in touched:
        by_kind.setdefault(facet, set()).add(value)
    # Filters name regions, diagnoses and tags by slug; the facet values hold their ids.
    slugs = {
        Kind.REGION: Region.objects.using(using).filter(pk__in=by_kind.get(Kind.REGION, ())),
        Kind.DIAGNOSIS: Diagnosis.objects.using(using).filter(pk__in=by_kind.get(Kind.DIAGNOSIS, ())),
        Kind.TAG: Tag.objects.using(using).filter(pk__in=by_kind.get(Kind.TAG, ())),
    }
    values = [("modality", code) for code in by_kind.get(Kind.MODALITY, ())]
    values += [("sex", code) for code in by_kind.get(Kind.SEX, ())]
    for kind, rows in slugs.items():
        if by_kind.get(kind):
            values += [(FILTER_OF[kind], slug) for slug in rows.values_list("slug", flat=True)]
    facet_values_changed(values, using=using)


def case_facets_refresh(*, case_ids: Iterable[int]) -> None:
    """Bring the facet sets of these cases, and the published counts, up to date (at the end of an open
    ``cases.upkeep.case_upkeep_deferred()`` block)."""
    if deferral.deferred("facets", case_ids):
        return
    using = router.db_for_write(CaseFacetSet)
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        with transaction.atomic(using=using):
            # Two writers of one case take its row lock in turn, so each reads the rows the other wrote.
            list(Case.objects.using(using).select_for_update().filter(pk__in=batch).values_list("pk"))
            old = _stored_values(batch, using)
            new = rows_of(batch)
            changed = [pk for pk in batch if old.get(pk) != new.get(pk)]
            if not changed:
                continue
            CaseFacetSet.objects.using(using).filter(case_id__in=changed).delete()
            CaseFacetSet.objects.using(using).bulk_create(_facet_sets(new, changed), batch_size=BATCH)
            _retire_cached(old, new, changed, using=using)
            counts_add(
                _published_differences(
                    {pk: old[pk] for pk in changed if pk in old}, {pk: new[pk] for pk in changed if pk in new}
                ),
                using=using,
            )


def case_facets_forget(*, case_ids: Iterable[int]) -> None:
    """Take deleted cases out of the counts (their facet sets go with them)."""
    using = router.db_for_write(CaseFacetSet)
    ids = list(case_ids)
    with transaction.atomic(using=using):
        old = _stored_values(ids, using)
        CaseFacetSet.objects.using(using).filter(case_id__in=ids).delete()
        _retire_cached(old, {}, list(old), using=using)
        counts_add(_published_differences(old, {}), using=using)


def facets_rebuild() -> int:
    """Every facet set and count computed again from the cases (``manage.py facets_rebuild``); returns
    how many cases were read."""
    using = router.db_for_write(CaseFacetSet)
    with transaction.atomic(using=using):
        CaseFacetSet.objects.using(using).all().delete()
        FacetCount.objects.using(using).all().delete()
        ids = list(Case.objects.using(using).order_by("pk").values_list("pk", flat=True))
        case_facets_refresh(case_ids=ids)
    return len(ids)
