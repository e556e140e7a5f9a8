"""Writes of quiz mode, for logged-in residents: keyword-only, typed, atomic.

Anonymous residents' attempts never reach these functions; they stay in the Django session.
"""

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case
from quiz.localisation_questions import LocalisationMark
from quiz.matching import Answer, Grade
from quiz.models import Mark, QuizAttempt, ReviewCard
from quiz.questions import QuestionMark
from quiz.scheduling import attempt_quality, sm2_replay


@transaction.atomic
def attempt_record(
    *,
    user,
    case: Case,
    answer: Answer,
    grade: Grade,
    quiz_session: uuid.UUID | None = None,
    token: uuid.UUID | None = None,
) -> QuizAttempt:
    """Record an answer; with `token` (the answer form's key), once only.

    The same key sent again by this resident for this case gives back the attempt it recorded
    (also when both copies arrive at once: the token is unique). A key some other attempt holds
    already is not this answer's: the answer is recorded under a new token.
    """
    fields = {
        "user": user,
        "case": case,
        "guess": answer.guess,
        "differential": list(answer.differential),
        "mark": grade.mark,
        "matched_name": grade.matched_name,
        "quiz_session": quiz_session,
    }
    if token is None:
        attempt = QuizAttempt.objects.create(**fields)
    else:
        try:
            with transaction.atomic():
                attempt = QuizAttempt.objects.create(token=token, **fields)
        except IntegrityError:
            earlier = QuizAttempt.objects.filter(token=token, user=user, case=case).first()
            if earlier is not None:
                return earlier
            attempt = QuizAttempt.objects.create(**fields)
    review_card_refresh(user=user, case=case)
    return attempt


@transaction.atomic
def attempt_override(*, attempt: QuizAttempt, override: str) -> QuizAttempt:
    """Keep the resident's own mark beside the server's; an empty override withdraws it."""
    if override not in ("", *Mark.values):
        raise ValueError(f"Unknown mark {override!r}")
    if override and not attempt.mark:
        raise ValueError("No diagnosis was asked in this attempt: there is no mark to override")
    attempt.override = override
    attempt.save(update_fields=["override"])
    # The override changes the quality of that review, so the whole schedule is recomputed.
    review_card_refresh(user=attempt.user, case=attempt.case)
    return attempt


@transaction.atomic
def question_answer_record(*, attempt: QuizAttempt, question_id: int, marked: QuestionMark) -> QuizAttempt:
    """Keep the resident's first answer to a question of the attempt (a resent form changes nothing),
    and let the review schedule take it into account."""
    attempt = QuizAttempt.objects.select_for_update().get(pk=attempt.pk)
    if str(question_id) in attempt.question_marks:
        return attempt
    attempt.question_marks[str(question_id)] = {"option": marked.option.pk, "correct": marked.correct}
    attempt.save(update_fields=["question_marks"])
    review_card_refresh(user=attempt.user, case=attempt.case)
    return attempt


@transaction.atomic
def localisation_answer_record(
    *, attempt: QuizAttempt, question_id: int, marked: LocalisationMark
) -> QuizAttempt:
    """Keep the resident's first click on a localisation question of the attempt (a resent form changes
    nothing), and let the review schedule take it into account."""
    attempt = QuizAttempt.objects.select_for_update().get(pk=attempt.pk)
    if str(question_id) in attempt.localisation_marks:
        return attempt
    attempt.localisation_marks[str(question_id)] = marked.as_record()
    attempt.save(update_fields=["localisation_marks"])
    review_card_refresh(user=attempt.user, case=attempt.case)
    return attempt


@transaction.atomic
def review_card_refresh(*, user, case: Case) -> ReviewCard | None:
    """Replay the resident's attempts at the case through SM-2 and store where that leaves the card.

    A replay rather than one step per attempt, so that an override of any past attempt counts as if
    the resident had marked it so at the time.
    """
    reviewed = []
    attempts = (
        QuizAttempt.objects.filter(user=user, case=case)
        .order_by("created_at", "pk")
        .only("created_at", "mark", "override", "question_marks", "localisation_marks")
    )
    for attempt in attempts:
        results = (answer["correct"] for answer in attempt.question_marks.values())
        hits = (answer["hit"] for answer in attempt.localisation_marks.values())
        quality = attempt_quality(attempt.effective_mark, results, hits)
        if quality is not None:  # an attempt with nothing answered yet is no review
            reviewed.append((attempt, quality))
    schedule = sm2_replay((timezone.localdate(attempt.created_at), quality) for attempt, quality in reviewed)
    if schedule is None:
        ReviewCard.objects.filter(user=user, case=case).delete()
        return None
    card, _ = ReviewCard.objects.update_or_create(
        user=user,
        case=case,
        defaults={
            "easiness": schedule.state.easiness,
            "interval_days": schedule.state.interval_days,
            "repetitions": schedule.state.repetitions,
            "due_on": schedule.due_on,
            "last_quality": schedule.last_quality,
            "reviewed_at": reviewed[-1][0].created_at,
        },
    )
    return card
