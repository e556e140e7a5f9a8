"""A resident's progress: accuracy by top-level region, modality and diagnosis, weakest first."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Case, Region
from quiz.models import Mark, QuizAttempt
from quiz.progress import BAR_WIDTH, progress_for
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"  # Spine (sacrum) and Pelvis; CR, NM, MR; intraosseous haemangioma
EMH = "acute-back-pain-29m"  # Spine; MR; extramedullary haematopoiesis
AML = "lumbosacral-mri-and-chest-ct"  # Spine; MR, CT; leukaemic infiltration


def attempt(user, slug: str, mark: str, override: str = "") -> QuizAttempt:
    return QuizAttempt.objects.create(
        user=user, case=Case.objects.get(slug=slug), guess="g", mark=mark, override=override
    )


def rows(tallies) -> list[tuple]:
    return [
        (tally.label, tally.attempts, tally.counts[Mark.CORRECT], tally.counts[Mark.CLOSE])
        for tally in tallies
    ]


@pytest.fixture
def history(seeded, resident):
    attempt(resident, SACRAL, Mark.CORRECT)
    attempt(resident, SACRAL, Mark.WRONG, override=Mark.CORRECT)  # the override counts
    attempt(resident, EMH, Mark.CLOSE)
    attempt(resident, EMH, Mark.WRONG)
    attempt(resident, AML, Mark.WRONG)
    attempt(resident, AML, Mark.CORRECT, override=Mark.WRONG)
    attempt(make_user("other", "resident"), SACRAL, Mark.WRONG)  # someone else's: not counted
    return resident


def test_accuracy_by_top_level_region_modality_and_diagnosis_weakest_first(history):
    progress = progress_for(history)
    overall = progress.overall
    assert (overall.attempts, overall.counts[Mark.CORRECT], overall.counts[Mark.CLOSE]) == (6, 2, 1)
    # Sub-regions count under their top-level region; a case in two top-level regions counts in both.
    assert rows(progress.by_region) == [("Spine", 6, 2, 1), ("Pelvis", 2, 2, 0)]
    assert rows(progress.by_modality) == [
        ("CT", 2, 0, 0),
        ("MRI", 6, 2, 1),
        ("Nuclear medicine", 2, 2, 0),
        ("Radiograph", 2, 2, 0),
    ]
    assert rows(progress.by_diagnosis) == [
        ("Leukaemic infiltration", 2, 0, 0),
        ("Extramedullary haematopoiesis", 2, 0, 1),
        ("Intraosseous haemangioma", 2, 2, 0),
    ]


def test_ties_put_the_more_practised_area_first(seeded, resident):
    attempt(resident, EMH, Mark.WRONG)
    attempt(resident, AML, Mark.WRONG)
    attempt(resident, AML, Mark.WRONG)
    assert [tally.label for tally in progress_for(resident).by_diagnosis] == [
        "Leukaemic infiltration",
        "Extramedullary haematopoiesis",
    ]


def test_bar_segments_are_proportional(history):
    spine = progress_for(history).by_region[0]
    assert (spine.percent_correct, spine.percent_close, spine.percent_differential, spine.percent_wrong) == (
        33,
        17,
        0,
        50,
    )
    segments = {segment.mark: segment for segment in spine.segments}
    assert [segment.mark for segment in spine.segments] == ["correct", "close", "differential", "wrong"]
    assert segments["correct"].width == round(BAR_WIDTH * 2 / 6)
    assert segments["correct"].width + segments["close"].width == round(BAR_WIDTH * 3 / 6)
    assert segments["close"].x == segments["correct"].width
    assert sum(segment.width for segment in spine.segments) == BAR_WIDTH


def test_each_outcome_shows_as_a_percentage_and_in_the_differential_is_not_correct(seeded, resident):
    attempt(resident, SACRAL, Mark.CORRECT)
    attempt(resident, SACRAL, Mark.DIFFERENTIAL)
    attempt(resident, AML, Mark.WRONG, override=Mark.DIFFERENTIAL)  # the override counts
    attempt(resident, AML, Mark.CLOSE)
    overall = progress_for(resident).overall
    assert (
        overall.percent_correct,
        overall.percent_close,
        overall.percent_differential,
        overall.percent_wrong,
    ) == (
        25,
        25,
        50,
        0,
    )


def test_progress_page_draws_bars_as_svg_without_inline_style(client, history):
    client.force_login(history)
    html = client.get("/quiz/progress/").content.decode()
    assert "style=" not in html and "<script" not in html
    headings = re.findall(r"<h2>([^<]+)</h2>", html)
    assert headings[:3] == ["By region", "By modality", "By diagnosis"]
    bars = re.findall(r'<rect class="bar-correct" x="0" width="(\d+)"', html)
    assert len(bars) == 2 + 4 + 3
    assert bars[0] == str(round(BAR_WIDTH * 2 / 6))  # Spine comes first: 2 of 6 correct
    assert 'aria-label="33% correct, 17% close, 0% in the differential, 50% not the diagnosis"' in html
    assert "0% in the case's differential, 50% not the diagnosis" in html  # the summary line
    by_diagnosis = html[html.index("By diagnosis") :]
    assert by_diagnosis.index("Leukaemic infiltration") < by_diagnosis.index("Intraosseous haemangioma")


def test_progress_page_without_answers(client, seeded, resident):
    client.force_login(resident)
    assert "No answers yet." in client.get("/quiz/progress/").content.decode()


def test_progress_reads_in_a_fixed_number_of_queries(client, history, make_case, django_assert_num_queries):
    client.force_login(history)
    with CaptureQueriesContext(connection) as few:
        client.get("/quiz/progress/")
    for _ in range(5):
        attempt(history, make_case(regions=[Region.objects.get(slug="chest-wall")]).slug, Mark.WRONG)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/quiz/progress/")
