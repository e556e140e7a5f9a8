"""Marking a guess: correct (a name of the final diagnosis, or an answer it accepts), close (near
spelling, part of a name, or a differential item the source cannot tell apart from the diagnosis), in
the differential (another item of the case's differential) or wrong — for the seed cases and for names
built to test one rule each."""

import pytest
from django.utils import timezone

from cases.models import Case, Diagnosis
from quiz.matching import (
    AnswerKey,
    DiagnosisNames,
    compare_differential,
    explain_mark,
    grade_guess,
    normalise_name,
)
from quiz.models import Mark


def key_for(final: Diagnosis, *differential: Diagnosis) -> AnswerKey:
    """An answer key from unsaved diagnoses: matching needs no database."""
    return AnswerKey(DiagnosisNames.of(final), tuple(DiagnosisNames.of(item) for item in differential))


def mark(key: AnswerKey, guess: str) -> tuple[str, str]:
    grade = grade_guess(key, guess)
    return grade.mark, grade.matched_name


@pytest.fixture
def seed_keys(seeded):
    cases = Case.objects.for_detail()
    return {case.slug: AnswerKey.of(case) for case in cases}


SACRAL = "back-and-left-leg-pain-47f"
EMH = "acute-back-pain-29m"
AML = "lumbosacral-mri-and-chest-ct"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, guess, matched",
    [
        (AML, "Leukaemic infiltration", "Leukaemic infiltration"),
        (AML, "leukemic infiltrate", "leukaemic infiltrate"),
        (
            AML,
            "leukaemic infiltration with extraosseous extension",
            "leukaemic infiltration with extraosseous extension",
        ),
        (EMH, "EMH", "EMH"),
        (EMH, "emh", "EMH"),
        (EMH, "extramedullary hemopoiesis", "extramedullary haemopoiesis"),
        (EMH, "  Extramedullary   Hæmatopoiesis ", "Extramedullary haematopoiesis"),
        (SACRAL, "intraosseous hemangioma", "Intraosseous haemangioma"),
        (SACRAL, "Bone haemangioma", "bone haemangioma"),
        (SACRAL, "the intraosseous haemangioma", "Intraosseous haemangioma"),
        # The case makes the location redundant: the diagnosis lists these as accepted answers.
        (SACRAL, "haemangioma", "haemangioma"),
        (SACRAL, "Hemangioma", "haemangioma"),
        (SACRAL, "sacral haemangioma", "sacral haemangioma"),
    ],
)
def test_a_name_of_the_final_diagnosis_is_correct(seed_keys, slug, guess, matched):
    assert mark(seed_keys[slug], guess) == (Mark.CORRECT, matched)


@pytest.mark.parametrize(
    "written, guess",
    [
        ("Intraosseous haemangioma", "intraosseous hemangioma"),
        ("Vertebral hemangioma", "vertebral haemangioma"),
        ("Cerebral oedema", "cerebral edema"),
        ("Vasogenic edema", "vasogenic oedema"),
        ("Brown tumour", "brown tumor"),
        ("Glomus tumor", "glomus tumour"),
        ("Leukaemic infiltration", "leukemic infiltration"),
        ("Oesophageal varices", "esophageal varices"),
        ("Haemorrhagic metastasis", "hemorrhagic metastasis"),
    ],
)
def test_british_and_american_spellings_match_both_ways(written, guess):
    """No synonym lists the other spelling here: the folding alone must make them equal."""
    key = key_for(Diagnosis(name=written, synonyms=[]))
    assert mark(key, guess) == (Mark.CORRECT, written)


@pytest.mark.parametrize(
    "guess", ["Ewing sarcoma", "ewing's sarcoma", "EWING SARCOMA", "Éwing sarcoma", "ewing sarcomá"]
)
def test_case_accents_and_punctuation_do_not_matter(guess):
    key = key_for(Diagnosis(name="Ewing sarcoma", synonyms=["Ewing's sarcoma"]))
    assert grade_guess(key, guess).mark == Mark.CORRECT


