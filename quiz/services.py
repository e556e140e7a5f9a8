"""Writes of quiz mode, for logged-in residents: keyword-only, typed, atomic.

Anonymous residents' attempts never reach these functions; they stay in the Django session.
"""

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case
from quiz.matching import Answer, Grade
from quiz.models import Mark, QuizAttempt, ReviewCard
from quiz.scheduling import QUALITY_BY_MARK, sm2_replay


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
    attempt.override = override
    attempt.save(update_fields=["override"])
    # The override changes the quality of that review, so the whole schedule is recomputed.
    review_card_refresh(user=attempt.user, case=attempt.case)
    return attempt


@transaction.atomic
def review_card_refresh(*, user, case: Case) -> ReviewCard | None:
    """Replay the resident's attempts at the case through SM-2 and store where that leaves the card.

    A replay rather than one step per attempt, so that an override of any past attempt counts as if
    the resident had marked it so at the time.
    """
    attempts = list(
        QuizAttempt.objects.filter(user=user, case=case)
        .order_by("created_at", "pk")
        .only("created_at", "mark", "override")
    )
    schedule = sm2_replay(
        (timezone.localdate(attempt.created_at), QUALITY_BY_MARK[attempt.effective_mark])
        for attempt in attempts
    )
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
            "reviewed_at": attempts[-1].created_at,
        },
    )
    return card
