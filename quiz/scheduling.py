"""SM-2 spaced repetition (Woźniak's SuperMemo 2), with the quality taken from the quiz mark.

A review of quality ``q`` (0 to 5): if ``q >= 3`` the case was recalled and the interval grows —
1 day after the first success, 6 after the second, then the previous interval times the easiness
factor; if ``q < 3`` the repetitions start again from a 1-day interval. After every review the
easiness factor moves by ``0.1 - (5 - q) * (0.08 + (5 - q) * 0.02)`` and never falls below 1.3.
The interval is computed with the easiness factor from before the review, as SM-2 does.

Pure functions: no Django, no clock. ``quiz/services.py`` replays a resident's attempts through them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

INITIAL_EASINESS = 2.5
MIN_EASINESS = 1.3
FIRST_INTERVAL_DAYS = 1
SECOND_INTERVAL_DAYS = 6
PASSING_QUALITY = 3

# The server's mark (or the resident's override) as an SM-2 quality.
# An alternative from the case's differential (2) is below the pass mark: the case comes back tomorrow.
QUALITY_BY_MARK = {"correct": 5, "close": 3, "differential": 2, "wrong": 1}
# A single-best-answer question is right or wrong: as a correct or a wrong diagnosis.
QUALITY_RIGHT_ANSWER, QUALITY_WRONG_ANSWER = 5, 1
# A click on the lesion is a hit or a miss: a miss means the abnormality was not found, as a wrong answer.
QUALITY_HIT, QUALITY_MISS = 5, 1


def attempt_quality(
    mark: str, question_results: Iterable[bool], localisation_results: Iterable[bool] = ()
) -> int | None:
    """One review's quality: the lowest among the parts of the attempt that were answered (the diagnosis,
    unless it was not asked, each question and each click on the lesion); None when no part was."""
    qualities = [QUALITY_BY_MARK[mark]] if mark else []
    qualities += [QUALITY_RIGHT_ANSWER if right else QUALITY_WRONG_ANSWER for right in question_results]
    qualities += [QUALITY_HIT if hit else QUALITY_MISS for hit in localisation_results]
    return min(qualities, default=None)


@dataclass(frozen=True)
class Sm2State:
    easiness: float = INITIAL_EASINESS
    interval_days: int = 0
    repetitions: int = 0


def next_easiness(easiness: float, quality: int) -> float:
    lapse = 5 - quality
    return max(MIN_EASINESS, easiness + 0.1 - lapse * (0.08 + lapse * 0.02))


def sm2_review(state: Sm2State, quality: int) -> Sm2State:
    """The state after one review of the given quality."""
    if not 0 <= quality <= 5:
        raise ValueError(f"SM-2 quality must be 0 to 5, not {quality}")
    if quality >= PASSING_QUALITY:
        if state.repetitions == 0:
            interval = FIRST_INTERVAL_DAYS
        elif state.repetitions == 1:
            interval = SECOND_INTERVAL_DAYS
        else:
            interval = round(state.interval_days * state.easiness)
        repetitions = state.repetitions + 1
    else:
        interval, repetitions = FIRST_INTERVAL_DAYS, 0
    return Sm2State(next_easiness(state.easiness, quality), interval, repetitions)


@dataclass(frozen=True)
class Schedule:
    state: Sm2State
    due_on: date
    last_quality: int


def sm2_replay(reviews: Iterable[tuple[date, int]]) -> Schedule | None:
    """The schedule after a history of (review date, quality), oldest first; None for no history."""
    schedule = None
    state = Sm2State()
    for reviewed_on, quality in reviews:
        state = sm2_review(state, quality)
        schedule = Schedule(state, reviewed_on + timedelta(days=state.interval_days), quality)
    return schedule
