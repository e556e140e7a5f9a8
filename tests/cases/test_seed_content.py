"""The seed cases as a radiologist-editor reviewed them against their source pages (shared/seeds/):
each fact below is the correction of a statement that was wrong, unsourced or misleading."""

import re

import pytest

from cases.models import Case, Diagnosis, Region
from cases.search import case_search_parse
from quiz.matching import AnswerKey, grade_guess
from quiz.models import Mark

pytestmark = pytest.mark.django_db

SACRAL, THALASSAEMIA, AML = (
    "back-and-left-leg-pain-47f",
    "acute-back-pain-29m",
    "lumbosacral-mri-and-chest-ct",
)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def names(slug: str) -> set[str]:
    return {name.lower() for name in Diagnosis.objects.get(slug=slug).synonyms}


# -- Wrong ------------------------------------------------------------------------------------------------


def test_myeloid_sarcoma_is_a_diagnosis_of_its_own_not_a_synonym_of_leukaemic_infiltration(seeded):
    assert names("leukaemic-infiltration") == {"leukemic infiltration"}
    assert names("myeloid-sarcoma") == {"chloroma", "granulocytic sarcoma"}
    item = Case.objects.get(slug=AML).differential_items.get(diagnosis__slug="myeloid-sarcoma")
    assert item.added_by_editors and item.indistinguishable
    assert "histological type" in item.rationale and "does not tell a plain infiltrate" in item.rationale


def test_chloroma_is_close_for_the_aml_case_and_search_no_longer_sends_it_there(seeded):
    case = Case.objects.for_detail().get(slug=AML)
    assert grade_guess(AnswerKey.of(case), "chloroma").mark == Mark.CLOSE
    expanded = repr(case_search_parse(text="chloroma")).lower()
    assert "('myeloid', 'sarcoma')" in expanded and "leukemic" not in expanded


def test_plasmacytoma_and_epidural_haematoma_keep_only_true_synonyms(seeded):
    assert "solitary plasmacytoma" not in names("plasmacytoma")
    haematoma = Diagnosis.objects.get(slug="epidural-haematoma")
    assert all("spinal" in name.lower() for name in haematoma.synonyms)
    accepted = {name.lower() for name in haematoma.accepted_answers}
    assert {"epidural haematoma", "epidural hematoma"} <= accepted


def test_brain_is_not_under_head_and_neck(seeded):
    assert Region.objects.get(slug="brain").parent is None
    assert Region.objects.get(slug="head-and-neck").parent is None


# -- Unsourced but shown as fact ---------------------------------------------------------------------------


def test_the_sacral_cases_age_and_sex_say_where_they_come_from_wherever_a_resident_reads_them(client, seeded):
    case = Case.objects.get(slug=SACRAL)
    assert "automatically generated report" in case.age_sex_source
    assert "automatically generated report" in case.attribution
    case_page = text_of(client.get(f"/cases/{SACRAL}/").content.decode())
    quiz_page = text_of(client.get(f"/cases/{SACRAL}/quiz/").content.decode())
    for page in (case_page, quiz_page):
        header = page[page.index("47-year-old, female") :][:300]
        assert "Age and sex — Not in the case text: from an automatically generated report" in header
    # The other cases' ages are in their own text: no such note.
    assert "Age and sex —" not in text_of(client.get(f"/cases/{THALASSAEMIA}/").content.decode())


def test_the_metastasis_rationale_no_longer_leans_on_the_age(seeded):
    item = Case.objects.get(slug=SACRAL).differential_items.get(diagnosis__slug="metastasis")
    assert "47" not in item.rationale + item.editors_note


def test_the_haemangioma_summary_says_its_background_page_is_automated_and_unreviewed(seeded):
    diagnosis = Diagnosis.objects.get(slug="intraosseous-haemangioma")
    assert "generated automatically" in diagnosis.summary_source
    assert "pending human review" in diagnosis.summary_source
    # Statements from vertebral series say so.
    assert "series of painful vertebral haemangiomas" in diagnosis.summary
    assert "vertebroplasty helped mainly when a vertebral body had fractured" in diagnosis.summary


def test_the_sacral_cases_own_words_are_the_sources_and_the_editors_statements_are_marked(client, seeded):
    case = Case.objects.get(slug=SACRAL)
    items = {item.diagnosis.slug: item for item in case.differential_items.all()}
    assert "sacrum is a recognised site" in items["giant-cell-tumour"].editors_note
    assert "sacrum" not in items["giant-cell-tumour"].rationale.replace("sacral", "")
    assert "midline" in items["chordoma"].editors_note and "midline" not in items["chordoma"].rationale
    assert "nerve roots" in case.editors_notes and "nerve roots" not in case.discussion
    assert "cord compression" in case.discussion
    html = client.get(f"/cases/{SACRAL}/").content.decode()
    assert html.count("Editors' note — added by the archive's editors, not from the source") == 5
    assert "written by the archive's editors from the facts of the source" in case.attribution.lower()


# -- Misleading --------------------------------------------------------------------------------------------


def test_the_thalassaemia_cases_final_diagnosis_is_the_sources_own(seeded):
    case = Case.objects.get(slug=THALASSAEMIA)
    item = case.differential_items.get(diagnosis=case.final_diagnosis)
    assert not item.added_by_editors and "The source's final diagnosis" in item.rationale


def test_the_metastasis_summary_is_plainly_a_different_patient_from_a_procedure_chapter(seeded):
    diagnosis = Diagnosis.objects.get(slug="metastasis")
    assert "a different patient" in diagnosis.summary and "does not state the histology" in diagnosis.summary
    assert "procedure chapter" in diagnosis.summary_source
    assert "histology not stated" in diagnosis.summary_source
    assert "solitary metastasis" in diagnosis.editorial_summary


def test_emh_on_t1_carries_the_editors_note_where_the_case_teaches_fat(seeded):
    case = Case.objects.get(slug=THALASSAEMIA)
    assert "intermediate signal on T1" in case.editors_notes
    assert "one proposed mechanism" in case.editors_notes
    assert "the source attributes" in case.discussion and "the source explains" in case.discussion
    diagnosis = Diagnosis.objects.get(slug="extramedullary-haematopoiesis")
    assert "intermediate signal on T1" in diagnosis.editorial_summary
    assert "one proposed mechanism" in diagnosis.editorial_summary


def test_the_sacral_cases_ct_and_bone_scan_lines_have_editors_notes(seeded):
    case = Case.objects.get(slug=SACRAL)
    assert "polka dot" in case.editors_notes
    bone_scan = case.findings.get(modality="NM")
    assert "confirmed that the lesion was solitary" in bone_scan.text
    assert "not specific" in bone_scan.editors_note
    assert "take up no tracer are missed" in bone_scan.editors_note


def test_the_aml_findings_place_the_tissue_as_the_source_does(seeded):
    case = Case.objects.get(slug=AML)
    mri = case.findings.get(modality="MR").text
    assert "anterior epidural space behind the L2 vertebral body" in mri and "beside" not in mri
    ct = case.findings.get(modality="CT").text
    assert "posteriorly" in ct and "does not state its compartment" in ct
    assert "neither the biopsy site nor the histological type" in case.diagnosis_proof


def test_demo_series_have_neutral_labels_and_keep_the_sample_badge(client, seeded):
    from imaging.demo import demo_images_ensure
    from imaging.models import Series

    demo_images_ensure()
    for series in Series.objects.all():
        assert series.is_sample and series.label.startswith("Sample"), series.label
        assert series.finding_id is None
    assert "not from this patient" in client.get(f"/cases/{SACRAL}/").content.decode()
