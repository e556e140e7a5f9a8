"""The three seed cases: complete where the source supports it, honest where it does not."""

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from cases.seed import read_seed

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

SACRAL, THALASSAEMIA, AML = (
    "back-and-left-leg-pain-47f",
    "acute-back-pain-29m",
    "lumbosacral-mri-and-chest-ct",
)


def snapshot():
    """Every row the demo loader writes, as plain values, to compare two runs."""
    models = [Region, Diagnosis, Case, Finding, DifferentialItem, Reference, get_user_model()]
    rows = {}
    for model in models:
        rows[model.__name__] = [
            {**model_to_dict(obj), "pk": obj.pk, **({"updated_at": obj.updated_at} if model is Case else {})}
            for obj in model.objects.order_by("pk")
        ]
    rows["tags"] = sorted((case.slug, tag.name) for case in Case.objects.all() for tag in case.tags.all())
    return rows


@pytest.fixture
def development(settings):
    """load_demo is for a development machine, where DEBUG is on (pytest-django turns it off)."""
    settings.DEBUG = True


def test_load_demo_loads_three_published_seed_cases_and_role_accounts(development):
    call_command("load_demo", stdout=StringIO())
    assert set(Case.objects.published().values_list("slug", flat=True)) == {SACRAL, THALASSAEMIA, AML}
    users = {user.username: {g.name for g in user.groups.all()} for user in get_user_model().objects.all()}
    assert users["faculty"] == {"faculty"}
    assert users["editor"] == {"editor"}
    assert users["resident"] == {"resident"}
    assert get_user_model().objects.get(username="admin").is_superuser


def test_load_demo_twice_changes_nothing(development):
    call_command("load_demo", stdout=StringIO())
    first = snapshot()
    call_command("load_demo", stdout=StringIO())
    assert snapshot() == first


def test_load_demo_refuses_with_debug_off_and_creates_nothing(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError) as refused:
        call_command("load_demo", stdout=StringIO())
    message = str(refused.value)
    assert "DEBUG is off" in message and "passwords are published" in message
    assert "--allow-without-debug" in message
    assert not get_user_model().objects.exists()
    assert not Case.objects.exists()


def test_load_demo_runs_with_debug_off_when_told_to(settings):
    settings.DEBUG = False
    out = StringIO()
    call_command("load_demo", allow_without_debug=True, stdout=out)
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert "admin / demo-admin-pass" in out.getvalue()


