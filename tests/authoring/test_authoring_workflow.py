"""The workflow services: who may move a case where, what is recorded, and what publication requires."""

import io

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image as PILImage
from reversion.models import Version

from authoring.completeness import CaseFacts, completeness, completeness_of, names_the_answer
from authoring.models import CaseSectionNotStated, CaseTransition
from authoring.services import (
    PublishBlocked,
    SavedMeanwhile,
    TransitionNotAllowed,
    case_history_not_stated_set,
    case_publish,
    case_return_to_draft,
    case_save,
    case_submit_for_review,
    publish_blockers,
)
from cases.models import Case
from imaging.inputs import InputFile
from imaging.models import Image, Series
from imaging.services import images_ingest
from tests.helpers.authoring import FAST_HASHERS, complete_case, diagnosis_named

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED


@pytest.fixture
def users(faculty, other_faculty, editor, resident):
    return {"author": faculty, "other faculty": other_faculty, "editor": editor, "resident": resident}


def test_author_submits_editor_publishes_and_every_step_is_recorded(faculty, editor):
    case = complete_case(author=faculty)
    case_submit_for_review(case=case, by=faculty, note="Ready, I think.")
    case.refresh_from_db()
    assert case.status == REVIEW
    case_publish(case=case, by=editor, note="Good case.")
    case.refresh_from_db()
    assert case.status == PUBLISHED and case.published_at is not None
    steps = list(
        CaseTransition.objects.filter(case=case).values_list("from_status", "to_status", "by", "note")
    )
    assert steps == [
        (DRAFT, REVIEW, faculty.pk, "Ready, I think."),
        (REVIEW, PUBLISHED, editor.pk, "Good case."),
    ]
    comments = [version.revision.comment for version in Version.objects.get_for_object(case)]
    assert comments == ["Published: Good case.", "Submitted for review: Ready, I think."]


def test_an_edit_is_saved_only_over_the_version_it_was_loaded_from(faculty, editor):
    case = complete_case(author=faculty)
    loaded = Case.objects.get(pk=case.pk)
    case_submit_for_review(case=case, by=faculty)  # a step in between is a newer save too
    case_return_to_draft(case=case, by=editor)
    loaded.discussion = "The author's stale edit."
    with pytest.raises(SavedMeanwhile) as refused:
        case_save(case=loaded, loaded_updated_at=loaded.updated_at, by=faculty)
    current = Case.objects.get(pk=case.pk)
    assert refused.value.saved_at == current.updated_at and current.discussion != loaded.discussion

    current.discussion = "The author's edit, knowing."
    case_save(case=current, loaded_updated_at=current.updated_at, by=faculty)
    assert Case.objects.get(pk=case.pk).discussion == "The author's edit, knowing."
    with pytest.raises(PermissionDenied):
        stranger = Case.objects.get(pk=case.pk)
        case_save(case=stranger, loaded_updated_at=stranger.updated_at, by=AnonymousUser())


def test_unpublishing_returns_to_draft_and_republishing_keeps_the_first_date(faculty, editor):
    case = complete_case(author=faculty, status=REVIEW)
    first = case_publish(case=case, by=editor).published_at
    case_return_to_draft(case=case, by=editor, note="A correction is needed.")
    case.refresh_from_db()
    assert case.status == DRAFT
    assert Case.objects.visible_to(AnonymousUser()).filter(pk=case.pk).exists() is False
    case_submit_for_review(case=case, by=faculty)
    assert case_publish(case=case, by=editor).published_at == first


# Every role on every transition: (transition, starting status, role, allowed).
MATRIX = [
    ("submit", DRAFT, "author", True),
    ("submit", DRAFT, "other faculty", False),
    ("submit", DRAFT, "editor", True),
    ("submit", DRAFT, "resident", False),
    ("publish", REVIEW, "author", False),
    ("publish", REVIEW, "other faculty", False),
    ("publish", REVIEW, "editor", True),
    ("publish", REVIEW, "resident", False),
    ("return", REVIEW, "author", True),  # the author withdraws it
    ("return", REVIEW, "other faculty", False),
    ("return", REVIEW, "editor", True),
    ("return", REVIEW, "resident", False),
    ("return", PUBLISHED, "author", False),  # only an editor unpublishes
    ("return", PUBLISHED, "other faculty", False),
    ("return", PUBLISHED, "editor", True),
    ("return", PUBLISHED, "resident", False),
]
SERVICES = {"submit": case_submit_for_review, "publish": case_publish, "return": case_return_to_draft}
TARGET = {"submit": REVIEW, "publish": PUBLISHED, "return": DRAFT}


