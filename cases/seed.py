"""Load the seed archive (regions, diagnoses, cases) from ``fixtures/seed.json``.

Natural keys (slugs) rather than Django's pk-based fixtures, so the file stays readable and
editable by hand, and loading is idempotent: what exists already is left untouched, so a second
run changes nothing and never overwrites a faculty member's later edits.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.facet_rows import case_facets_refresh
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from cases.search import case_search_refresh
from cases.upkeep import case_upkeep_deferred

SEED_FILE = Path(settings.BASE_DIR) / "fixtures" / "seed.json"
SUPPORTED_FORMAT = 1


@dataclass
class SeedReport:
    created: dict[str, list[str]] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)

    def record(self, kind: str, slug: str, created: bool) -> None:
        if created:
            self.created.setdefault(kind, []).append(slug)
        else:
            self.existing[kind] = self.existing.get(kind, 0) + 1


def read_seed(path: Path = SEED_FILE) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != SUPPORTED_FORMAT:
        raise ValueError(
            f"{path}: unsupported seed format {data.get('format')!r}, expected {SUPPORTED_FORMAT}"
        )
    return data


@transaction.atomic
def seed_load(*, data: dict, author=None) -> SeedReport:
    report = SeedReport()
    with case_upkeep_deferred():  # each case's document and facet sets are written once
        regions = _load_regions(data["regions"], report)
        diagnoses = _load_diagnoses(data["diagnoses"], report)
        for case_data in data["cases"]:
            _load_case(case_data, regions=regions, diagnoses=diagnoses, author=author, report=report)
    return report


def _load_regions(rows: list[dict], report: SeedReport) -> dict[str, Region]:
    regions = {region.slug: region for region in Region.objects.all()}
    for row in rows:  # parents come before their children in the file
        if row["slug"] in regions:
            report.record("region", row["slug"], created=False)
            continue
        parent = regions[row["parent"]] if row["parent"] else None
        regions[row["slug"]] = Region.objects.create(
            slug=row["slug"], name=row["name"], parent=parent, order=row["order"]
        )
        report.record("region", row["slug"], created=True)
    return regions


def _load_diagnoses(rows: list[dict], report: SeedReport) -> dict[str, Diagnosis]:
    fields = ("name", "synonyms", "accepted_answers", "summary", "summary_source", "editorial_summary")
    diagnoses = {diagnosis.slug: diagnosis for diagnosis in Diagnosis.objects.all()}
    for row in rows:
        if row["slug"] in diagnoses:
            report.record("diagnosis", row["slug"], created=False)
            continue
        diagnoses[row["slug"]] = Diagnosis.objects.create(
            slug=row["slug"], **{name: row[name] for name in fields if name in row}
        )
        report.record("diagnosis", row["slug"], created=True)
    return diagnoses


def _load_case(row: dict, *, regions, diagnoses, author, report: SeedReport) -> None:
    if Case.objects.filter(slug=row["slug"]).exists():
        report.record("case", row["slug"], created=False)
        return
    status = row.get("status", Case.Status.DRAFT)
    case = Case.objects.create(
        slug=row["slug"],
        title=row["title"],
        age=row.get("age"),
        sex=row.get("sex", ""),
        age_sex_source=row.get("age_sex_source", ""),
        clinical_history=row.get("clinical_history", ""),
        final_diagnosis=diagnoses[row["final_diagnosis"]] if row.get("final_diagnosis") else None,
        diagnosis_certainty=row.get("diagnosis_certainty", ""),
        diagnosis_proof=row.get("diagnosis_proof", ""),
        treatment_outcome=row.get("treatment_outcome", ""),
        discussion=row.get("discussion", ""),
        teaching_points=row.get("teaching_points", ""),
        editors_notes=row.get("editors_notes", ""),
        attribution=row.get("attribution", ""),
        licence=row.get("licence", ""),
        status=status,
        published_at=timezone.now() if status == Case.Status.PUBLISHED else None,
        author=author,
    )
    Finding.objects.bulk_create(
        Finding(
            case=case,
            order=order,
            modality=item["modality"],
            study=item.get("study", ""),
            text=item["text"],
            editors_note=item.get("editors_note", ""),
        )
        for order, item in enumerate(row.get("findings", []), start=1)
    )
    DifferentialItem.objects.bulk_create(
        DifferentialItem(
            case=case,
            order=order,
            diagnosis=diagnoses[item["diagnosis"]],
            rationale=item.get("rationale", ""),
            added_by_editors=item.get("added_by_editors", False),
            editors_note=item.get("editors_note", ""),
            indistinguishable=item.get("indistinguishable", False),
        )
        for order, item in enumerate(row.get("differential", []), start=1)
    )
    Reference.objects.bulk_create(
        Reference(
            case=case,
            order=order,
            citation=item["citation"],
            url=item.get("url", ""),
            doi=item.get("doi", ""),
            pmid=item.get("pmid", ""),
        )
        for order, item in enumerate(row.get("references", []), start=1)
    )
    case.regions.set([regions[slug] for slug in row.get("regions", [])])
    case.tags.set(row.get("tags", []))
    # The bulk inserts above bypass the rows' save(): the search document and facet sets are made here.
    case_search_refresh(case=case)
    case_facets_refresh(case_ids=[case.pk])
    report.record("case", row["slug"], created=True)