def test_abbreviations_from_synonyms_from_initials_and_common_shorthand():
    assert mark(key_for(Diagnosis(name="Giant cell tumour", synonyms=[])), "GCT") == (
        Mark.CORRECT,
        "Giant cell tumour",
    )
    # "of" is no initial.
    giant_cell = Diagnosis(name="Giant cell tumour of bone", synonyms=[])
    assert mark(key_for(giant_cell), "gctb") == (Mark.CORRECT, "Giant cell tumour of bone")
    metastases = Diagnosis(name="Bone metastases", synonyms=[])
    assert mark(key_for(metastases), "bone mets") == (Mark.CORRECT, "Bone metastases")
    # Two-word names have no initials: "DH" would be too easily some other diagnosis.
    assert grade_guess(key_for(Diagnosis(name="Disc herniation", synonyms=[])), "DH").mark == Mark.WRONG


@pytest.mark.django_db
def test_an_alternative_from_the_differential_is_its_own_outcome(seed_keys):
    assert mark(seed_keys[SACRAL], "chordoma") == (Mark.DIFFERENTIAL, "Chordoma")
    assert mark(seed_keys[SACRAL], "giant cell tumour") == (Mark.DIFFERENTIAL, "Giant cell tumour of bone")
    assert mark(seed_keys[SACRAL], "osteoclastoma") == (Mark.DIFFERENTIAL, "Giant cell tumour of bone")
    assert mark(seed_keys[AML], "disc herniation") == (Mark.DIFFERENTIAL, "Disc herniation")
    assert mark(seed_keys[AML], "herniated disk") == (Mark.DIFFERENTIAL, "Disc herniation")
    assert mark(seed_keys[AML], "plasmacytoma") == (Mark.DIFFERENTIAL, "Plasmacytoma")
    # Without "spinal" it is an accepted answer of the spinal lesion, which this case's differential lists.
    assert mark(seed_keys[AML], "epidural haematoma") == (Mark.DIFFERENTIAL, "Spinal epidural haematoma")
    # In the AML case EMH was the chest CT's reading, an item of the differential, not the answer.
    assert mark(seed_keys[AML], "EMH") == (Mark.DIFFERENTIAL, "Extramedullary haematopoiesis")


@pytest.mark.django_db
@pytest.mark.parametrize("guess", ["myeloid sarcoma", "CHLOROMA", "granulocytic sarcoma", "cloroma"])
def test_an_answer_the_source_cannot_tell_from_the_diagnosis_is_close(seed_keys, guess):
    """Myeloid sarcoma is not leukaemic infiltration, but the source states no histology to tell them
    apart."""
    assert mark(seed_keys[AML], guess) == (Mark.CLOSE, "Myeloid sarcoma")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "guess", ["extramedullary leukaemia", "extramedullary leukemia", "solitary plasmacytoma"]
)
def test_names_that_were_wrongly_synonyms_are_no_longer_accepted(seed_keys, guess):
    assert grade_guess(seed_keys[AML], guess).mark == Mark.WRONG


@pytest.mark.django_db
def test_a_near_spelling_is_close(seed_keys):
    assert mark(seed_keys[SACRAL], "intraoseous haemangioma") == (Mark.CLOSE, "Intraosseous haemangioma")
    assert mark(seed_keys[EMH], "extramedulary haematopoesis") == (
        Mark.CLOSE,
        "Extramedullary haematopoiesis",
    )
    assert mark(seed_keys[AML], "leukaemic infiltraton") == (Mark.CLOSE, "Leukaemic infiltration")
    # A typo of another differential item is that item's outcome.
    assert mark(seed_keys[SACRAL], "chordomma") == (Mark.DIFFERENTIAL, "Chordoma")


def test_part_of_a_name_that_carries_most_of_it_is_close():
    key = key_for(Diagnosis(name="Spinal epidural haematoma", synonyms=[]))
    assert mark(key, "epidural hematoma") == (Mark.CLOSE, "Spinal epidural haematoma")


