"""Questions are written with the case: in the case editor (an inline quiz adds through
``cases.extensions.case_admin_inlines``) and on each question's page with its options. Who may change
them is who may edit the case; each save is a revision of the case that holds its questions."""

import pytest
from reversion.models import Version

from cases.models import Case
from quiz.models import Question, QuestionOption, QuizFormat
from tests.helpers.authoring import FAST_HASHERS, complete_case, form_data
from tests.helpers.questions import add_question

pytestmark = pytest.mark.django_db

DRAFT, PUBLISHED = Case.Status.DRAFT, Case.Status.PUBLISHED
QUESTIONS = "/admin/quiz/question/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def case_url(case) -> str:
    return f"/admin/cases/case/{case.pk}/change/"


def question_url(question) -> str:
    return f"{QUESTIONS}{question.pk}/change/"


def options_data(options, *, initial=None) -> dict:
    """The question page's option rows: (text, correct, rationale) each; `initial` the existing options."""
    initial = initial or []
    data = {
        "options-TOTAL_FORMS": str(len(options)),
        "options-INITIAL_FORMS": str(len(initial)),
        "options-MIN_NUM_FORMS": "3",
        "options-MAX_NUM_FORMS": "6",
    }
    for row, (text, correct, rationale) in enumerate(options):
        data |= {f"options-{row}-text": text, f"options-{row}-rationale": rationale}
        if correct:
            data[f"options-{row}-is_correct"] = "on"
        if row < len(initial):
            data |= {
                f"options-{row}-id": str(initial[row].pk),
                f"options-{row}-question": str(initial[row].question_id),
            }
            data[f"options-{row}-order"] = str(initial[row].order)
    return data


FOUR = [
    ("Biopsy", True, "Histology first."),
    ("Radiotherapy", False, "Not before a diagnosis."),
    ("Wait", False, "Not for a destructive mass."),
    ("Bone scan", False, "Adds nothing here."),
]


def add_through_case_editor(client, case, stem="What next?") -> int:
    data = form_data(client.get(case_url(case)))
    row = int(data["questions-TOTAL_FORMS"])
    data |= {
        "questions-TOTAL_FORMS": str(row + 1),
        f"questions-{row}-stem": stem,
        f"questions-{row}-order": "0",
    }
    return client.post(case_url(case), data).status_code


def test_faculty_add_questions_to_their_own_draft_in_the_case_editor(client, faculty):
    case = complete_case(author=faculty)
    client.force_login(faculty)
    page = client.get(case_url(case)).content.decode()
    assert "Single-best-answer questions" in page and "Quiz format" in page
    assert add_through_case_editor(client, case, "First?") == 302
    assert add_through_case_editor(client, case, "Second?") == 302
    assert list(case.questions.values_list("stem", "order")) == [("First?", 1), ("Second?", 2)]
    # The revision the editor recorded holds the questions.
    revision = Version.objects.get_for_object(case).first().revision
    assert {version.field_dict["stem"] for version in revision.version_set.get_for_model(Question)} == {
        "First?",
        "Second?",
    }


@pytest.mark.parametrize("status", [DRAFT, PUBLISHED])
def test_faculty_cannot_change_questions_of_a_case_they_may_not_edit(client, faculty, other_faculty, status):
    case = complete_case(author=other_faculty if status == DRAFT else faculty, status=status)
    question = add_question(case)
    client.force_login(faculty)
    if status == DRAFT:
        assert client.get(case_url(case)).status_code in (302, 403, 404)
    else:
        page = client.get(case_url(case)).content.decode()
        assert 'name="questions-0-stem"' not in page
    response = client.post(question_url(question), {"stem": "Changed?", "order": "1", **options_data(FOUR)})
    # Refused: a colleague's draft is not even listed (the admin sends them back to its index).
    assert response.status_code == 403 if status == PUBLISHED else response["Location"] == "/admin/"
    question.refresh_from_db()
    assert question.stem != "Changed?"
    response = client.post(
        f"{QUESTIONS}add/", {"case": str(case.pk), "stem": "Mine?", "order": "2", **options_data(FOUR)}
    )
    assert response.status_code == 200 and not Question.objects.filter(stem="Mine?").exists()