@pytest.mark.parametrize(("step", "start", "role", "allowed"), MATRIX)
def test_who_may_take_each_step(users, step, start, role, allowed):
    case = complete_case(author=users["author"], status=start)
    if allowed:
        SERVICES[step](case=case, by=users[role])
        case.refresh_from_db()
        assert case.status == TARGET[step]
        assert CaseTransition.objects.get(case=case).by == users[role]
    else:
        with pytest.raises(PermissionDenied):
            SERVICES[step](case=case, by=users[role])
        case.refresh_from_db()
        assert case.status == start
        assert not CaseTransition.objects.exists()


@pytest.mark.parametrize(
    ("step", "start"),
    [
        ("submit", REVIEW),
        ("submit", PUBLISHED),
        ("publish", DRAFT),
        ("publish", PUBLISHED),
        ("return", DRAFT),
    ],
)
def test_a_step_from_the_wrong_state_is_refused(editor, step, start):
    case = complete_case(author=editor, status=start)
    with pytest.raises(TransitionNotAllowed):
        SERVICES[step](case=case, by=editor)
    case.refresh_from_db()
    assert case.status == start


def test_anonymous_cannot_take_any_step():
    case = complete_case(status=REVIEW)
    for service in SERVICES.values():
        with pytest.raises(PermissionDenied):
            service(case=case, by=AnonymousUser())


def test_publishing_says_exactly_what_is_missing(editor):
    case = Case.objects.create(slug="empty", title="", status=REVIEW)
    with pytest.raises(PublishBlocked) as blocked:
        case_publish(case=case, by=editor)
    assert blocked.value.blockers == [
        "missing a title",
        "missing the clinical history (or an editor's mark that the source does not state it)",
        "missing at least one imaging finding",
        "missing a final diagnosis",
        "missing the certainty of the final diagnosis",
        "missing at least 2 differential diagnoses (0 so far)",
        "missing at least one image (add a series and upload its images)",
    ]
    assert str(blocked.value).startswith("Cannot publish: missing a title; missing the clinical history")
    case.refresh_from_db()
    assert case.status == REVIEW


def test_one_differential_item_is_not_enough(editor):
    case = complete_case(status=REVIEW)
    case.differential_items.last().delete()
    assert publish_blockers(case) == ["missing at least 2 differential diagnoses (1 so far)"]


@pytest.mark.parametrize(
    ("fields", "blocker"),
    [
        ({"title": "Chordoma of the sacrum"}, "missing a neutral title: it names the diagnosis (“Chordoma”)"),
        (
            {"title": "A notochordal tumour, 47F"},
            "missing a neutral title: it names the diagnosis (“notochordal tumour”)",
        ),
        ({"slug": "sacral-chordoma-47f"}, "missing a neutral slug: it names the diagnosis (“Chordoma”)"),
        (
            {"slug": "notochordal-tumour"},
            "missing a neutral slug: it names the diagnosis (“notochordal tumour”)",
        ),
    ],
)
def test_title_and_slug_must_not_name_the_diagnosis_or_a_synonym(editor, fields, blocker):
    case = complete_case(status=REVIEW, **fields)
    assert publish_blockers(case) == [blocker]
    with pytest.raises(PublishBlocked):
        case_publish(case=case, by=editor)


def test_naming_the_answer_folds_spelling_and_matches_whole_words():
    assert (
        names_the_answer("Hemangioma of the sacrum", ("Intraosseous haemangioma", "haemangioma"))
        == "haemangioma"
    )
    assert names_the_answer("back-pain-47f", ("Chordoma",)) is None
    assert names_the_answer("Chordomas are rare", ("Chordoma",)) is None  # another word, not this name
    assert names_the_answer("EMH", ("Extramedullary haematopoiesis", "EMH")) == "EMH"


def test_an_uncleared_flagged_image_blocks_publication(editor):
    case = complete_case(status=REVIEW)
    series = Series.objects.get(study__case=case)
    buffer = io.BytesIO()
    PILImage.new("L", (20, 10), 128).save(buffer, "PNG")
    images_ingest(series=series, files=[InputFile("shot.png", buffer.getvalue())])  # PNGs are always flagged
    assert publish_blockers(case) == [
        "1 image(s) may carry burned-in patient text: an editor must look and clear the flag"
    ]
    Image.objects.update(reviewed_by=editor, reviewed_at=timezone.now())
    assert case_publish(case=case, by=editor).status == PUBLISHED