@pytest.mark.django_db
def test_a_longer_name_holding_the_diagnosis_is_close(seed_keys):
    assert mark(seed_keys[SACRAL], "sacral intraosseous haemangioma")[0] == Mark.CLOSE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, guess",
    [
        (SACRAL, "osteosarcoma"),
        (SACRAL, ""),
        (SACRAL, "   "),
        (SACRAL, "tumour"),
        (EMH, "EMG"),
        (AML, "sarcoma"),
        (AML, "infiltration"),
        # Hedging between answers is not rewarded.
        (SACRAL, "chordoma or giant cell tumour or haemangioma"),
    ],
)
def test_anything_else_is_wrong(seed_keys, slug, guess):
    assert grade_guess(seed_keys[slug], guess) == grade_guess(seed_keys[slug], "zzz")
    assert grade_guess(seed_keys[slug], guess).mark == Mark.WRONG


def test_a_different_diagnosis_spelt_alike_is_not_close():
    """difflib puts chondroma at 0.82 of chordoma: under the 0.85 threshold, as it should be."""
    key = key_for(Diagnosis(name="Chordoma", synonyms=[]))
    assert grade_guess(key, "chondroma").mark == Mark.WRONG
    assert grade_guess(key, "chordomaa").mark == Mark.CLOSE


def test_correct_beats_close_when_a_name_is_both_final_and_near_a_differential_item():
    key = key_for(Diagnosis(name="Chordoma", synonyms=[]), Diagnosis(name="Chondroma", synonyms=[]))
    assert mark(key, "chordoma") == (Mark.CORRECT, "Chordoma")
    assert mark(key, "chondroma") == (Mark.DIFFERENTIAL, "Chondroma")


def test_normalised_names_fold_spelling_accents_articles_and_shorthand():
    assert normalise_name("The Hæmangioma") == "hemangioma"
    assert normalise_name("TUMOUR of the ŒSOPHAGUS") == "tumor of esophagus"
    assert normalise_name("Lung mets") == "lung metastases"


@pytest.mark.django_db
def test_the_residents_differential_is_compared_with_the_cases(seed_keys):
    compared = compare_differential(
        seed_keys[SACRAL], ["Chordoma", "intraosseous hemangioma", "osteomyelitis", "metastases"]
    )
    assert [(item.guess, item.is_final, item.matched_name) for item in compared] == [
        ("Chordoma", False, "Chordoma"),
        ("intraosseous hemangioma", True, "Intraosseous haemangioma"),
        ("osteomyelitis", False, ""),
        ("metastases", False, "Bone metastasis"),
    ]


@pytest.mark.django_db
def test_another_diagnosis_the_archive_knows_is_not_taken_for_a_typo(seeded, diagnosis, make_case):
    case = Case.objects.for_detail().get(slug=SACRAL)
    # One letter from "osteoclastoma", a synonym of giant cell tumour in this case's differential.
    assert grade_guess(AnswerKey.of(case), "osteoblastoma").mark == Mark.DIFFERENTIAL
    osteoblastoma = diagnosis("Osteoblastoma")
    draft = make_case(status=Case.Status.DRAFT, final_diagnosis=osteoblastoma)
    # A draft's diagnosis is not public: the mark must not change because it exists.
    assert grade_guess(AnswerKey.of(case), "osteoblastoma").mark == Mark.DIFFERENTIAL
    Case.objects.filter(pk=draft.pk).update(status=Case.Status.PUBLISHED, published_at=timezone.now())
    assert grade_guess(AnswerKey.of(case), "osteoblastoma").mark == Mark.WRONG
    assert grade_guess(AnswerKey.of(case), "osteoclastomma").mark == Mark.DIFFERENTIAL


@pytest.mark.django_db
def test_the_mark_is_explained_in_words(seed_keys):
    key = seed_keys[AML]
    assert "a name of the final diagnosis" in explain_mark(
        key, guess="leukemic infiltration", mark=Mark.CORRECT, matched_name="leukemic infiltration"
    )
    assert "cannot tell it apart" in explain_mark(
        key, guess="chloroma", mark=Mark.CLOSE, matched_name="Myeloid sarcoma"
    )
    assert "in this case's differential, not its answer" in explain_mark(
        key, guess="EMH", mark=Mark.DIFFERENTIAL, matched_name="Extramedullary haematopoiesis"
    )
    assert explain_mark(key, guess="", mark=Mark.WRONG, matched_name="") == "No diagnosis was given."