def test_faculty_write_options_on_the_question_page_of_their_draft(client, faculty):
    case = complete_case(author=faculty)
    client.force_login(faculty)
    response = client.post(
        f"{QUESTIONS}add/", {"case": str(case.pk), "stem": "What next?", "order": "1", **options_data(FOUR)}
    )
    assert response.status_code == 302
    question = Question.objects.get()
    assert [(o.order, o.text, o.is_correct) for o in question.options.all()] == [
        (1, "Biopsy", True),
        (2, "Radiotherapy", False),
        (3, "Wait", False),
        (4, "Bone scan", False),
    ]
    version = Version.objects.get_for_object(case).first()
    assert version.revision.user == faculty
    assert len(version.revision.version_set.get_for_model(QuestionOption)) == 4


@pytest.mark.parametrize(
    "options, message",
    [
        (FOUR[:2], "Please submit at least 3 forms."),
        ([*FOUR, ("E", False, "e"), ("F", False, "f"), ("G", False, "g")], "Please submit at most 6 forms."),
        ([(text, False, why) for text, _, why in FOUR], "Mark exactly one option as correct."),
        ([(text, True, why) for text, _, why in FOUR], "Mark exactly one option as correct."),
    ],
)
def test_the_option_rows_are_three_to_six_with_one_correct(client, editor, options, message):
    case = complete_case(status=PUBLISHED)
    client.force_login(editor)
    response = client.post(
        f"{QUESTIONS}add/", {"case": str(case.pk), "stem": "What?", "order": "1", **options_data(options)}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Question.objects.exists()


def test_editors_change_the_correct_option_of_a_published_case(client, editor):
    case = complete_case(status=PUBLISHED)
    question = add_question(case)
    client.force_login(editor)
    initial = list(question.options.all())
    # The last option becomes the correct one: saved after the first, which loses the mark.
    rows = [(option.text, option.order == 4, option.rationale) for option in initial]
    response = client.post(
        question_url(question), {"stem": question.stem, "order": "1", **options_data(rows, initial=initial)}
    )
    assert response.status_code == 302
    assert question.options.get(is_correct=True).order == 4
    # And back again, saved in the other order.
    rows = [(option.text, option.order == 1, option.rationale) for option in initial]
    response = client.post(
        question_url(question), {"stem": question.stem, "order": "1", **options_data(rows, initial=initial)}
    )
    assert response.status_code == 302
    assert question.options.get(is_correct=True).order == 1
    assert Version.objects.get_for_object(case).count() == 2


def test_the_quiz_format_is_kept_per_case(client, faculty):
    case = complete_case(author=faculty)
    client.force_login(faculty)
    data = form_data(client.get(case_url(case)))
    data |= {"quiz_format-TOTAL_FORMS": "1", "quiz_format-0-ask_diagnosis": ""}
    data.pop("quiz_format-0-ask_diagnosis")
    assert client.post(case_url(case), data).status_code == 302
    assert QuizFormat.objects.get(case=case).ask_diagnosis is False


def test_a_new_question_offers_three_option_rows_and_room_for_six(client, faculty):
    client.force_login(faculty)
    page = client.get(f"{QUESTIONS}add/").content.decode()
    assert 'name="options-TOTAL_FORMS" value="3"' in page
    assert 'name="options-MAX_NUM_FORMS" value="6"' in page


def test_restoring_a_case_version_restores_its_questions(client, editor):
    case = complete_case(status=PUBLISHED)
    question = add_question(case, stem="As first written?")
    client.force_login(editor)
    initial = list(question.options.all())
    rows = [(option.text, option.is_correct, option.rationale) for option in initial]
    for stem in ["As first written?", "Rewritten?"]:
        data = {"stem": stem, "order": "1", **options_data(rows, initial=initial)}
        assert client.post(question_url(question), data).status_code == 302
    first = Version.objects.get_for_object(case).last()
    question.options.filter(order=4).delete()
    first.revision.revert(delete=True)
    question.refresh_from_db()
    assert question.stem == "As first written?" and question.options.count() == 4


def test_the_versions_page_lists_a_question_save(client, editor):
    case = complete_case(status=PUBLISHED)
    question = add_question(case)
    client.force_login(editor)
    initial = list(question.options.all())
    rows = [(option.text, option.is_correct, option.rationale) for option in initial]
    for stem in ["First?", "Second?"]:
        client.post(
            question_url(question), {"stem": stem, "order": "1", **options_data(rows, initial=initial)}
        )
    old, new = Version.objects.get_for_object(case).order_by("pk")
    response = client.get(f"/admin/cases/case/{case.pk}/versions/?from={old.pk}&to={new.pk}")
    assert response.status_code == 200
    assert "Question changed." in response.content.decode()
