"""Lesion targets are drawn on the image's admin page (rows quiz adds there through
``imaging.extensions.image_admin_inlines``) and their questions are listed in the case editor. Each target
is checked against its image; whoever may edit the case may change them; each save is a revision of the
case."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from reversion.models import Version

from cases.models import Case
from quiz.lesion_target_forms import LesionTargetForm, LocalisationQuestionForm
from quiz.models import LesionTarget, LocalisationQuestion
from tests.helpers.authoring import complete_case, form_data
from tests.helpers.lesion_targets import (
    PREFIX,
    ellipse_row,
    first_image,
    image_url,
    polygon_row,
    question_on,
    target_rows,
)

pytestmark = pytest.mark.django_db

DRAFT, PUBLISHED = Case.Status.DRAFT, Case.Status.PUBLISHED
TRIANGLE = [[10, 10], [50, 12], [30, 40]]  # on MR_small, 64 pixels square


def target_form(image, row: dict) -> LesionTargetForm:
    return LesionTargetForm(row, instance=LesionTarget(image=image))


@pytest.fixture
def draft(faculty):
    case = complete_case(author=faculty)
    question, image = question_on(case)
    return case, question, image


# The form: each error names what is wrong.


@pytest.mark.parametrize(
    "row, field, message",
    [
        (polygon_row([[10, 10], [50, 12]]), "points", "A polygon needs at least 3 points, [[x, y], …]."),
        (polygon_row([]), "points", "A polygon needs at least 3 points, [[x, y], …]."),
        (
            polygon_row([[10, 10], [70, 12], [30, 40]]),
            "points",
            "Point 2 (70, 12) is outside the image (64 x 64 pixels).",
        ),
        (polygon_row([[10, 10], [50, -0.5], [30, 40]]), "points", "Point 2 (50, -0.5) is outside the image"),
        (polygon_row([10, 10, 50]), "points", "Point 1 is not a pair of numbers [x, y]."),
        (polygon_row([[10, 10], ["a", 1], [30, 40]]), "points", "Point 2 is not a pair of numbers [x, y]."),
        (ellipse_row((65, 20), (5, 5)), "center_x", "The centre's x (65) is outside the image's width (64)."),
        (
            ellipse_row((20, 64.5), (5, 5)),
            "center_y",
            "The centre's y (64.5) is outside the image's height (64).",
        ),
        (ellipse_row((20, 20), (0, 5)), "radius_x", "An ellipse's radius must be a number above 0."),
        (ellipse_row((20, 20), (5, -2)), "radius_y", "An ellipse's radius must be a number above 0."),
        (
            {**ellipse_row((20, 20), (5, 5)), "center_y": ""},
            "center_y",
            "The ellipse's centre needs both coordinates.",
        ),
        (polygon_row(TRIANGLE, frame=2), "frame", "This image has 1 frame(s); choose a frame from 1 to 1."),
        (polygon_row(TRIANGLE, frame=0), "frame", "Ensure this value is greater than or equal to 1."),
        ({**polygon_row(TRIANGLE), "points": "[[10, 10], [50"}, "points", "Enter a valid JSON."),
    ],
)
def test_a_bad_target_is_refused_saying_what_is_wrong(draft, row, field, message):
    _case, question, image = draft
    form = target_form(image, {**row, "question": str(question.pk)})
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


def test_a_target_on_an_image_of_another_series_is_refused(draft):
    case, _question, image = draft
    other, _ = question_on(case, label="Sagittal T2")
    form = target_form(image, polygon_row(TRIANGLE, question=other))
    assert not form.is_valid()
    assert form.errors["question"] == [
        "This image is in the series “Axial T2”, not in the question's series “Sagittal T2”: draw the "
        "question's targets on that series' images."
    ]


def test_a_good_target_keeps_only_its_own_shape(draft):
    _case, question, image = draft
    form = target_form(image, {**polygon_row(TRIANGLE, question=question), "center_x": "3", "radius_x": "4"})
    assert form.is_valid(), form.errors
    target = form.save()
    assert (target.points, target.center_x, target.radius_x, target.frame) == (TRIANGLE, None, None, 0)
    form = target_form(image, {**ellipse_row((64, 0), (3, 4), 200, question=question), "points": "[[1, 2]]"})
    assert form.is_valid(), form.errors  # the far edge of the image is on it
    target = form.save()
    assert (target.points, target.center_x, target.center_y, target.rotation) == ([], 64, 0, -160)


# The image page: who may draw, and the revision.


def test_faculty_draw_targets_on_their_own_draft_and_the_save_is_a_revision(client, faculty, draft):
    case, question, image = draft
    client.force_login(faculty)
    page = client.get(image_url(image)).content.decode()
    assert f'name="{PREFIX}-__prefix__-points"' in page and "js/lesion_targets.js" in page
    rows = [polygon_row(TRIANGLE, question=question), ellipse_row((32, 30), (8, 4), 30, question=question)]
    response = client.post(image_url(image), target_rows(image, rows))
    assert response.status_code == 302, response.content.decode()[:3000]
    stored = list(question.targets.order_by("pk").values_list("shape", "points", "center_x", "rotation"))
    assert stored == [("polygon", TRIANGLE, None, 0), ("ellipse", [], 32, 30)]
    version = Version.objects.get_for_object(case).first()
    assert version.revision.user == faculty
    assert "Lesion targets changed" in version.revision.get_comment()
    held = version.revision.version_set.get_for_model(LesionTarget)
    assert sorted(v.field_dict["shape"] for v in held) == ["ellipse", "polygon"]


def test_a_target_drawn_without_a_question_makes_one_with_its_prompt(client, faculty):
    case = complete_case(author=faculty)
    image = first_image(case)
    client.force_login(faculty)
    rows = [polygon_row(TRIANGLE, prompt="Click the sacral lesion"), ellipse_row((20, 20), (4, 4), prompt="")]
    assert client.post(image_url(image), target_rows(image, rows)).status_code == 302
    questions = {q.prompt: q for q in LocalisationQuestion.objects.filter(case=case)}
    assert set(questions) == {"Click the sacral lesion", "Click the abnormality"}
    assert all(q.series == image.series for q in questions.values())
    assert questions["Click the sacral lesion"].targets.get().shape == "polygon"
    revision = Version.objects.get_for_object(case).first().revision
    assert len(revision.version_set.get_for_model(LocalisationQuestion)) == 2


def test_a_bad_row_stores_nothing(client, faculty):
    case = complete_case(author=faculty)
    image = first_image(case)
    client.force_login(faculty)
    rows = [polygon_row(TRIANGLE, prompt="New one"), polygon_row([[1, 1], [2, 2]], prompt="New one")]
    response = client.post(image_url(image), target_rows(image, rows))
    assert response.status_code == 200
    assert "A polygon needs at least 3 points, [[x, y], …]." in response.content.decode()
    assert not LocalisationQuestion.objects.exists() and not LesionTarget.objects.exists()
    assert not Version.objects.get_for_object(case).exists()


@pytest.mark.parametrize("status", [DRAFT, PUBLISHED])
def test_faculty_cannot_draw_on_a_case_they_may_not_edit(client, faculty, other_faculty, status):
    case = complete_case(author=other_faculty if status == DRAFT else faculty, status=status)
    question, image = question_on(case)
    client.force_login(faculty)
    response = client.post(image_url(image), target_rows(image, [polygon_row(TRIANGLE, question=question)]))
    # A colleague's draft is not even listed (the admin sends them back to its index); their own
    # published case is read-only to them.
    assert response.status_code == 403 if status == PUBLISHED else response["Location"] == "/admin/"
    assert not LesionTarget.objects.exists()
    if status == PUBLISHED:
        page = client.get(image_url(image)).content.decode()
        assert f'name="{PREFIX}-__prefix__-points"' not in page  # read-only: no row to draw into


def test_editors_change_the_targets_of_a_published_case_as_a_revision(client, editor, faculty):
    case = complete_case(author=faculty, status=PUBLISHED)
    question, image = question_on(case)
    client.force_login(editor)
    rows = [ellipse_row((10, 50), (6, 3), -45, question=question)]
    assert client.post(image_url(image), target_rows(image, rows)).status_code == 302
    assert question.targets.get().rotation == -45
    version = Version.objects.get_for_object(case).first()
    assert version.revision.user == editor
    assert len(version.revision.version_set.get_for_model(LesionTarget)) == 1


def test_a_save_of_arrows_only_records_no_revision(client, faculty, draft):
    case, _question, image = draft
    client.force_login(faculty)
    assert client.post(image_url(image), target_rows(image, [])).status_code == 302
    assert not Version.objects.get_for_object(case).exists()


def test_the_question_choices_are_those_of_the_image_series(client, faculty, draft):
    case, _question, image = draft
    other, _ = question_on(case, prompt="Elsewhere", label="Sagittal T2")
    client.force_login(faculty)
    response = client.post(image_url(image), target_rows(image, [polygon_row(TRIANGLE, question=other)]))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not LesionTarget.objects.exists()


# The case editor lists the questions with their targets.


def test_a_question_on_a_series_of_another_case_is_refused(faculty):
    case = complete_case(author=faculty)
    other_case = complete_case(slug="other-case", author=faculty)
    series = first_image(other_case).series
    form = LocalisationQuestionForm(
        {"order": "1", "series": str(series.pk), "prompt": "Click it"},
        instance=LocalisationQuestion(case=case),
    )
    assert not form.is_valid()
    assert form.errors["series"] == [
        "The series “Axial T2” belongs to another case: choose one of this case's."
    ]


def case_url(case) -> str:
    return f"/admin/cases/case/{case.pk}/change/"


def test_the_case_editor_lists_localisation_questions_with_targets_and_a_link_to_draw(client, faculty, draft):
    case, question, image = draft
    LesionTarget.objects.create(question=question, image=image, shape="polygon", points=TRIANGLE)
    LesionTarget.objects.create(
        question=question, image=image, shape="ellipse", center_x=5, center_y=5, radius_x=2, radius_y=2
    )
    empty, _ = question_on(case, prompt="Click the other lesion", label="Sagittal T2")
    client.force_login(faculty)
    page = client.get(case_url(case)).content.decode()
    assert "“Point to the lesion” questions" in page
    assert f'href="/admin/imaging/image/{image.pk}/change/?question={question.pk}"' in page
    assert "2 targets on 1 frame" in page
    assert f"?question={empty.pk}" in page and "None yet" in page
    # Once it is in review, its author reads the counts without the links.
    Case.objects.filter(pk=case.pk).update(status=Case.Status.IN_REVIEW)
    page = client.get(case_url(case)).content.decode()
    assert "2 targets on 1 frame" in page and "None yet" in page and "?question=" not in page


def test_the_case_editor_reads_the_questions_and_targets_in_a_fixed_number_of_queries(client, faculty, draft):
    case, _question, image = draft
    client.force_login(faculty)
    with CaptureQueriesContext(connection) as one:
        client.get(case_url(case))
    for prompt in ["Second?", "Third?", "Fourth?"]:
        more = LocalisationQuestion.objects.create(case=case, series=image.series, prompt=prompt)
        LesionTarget.objects.create(question=more, image=image, shape="polygon", points=TRIANGLE)
    with CaptureQueriesContext(connection) as four:
        page = client.get(case_url(case)).content.decode()
    assert page.count("1 target on 1 frame") == 3
    assert len(four) == len(one)


def test_faculty_add_a_localisation_question_in_the_case_editor_on_their_own_series_only(client, faculty):
    case = complete_case(author=faculty)
    other_case = complete_case(slug="other-case", author=faculty)
    client.force_login(faculty)
    data = form_data(client.get(case_url(case)))
    prefix = "localisation_questions"
    data |= {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-order": "0",
        f"{prefix}-0-series": str(first_image(other_case).series_id),
        f"{prefix}-0-prompt": "Click the mass",
    }
    response = client.post(case_url(case), data)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    data[f"{prefix}-0-series"] = str(first_image(case).series_id)
    assert client.post(case_url(case), data).status_code == 302
    question = LocalisationQuestion.objects.get()
    assert (question.case, question.prompt, question.order) == (case, "Click the mass", 1)
    revision = Version.objects.get_for_object(case).first().revision
    assert len(revision.version_set.get_for_model(LocalisationQuestion)) == 1


# Targets stay in the admin: the public pages of the case, with their image data, never carry them.


def test_the_public_case_page_carries_no_target(client, faculty, resident):
    case = complete_case(author=faculty, status=PUBLISHED)
    question, image = question_on(case, prompt="Click the sacral lesion")
    LesionTarget.objects.create(
        question=question,
        image=image,
        shape="polygon",
        points=[[12.3456, 23.4567], [50.5, 9.25], [41.125, 55.0625]],
    )
    LesionTarget.objects.create(
        question=question,
        image=image,
        shape="ellipse",
        center_x=31.4159,
        center_y=27.1828,
        radius_x=7.3891,
        radius_y=4.6692,
        rotation=66.6,
    )
    client.force_login(resident)
    page = client.get(f"/cases/{case.slug}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-stack-id="stack-{image.series_id}"' in text  # the series and its stack data are there
    for secret in [
        "12.3456",
        "23.4567",
        "41.125",
        "31.4159",
        "27.1828",
        "7.3891",
        "4.6692",
        "66.6",
        "polygon",
        "ellipse",
        "Click the sacral lesion",
    ]:
        assert secret not in text
