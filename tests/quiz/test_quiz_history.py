"""The versions page lists what changed in a case's quiz rows between two revisions, in plain words:
single-best-answer questions and their options, the quiz format, localisation questions and their
targets (each revision of the case holds them)."""

import pytest
import reversion
from django.db import connection
from django.test.utils import CaptureQueriesContext
from reversion.models import Version

from authoring.history import version_diff
from quiz.models import LesionTarget, QuestionOption
from tests.helpers.authoring import FAST_HASHERS, complete_case
from tests.helpers.localisation import (
    RTDOSE,
    add_localisation,
    ellipse,
    images_of,
    polygon,
    series_with_images,
)
from tests.helpers.questions import add_question, questions_only

pytestmark = pytest.mark.django_db

THREE_OPTIONS = [
    ("Biopsy under CT guidance", True, "Histology first."),
    ("Radiotherapy at once", False, "Not before a diagnosis."),
    ("Follow-up MRI in a year", False, "Not watched."),
]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def snapshot(case) -> None:
    """A revision of the case as the editors' saves make one (the case follows its quiz rows)."""
    with reversion.create_revision():
        reversion.add_to_revision(case)


@pytest.fixture
def changed(faculty):
    """A case saved twice: between the saves its quiz rows are added to, changed and removed."""
    case = complete_case(author=faculty)
    series = series_with_images(case, RTDOSE, RTDOSE, RTDOSE, label="Dose", modality="OT")
    first, second, third = images_of(series)
    kept = add_question(case, stem="Which is the most appropriate next step?", options=THREE_OPTIONS)
    dropped = add_question(case, stem="Which sign is typical?", options=THREE_OPTIONS, order=2)
    localisation = add_localisation(
        case, series, ellipse(first, 5, 5, 2, 1), polygon(second, [(1, 1), (9, 1), (5, 8)])
    )
    snapshot(case)

    option = kept.options.get(order=2)
    option.text = "Radiotherapy now"
    option.save()
    dropped.delete()
    add_question(case, stem="Which age group is most affected?", options=THREE_OPTIONS, order=3)
    questions_only(case)
    localisation.prompt = "Click the sacral mass"
    localisation.save()
    moved = LesionTarget.objects.get(shape="ellipse")
    moved.center_x, moved.rotation = 7, 15
    moved.save()
    LesionTarget.objects.filter(shape="polygon").delete()
    LesionTarget.objects.create(
        question=localisation,
        image=third,
        frame=1,
        shape="ellipse",
        center_x=4,
        center_y=6,
        radius_x=3,
        radius_y=2,
    )
    snapshot(case)
    return case


def rows_by_group(diff) -> dict[str, list]:
    return {group.title: group.rows for group in diff.groups}


def test_quiz_rows_added_removed_and_changed_are_listed_in_plain_words(changed):
    newest, oldest = Version.objects.get_for_object(changed)
    groups = rows_by_group(version_diff(oldest, newest))

    questions = {row.summary: row for row in groups["Single-best-answer questions"]}
    assert set(questions) == {
        "Question removed: “Which sign is typical?”",
        "Question added: “Which age group is most affected?”",
        "Option 2 changed in question “Which is the most appropriate next step?”",
        *(f"Option {n} removed in question “Which sign is typical?”" for n in (1, 2, 3)),
        *(f"Option {n} added in question “Which age group is most affected?”" for n in (1, 2, 3)),
    }
    option = questions["Option 2 changed in question “Which is the most appropriate next step?”"]
    assert [(c.label, str(c.old), str(c.new)) for c in option.changes] == [
        ("Text", "Radiotherapy <del>at once</del>", "Radiotherapy <ins>now</ins>")
    ]
    assert [(row.summary, [str(c.new) for c in row.changes]) for row in groups["Quiz format"]] == [
        ("Quiz format added", ["no"])
    ]

    targets = {row.summary: row for row in groups["Point to the lesion"]}
    assert set(targets) == {
        "Localisation question changed: “Click the sacral mass”",
        "Target changed on image 1, frame 1 (question “Click the sacral mass”)",
        "Target removed on image 2, frame 1 (question “Click the sacral mass”)",
        "Target added on image 3, frame 2 (question “Click the sacral mass”)",
    }
    turned = targets["Target changed on image 1, frame 1 (question “Click the sacral mass”)"]
    assert [(c.label, str(c.old), str(c.new)) for c in turned.changes] == [
        (
            "Shape",
            "ellipse centred at <del>(5,</del> 5), radii 2 by 1, turned <del>0°</del>",
            "ellipse centred at <ins>(7,</ins> 5), radii 2 by 1, turned <ins>15°</ins>",
        )
    ]
    added = targets["Target added on image 3, frame 2 (question “Click the sacral mass”)"]
    assert [(c.label, str(c.new)) for c in added.changes] == [
        ("Place", "image 3, frame 2"),
        ("Shape", "ellipse centred at (4, 6), radii 3 by 2, turned 0°"),
    ]
    assert version_diff(newest, newest).is_empty


def test_the_versions_page_shows_the_quiz_changes(client, faculty, changed):
    newest, oldest = Version.objects.get_for_object(changed)
    client.force_login(faculty)
    url = f"/admin/cases/case/{changed.pk}/versions/"
    page = client.get(url, {"from": oldest.pk, "to": newest.pk}).content.decode()
    assert "<caption>Point to the lesion</caption>" in page
    assert "Target added on image 3, frame 2 (question “Click the sacral mass”)" in page
    assert "Question removed: “Which sign is typical?”" in page
    assert "Radiotherapy <ins>now</ins>" in page


def test_an_option_whose_question_belongs_to_another_case_is_not_listed(changed, faculty):
    other = complete_case(slug="another-case", author=faculty)
    snapshot(other)
    add_question(other, stem="Elsewhere?", options=THREE_OPTIONS)
    QuestionOption.objects.filter(question__case=other).update(text="Changed elsewhere")
    snapshot(other)
    newest, oldest = Version.objects.get_for_object(changed)
    summaries = [row.summary for group in version_diff(oldest, newest).groups for row in group.rows]
    assert not any("Elsewhere" in summary for summary in summaries)


def diff_queries(faculty, slug: str, series_count: int) -> int:
    """Queries of comparing two revisions of a case whose targets moved on `series_count` series."""
    case = complete_case(slug=slug, author=faculty)
    targets = []
    for n in range(series_count):
        series = series_with_images(case, RTDOSE, RTDOSE, label=f"Dose {n}", modality="OT")
        question = add_localisation(case, series, polygon(images_of(series)[1], [(1, 1), (9, 1), (5, 8)]))
        targets.append(question.targets.get())
    snapshot(case)
    for target in targets:
        target.points = [[2, 2], [9, 1], [5, 8]]
        target.save()
    snapshot(case)
    newest, oldest = Version.objects.get_for_object(case)
    with CaptureQueriesContext(connection) as queries:
        diff = version_diff(oldest, newest)
    rows = rows_by_group(diff)["Point to the lesion"]
    assert len(rows) == series_count and all("on image 2, frame 1" in row.summary for row in rows)
    return len(queries)


def test_naming_the_images_takes_the_same_queries_whatever_the_number_of_series(faculty):
    assert diff_queries(faculty, "one-series", 1) == diff_queries(faculty, "three-series", 3)
