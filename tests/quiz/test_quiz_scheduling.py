"""Spaced repetition: SM-2 itself, the review cards it keeps from a resident's attempts, the due queue."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from quiz.matching import Answer, Grade
from quiz.models import Mark, QuizAttempt, ReviewCard
from quiz.scheduling import QUALITY_BY_MARK, Sm2State, next_easiness, sm2_replay, sm2_review
from quiz.services import attempt_override, attempt_record, review_card_refresh
from tests.helpers.accounts import make_user

SACRAL = "back-and-left-leg-pain-47f"
EMH = "acute-back-pain-29m"
AML = "lumbosacral-mri-and-chest-ct"


def reviews(*qualities: int) -> Sm2State:
    state = Sm2State()
    for quality in qualities:
        state = sm2_review(state, quality)
    return state


def test_intervals_are_1_then_6_then_the_last_times_the_easiness_factor():
    assert reviews(5).interval_days == 1
    assert reviews(5, 5).interval_days == 6
    # EF was 2.5 + 0.1 + 0.1 = 2.7 before the third review: 6 * 2.7 = 16.2 → 16.
    assert reviews(5, 5, 5).interval_days == 16
    # EF 2.8 before the fourth: 16 * 2.8 = 44.8 → 45.
    assert reviews(5, 5, 5, 5).interval_days == 45
    assert reviews(5, 5, 5, 5).repetitions == 4


def test_the_interval_uses_the_easiness_factor_from_before_the_review():
    state = sm2_review(Sm2State(easiness=2.0, interval_days=10, repetitions=2), 3)
    assert state.interval_days == 20  # not 10 * 1.86
    assert state.easiness == pytest.approx(1.86)


@pytest.mark.parametrize(
    "quality, change", [(5, 0.1), (4, 0.0), (3, -0.14), (2, -0.32), (1, -0.54), (0, -0.8)]
)
def test_easiness_factor_update_formula(quality, change):
    """EF' = EF + (0.1 - (5 - q) * (0.08 + (5 - q) * 0.02))."""
    assert next_easiness(2.5, quality) == pytest.approx(2.5 + change)


def test_easiness_factor_never_falls_below_1_3():
    assert next_easiness(1.4, 1) == 1.3
    assert reviews(*[1] * 10).easiness == 1.3


def test_a_wrong_answer_resets_the_repetitions_and_the_interval():
    state = reviews(5, 5, 5, 1)
    assert (state.repetitions, state.interval_days) == (0, 1)
    # … and the climb starts again from 1 and 6 days, with a lower easiness factor.
    assert reviews(5, 5, 5, 1, 5).interval_days == 1
    assert reviews(5, 5, 5, 1, 5, 5).interval_days == 6
    assert reviews(5, 5, 5, 1).easiness == pytest.approx(2.5 + 0.3 - 0.54)


def test_marks_map_to_qualities_and_close_still_counts_as_recalled():
    assert QUALITY_BY_MARK == {"correct": 5, "close": 3, "differential": 2, "wrong": 1}
    assert reviews(3, 3).interval_days == 6
    assert reviews(1, 1).interval_days == 1


def test_an_answer_from_the_differential_is_not_recalled_but_costs_less_than_a_wrong_one():
    after_differential = reviews(5, 5, QUALITY_BY_MARK["differential"])
    after_wrong = reviews(5, 5, QUALITY_BY_MARK["wrong"])
    assert (after_differential.repetitions, after_differential.interval_days) == (0, 1)
    assert after_wrong.easiness < after_differential.easiness < reviews(5, 5, 3).easiness


def test_quality_outside_0_to_5_is_refused():
    with pytest.raises(ValueError):
        sm2_review(Sm2State(), 6)


def test_replay_dates_the_next_review_from_the_last():
    schedule = sm2_replay([(date(2025, 1, 1), 5), (date(2025, 1, 2), 5), (date(2025, 1, 8), 5)])
    assert schedule.due_on == date(2025, 1, 8) + timedelta(days=16)
    assert schedule.last_quality == 5
    assert sm2_replay([]) is None


def at(day: int) -> datetime:
    return datetime(2025, 3, 1, 12, tzinfo=UTC) + timedelta(days=day)


def record(user, case, mark: str, day: int) -> QuizAttempt:
    attempt = attempt_record(user=user, case=case, answer=Answer("guess"), grade=Grade(mark))
    QuizAttempt.objects.filter(pk=attempt.pk).update(created_at=at(day))
    attempt.refresh_from_db()
    review_card_refresh(user=user, case=case)
    return attempt


@pytest.mark.django_db
def test_quiz_results_feed_the_residents_review_card(seeded, resident):
    case = Case.objects.get(slug=SACRAL)
    record(resident, case, Mark.CORRECT, day=0)
    card = ReviewCard.objects.get(user=resident, case=case)
    assert (card.repetitions, card.interval_days, card.due_on) == (1, 1, at(1).date())
    record(resident, case, Mark.CORRECT, day=1)
    record(resident, case, Mark.CORRECT, day=7)
    card.refresh_from_db()
    assert (card.repetitions, card.interval_days) == (3, 16)
    assert card.easiness == pytest.approx(2.8)
    assert card.due_on == at(7 + 16).date()
    record(resident, case, Mark.WRONG, day=23)
    card.refresh_from_db()
    assert (card.repetitions, card.interval_days, card.due_on) == (0, 1, at(24).date())
    assert card.easiness == pytest.approx(2.8 - 0.54)