def test_load_demo_refuses_from_the_command_line_with_debug_off(tmp_path):
    """As on a server: the settings read DEBUG=0 from the environment (and then need a secret key)."""
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    env.update(
        DEBUG="0",
        SECRET_KEY="s" * 50,
        ALLOWED_HOSTS="cases.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'server.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "load_demo refused: DEBUG is off" in result.stderr
    assert not (tmp_path / "media").exists()


def test_every_section_the_source_supports_is_filled(seeded):
    for case in Case.objects.all():
        for field in (
            "title",
            "clinical_history",
            "diagnosis_proof",
            "discussion",
            "teaching_points",
            "attribution",
            "licence",
            "diagnosis_certainty",
        ):
            assert getattr(case, field), f"{case.slug}: {field} is empty"
        assert case.final_diagnosis is not None
        assert case.findings.exists()
        assert case.differential_items.count() >= 2
        assert case.regions.exists()
        assert "spine" in case.tags.names()


def test_sacral_case_keeps_its_atypical_findings_and_the_source_facts(seeded):
    case = Case.objects.get(slug=SACRAL)
    assert (case.age, case.sex) == (47, "F")
    assert [f.modality for f in case.findings.all()] == ["CR", "NM", "MR"]
    mri = case.findings.get(modality="MR").text.lower()
    # The patient's lesion was low on T1: the textbook "high T1 from fat" must not replace it.
    assert "low signal on t1" in mri
    assert "high signal on t1" not in mri
    assert case.diagnosis_certainty == Case.Certainty.HISTOLOGY
    assert "biopsy" in case.diagnosis_proof.lower()
    assert "embolis" in case.treatment_outcome.lower()
    differential = [item.diagnosis.slug for item in case.differential_items.all()]
    assert differential == ["giant-cell-tumour", "chordoma", "metastasis", "intraosseous-haemangioma"]
    assert not case.differential_items.filter(added_by_editors=True).exists()


def test_thalassaemia_case_was_not_biopsied_and_its_differential_is_marked_editorial(seeded):
    case = Case.objects.get(slug=THALASSAEMIA)
    assert (case.age, case.sex) == (29, "M")
    assert case.diagnosis_certainty == Case.Certainty.CLINICAL_IMAGING
    assert "no biopsy" in case.diagnosis_proof.lower()
    assert case.final_diagnosis.slug == "extramedullary-haematopoiesis"
    # The source gives no differential: every item but its own final diagnosis is the editors' addition.
    items = case.differential_items.all()
    final, *others = sorted(items, key=lambda item: item.diagnosis_id != case.final_diagnosis_id)
    assert final.diagnosis_id == case.final_diagnosis_id and not final.added_by_editors
    assert others and all(item.added_by_editors for item in others)
    assert case.treatment_outcome == ""
    assert [ref.citation for ref in case.references.all()] == [
        "Haaga John R. CT and MRI of the Whole Body, 5th edition, p. 1008."
    ]


def test_aml_case_states_no_age_or_sex_and_was_biopsy_proven(seeded):
    case = Case.objects.get(slug=AML)
    assert case.age is None and case.sex == ""
    assert case.final_diagnosis.slug == "leukaemic-infiltration"
    assert case.diagnosis_certainty == Case.Certainty.HISTOLOGY
    assert {"MR", "CT"} == set(case.modalities)
    assert "Yousem" in case.attribution and "Medality" in case.attribution
    listed = {item.diagnosis.slug for item in case.differential_items.all()}
    assert {"leukaemic-infiltration", "lymphoma", "extramedullary-haematopoiesis", "plasmacytoma"} <= listed


def test_no_invented_identifiers_in_references(seeded):
    assert not Reference.objects.exclude(doi="").exists()
    assert not Reference.objects.exclude(pmid="").exists()
    assert set(Reference.objects.values_list("case__slug", flat=True)) == {THALASSAEMIA}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def test_titles_and_slugs_name_no_diagnosis(seeded):
    for case in Case.objects.all():
        names = [case.final_diagnosis.name, *case.final_diagnosis.synonyms]
        names += [item.diagnosis.name for item in case.differential_items.all()]
        title_words = words(case.title) | words(case.slug.replace("-", " "))
        for name in names:
            # A multi-word name leaks only if all its distinctive words appear.
            distinctive = {w for w in words(name) if len(w) > 3}
            assert not (distinctive and distinctive <= title_words), f"{case.slug} title names {name!r}"


def test_required_diagnoses_exist_with_synonyms_and_a_summary(seeded):
    required = [
        "intraosseous-haemangioma",
        "giant-cell-tumour",
        "chordoma",
        "metastasis",
        "extramedullary-haematopoiesis",
        "leukaemic-infiltration",
        "lymphoma",
        "plasmacytoma",
    ]
    for slug in required:
        diagnosis = Diagnosis.objects.get(slug=slug)
        assert diagnosis.summary or diagnosis.editorial_summary, slug
    assert "EMH" in Diagnosis.objects.get(slug="extramedullary-haematopoiesis").synonyms
    assert "intraosseous hemangioma" in Diagnosis.objects.get(slug="intraosseous-haemangioma").synonyms
    assert Diagnosis.objects.get(slug="leukaemic-infiltration").synonyms == ["leukemic infiltration"]
    assert {"chloroma", "granulocytic sarcoma"} == set(Diagnosis.objects.get(slug="myeloid-sarcoma").synonyms)


def test_summaries_from_sources_name_their_source(seeded):
    for diagnosis in Diagnosis.objects.exclude(summary=""):
        assert diagnosis.summary_source, f"{diagnosis.slug} has a sourced summary without its source"


def test_seed_file_references_only_known_slugs():
    data = read_seed()
    regions = {row["slug"] for row in data["regions"]}
    diagnoses = {row["slug"] for row in data["diagnoses"]}
    for case in data["cases"]:
        assert set(case["regions"]) <= regions
        assert case["final_diagnosis"] in diagnoses
        assert {item["diagnosis"] for item in case["differential"]} <= diagnoses