def test_an_editor_may_publish_a_case_whose_source_states_no_history(editor):
    case = complete_case(status=REVIEW, clinical_history="")
    assert publish_blockers(case) == [
        "missing the clinical history (or an editor's mark that the source does not state it)"
    ]
    case_history_not_stated_set(case=case, not_stated=True, by=editor)
    assert publish_blockers(case) == []
    assert case_publish(case=case, by=editor).status == PUBLISHED
    assert CaseSectionNotStated.objects.get(case=case).by == editor


def test_only_editors_mark_a_section_not_stated_and_only_when_it_is_empty(faculty, editor):
    case = complete_case(author=faculty, clinical_history="")
    with pytest.raises(PermissionDenied):
        case_history_not_stated_set(case=case, not_stated=True, by=faculty)
    case_history_not_stated_set(case=case, not_stated=True, by=editor)
    case_history_not_stated_set(case=case, not_stated=False, by=editor)
    assert not CaseSectionNotStated.objects.exists()
    filled = complete_case(slug="with-history")
    with pytest.raises(ValueError, match="states a clinical history"):
        case_history_not_stated_set(case=filled, not_stated=True, by=editor)


def test_findings_and_the_rest_cannot_be_marked_not_stated():
    case = complete_case()
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseSectionNotStated.objects.create(case=case, section="findings")


def facts(**overrides) -> CaseFacts:
    values = {
        "title": "",
        "slug": "",
        "clinical_history": "",
        "history_not_stated": False,
        "has_final_diagnosis": False,
        "diagnosis_certainty": "",
        "diagnosis_proof": "",
        "discussion": "",
        "teaching_points": "",
        "answer_phrases": (),
        "findings": 0,
        "differential_items": 0,
        "images": 0,
        "references": 0,
        "regions": 0,
        "tags": 0,
    }
    return CaseFacts(**{**values, **overrides})


FULL = {
    "title": "Back pain",
    "slug": "back-pain",
    "clinical_history": "Pain.",
    "has_final_diagnosis": True,
    "diagnosis_certainty": "histology",
    "diagnosis_proof": "Biopsy.",
    "discussion": "Text.",
    "teaching_points": "- Point",
    "findings": 1,
    "differential_items": 2,
    "images": 1,
    "references": 1,
    "regions": 1,
    "tags": 1,
}


def test_completeness_score_counts_required_and_recommended_sections():
    assert completeness(facts()).score == 0
    assert completeness(facts(**FULL)).score == 100
    assert completeness(facts(**FULL)).publishable
    # The six required sections filled, none of the five recommended ones: 6 of 11.
    required_only = {
        **FULL,
        "discussion": "",
        "teaching_points": "",
        "references": 0,
        "regions": 0,
        "tags": 0,
    }
    state = completeness(facts(**required_only))
    assert state.score == 55 and state.publishable
    # Proof is part of the diagnosis section's score, but publication does not require it.
    no_proof = completeness(facts(**{**FULL, "diagnosis_proof": ""}))
    assert no_proof.score == 91 and no_proof.publishable
    acknowledged = completeness(facts(**{**FULL, "clinical_history": "", "history_not_stated": True}))
    assert acknowledged.score == 100 and acknowledged.publishable


def test_completeness_of_a_stored_case_counts_its_rows(seeded):
    case = Case.objects.get(slug="acute-back-pain-29m")
    state = completeness_of(case)
    labels = {section.label: section.filled for section in state.sections}
    assert labels["Imaging findings"] and labels["References"] and labels["Tags"] and labels["Regions"]
    assert labels["Differential diagnosis (at least 2)"]
    assert not labels["Images"]  # the seed loads no images; the demo adds sample ones
    assert state.missing_for_publication == ("at least one image (add a series and upload its images)",)


def test_diagnosis_with_a_synonym_named_in_the_slug_is_caught_even_after_renaming(editor):
    case = complete_case(status=REVIEW, slug="sacral-mass-47f")
    assert publish_blockers(case) == []
    diagnosis = diagnosis_named("Chordoma")
    diagnosis.synonyms = ["sacral mass"]
    diagnosis.save()
    case.refresh_from_db()
    assert publish_blockers(case) == ["missing a neutral slug: it names the diagnosis (“sacral mass”)"]