@pytest.mark.django_db
def test_the_override_takes_precedence_over_the_servers_mark(seeded, resident):
    case = Case.objects.get(slug=SACRAL)
    first = record(resident, case, Mark.WRONG, day=0)
    record(resident, case, Mark.CORRECT, day=1)
    card = ReviewCard.objects.get(user=resident, case=case)
    assert (card.repetitions, card.interval_days) == (1, 1)
    attempt_override(attempt=first, override=Mark.CORRECT)
    card.refresh_from_db()
    assert (card.repetitions, card.interval_days, card.due_on) == (2, 6, at(7).date())
    attempt_override(attempt=first, override=Mark.CLOSE)
    card.refresh_from_db()
    assert card.easiness == pytest.approx(2.5 - 0.14 + 0.1)
    with pytest.raises(ValueError):
        attempt_override(attempt=first, override="brilliant")


@pytest.mark.django_db
def test_cards_are_per_resident(seeded, resident):
    case = Case.objects.get(slug=SACRAL)
    other = make_user("other", "resident")
    record(resident, case, Mark.CORRECT, day=0)
    record(other, case, Mark.WRONG, day=0)
    assert ReviewCard.objects.get(user=resident).last_quality == 5
    assert ReviewCard.objects.get(user=other).last_quality == 1


def due_today(user, slug: str, days_ago: int = 0) -> ReviewCard:
    case = Case.objects.get(slug=slug)
    return ReviewCard.objects.create(
        user=user,
        case=case,
        due_on=timezone.localdate() - timedelta(days=days_ago),
        reviewed_at=timezone.now(),
        interval_days=1,
        repetitions=1,
    )


@pytest.mark.django_db
def test_review_page_lists_the_due_cases_most_overdue_first_and_gives_nothing_away(client, seeded, resident):
    due_today(resident, EMH, days_ago=0)
    due_today(resident, SACRAL, days_ago=3)
    later = due_today(resident, AML)
    ReviewCard.objects.filter(pk=later.pk).update(due_on=timezone.localdate() + timedelta(days=4))
    due_today(make_user("other", "resident"), AML)
    client.force_login(resident)
    html = client.get("/quiz/review/").content.decode()
    assert html.index(f'href="/cases/{SACRAL}/quiz/"') < html.index(f'href="/cases/{EMH}/quiz/"')
    assert f"/cases/{AML}/quiz/" not in html
    # Top-level regions (the case sits in the sacrum and the bony pelvis) and modalities by name.
    assert "<td>Spine, Pelvis</td>" in html and "<td>Radiograph, Nuclear medicine, MRI</td>" in html
    for case in Case.objects.select_related("final_diagnosis"):
        assert case.title not in html and case.final_diagnosis.name not in html


@pytest.mark.django_db
def test_a_session_starts_from_the_due_queue(client, seeded, resident, editor):
    due_today(resident, EMH)
    due_today(resident, SACRAL, days_ago=2)
    Case.objects.filter(slug=EMH).update(status=Case.Status.DRAFT)  # unpublished since: no longer due
    client.force_login(resident)
    response = client.post("/quiz/review/")
    assert response.status_code == 302
    session_id = response["Location"].split("/")[3]
    state = client.session["quiz_sessions"][session_id]
    assert state["case_ids"] == [Case.objects.get(slug=SACRAL).pk]
    assert state["source"] == "review"
    assert client.get(response["Location"])["Location"] == f"/cases/{SACRAL}/quiz/?session={session_id}"


@pytest.mark.django_db
def test_an_empty_due_queue_says_when_the_next_case_is_due(client, seeded, resident):
    client.force_login(resident)
    assert "Nothing is due today." in client.get("/quiz/review/").content.decode()
    assert client.post("/quiz/review/")["Location"] == "/quiz/review/"
    card = due_today(resident, AML)
    ReviewCard.objects.filter(pk=card.pk).update(due_on=date(2099, 5, 17))
    assert "17 May 2099" in client.get("/quiz/review/").content.decode()


@pytest.mark.django_db
def test_answering_in_the_browser_puts_the_case_in_the_queue(client, seeded, resident):
    client.force_login(resident)
    client.post(f"/cases/{SACRAL}/quiz/", {"guess": "chordoma"})  # in the differential: quality 2
    card = ReviewCard.objects.get(user=resident)
    assert (card.last_quality, card.due_on) == (2, timezone.localdate() + timedelta(days=1))


@pytest.mark.django_db
def test_review_and_progress_need_a_login(client, seeded):
    for url in ["/quiz/review/", "/quiz/progress/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
