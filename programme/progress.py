"""Reads: where residents stand in their assignments, in a fixed number of queries per page.

A case unpublished after it was assigned is neither counted nor named: it appears in a resident's list
as "a case no longer published" (``AssignmentCase.case`` is None), and totals count published cases only.
Accuracy is the share of answered cases whose mark (the resident's override if any) is correct.
"""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone

from cases.models import Case
from programme.models import Assignment, CaseCompletion, PlaylistItem
from quiz.models import Mark, QuizAttempt

DUE_SOON_DAYS = 7
# What a list of an assignment's cases shows of a case: never its long texts.
CASE_FIELDS = ("case__id", "case__slug", "case__title", "case__status", "case__age", "case__sex")


@dataclass
class AssignmentCase:
    position: int
    item: PlaylistItem
    case: Case | None  # None: no longer published (its title is not shown)
    completion: CaseCompletion | None = None


@dataclass
class Standing:
    """One resident in one assignment."""

    resident: object
    total: int = 0
    done: int = 0
    answered: int = 0
    correct: int = 0
    marks: dict[str, int] = field(default_factory=dict)
    last_activity: datetime.datetime | None = None

    @property
    def completion(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def accuracy(self) -> int | None:
        return round(100 * self.correct / self.answered) if self.answered else None

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done >= self.total


def assignment_items(assignments) -> dict[int, list[PlaylistItem]]:
    """Playlist id → its items in order, each with the few case fields a list shows (one query)."""
    items = (
        PlaylistItem.objects.filter(playlist__in={assignment.playlist_id for assignment in assignments})
        .select_related("case")
        .only("playlist_id", "order", "note", *CASE_FIELDS)
        .order_by("playlist_id", "order", "pk")
    )
    by_playlist: dict[int, list[PlaylistItem]] = {}
    for item in items:
        by_playlist.setdefault(item.playlist_id, []).append(item)
    return by_playlist


def completions_of(assignments, residents=None):
    completions = CaseCompletion.objects.filter(assignment__in=assignments).select_related("attempt")
    if residents is not None:
        completions = completions.filter(resident__in=residents)
    return completions.defer("attempt__differential")


def standing(resident, items: list[PlaylistItem], completions) -> Standing:
    published = {item.case_id for item in items if item.case.status == Case.Status.PUBLISHED}
    result = Standing(resident=resident, total=len(published), marks={mark: 0 for mark in Mark.values})
    for completion in completions:
        if completion.case_id not in published:
            continue
        result.done += 1
        if result.last_activity is None or completion.completed_at > result.last_activity:
            result.last_activity = completion.completed_at
        attempt: QuizAttempt | None = completion.attempt
        if attempt is not None and attempt.effective_mark:  # else only its questions were asked
            result.answered += 1
            result.marks[attempt.effective_mark] += 1
            result.correct += attempt.effective_mark == Mark.CORRECT
    return result


def resident_standings(user, assignments) -> dict[int, Standing]:
    """Assignment id → the resident's standing in it: three queries whatever the number of assignments."""
    assignments = list(assignments)
    items = assignment_items(assignments)
    completions: dict[int, list] = {}
    for completion in completions_of(assignments, [user]):
        completions.setdefault(completion.assignment_id, []).append(completion)
    return {
        assignment.pk: standing(
            user, items.get(assignment.playlist_id, []), completions.get(assignment.pk, [])
        )
        for assignment in assignments
    }


def assignment_cases(assignment: Assignment, resident) -> list[AssignmentCase]:
    """The assignment's cases in playlist order, each with the resident's completion if any."""
    done = {completion.case_id: completion for completion in completions_of([assignment], [resident])}
    rows = []
    for position, item in enumerate(assignment_items([assignment]).get(assignment.playlist_id, []), start=1):
        published = item.case.status == Case.Status.PUBLISHED
        rows.append(
            AssignmentCase(
                position=position,
                item=item,
                case=item.case if published else None,
                completion=done.get(item.case_id) if published else None,
            )
        )
    return rows


def is_due_soon(assignment: Assignment, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return assignment.due_on <= today + datetime.timedelta(days=DUE_SOON_DAYS)


@dataclass
class ResidentOverview:
    due_soon: list = field(default_factory=list)
    open: list = field(default_factory=list)
    done: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.due_soon or self.open or self.done)


def resident_overview(user) -> ResidentOverview:
    """The resident's opened assignments, sorted into due soon (or overdue), open and done."""
    assignments = list(Assignment.objects.for_resident(user).select_related("playlist", "cohort"))
    standings = resident_standings(user, assignments)
    overview = ResidentOverview()
    today = timezone.localdate()
    for assignment in assignments:
        entry = (assignment, standings[assignment.pk])
        if entry[1].finished:
            overview.done.append(entry)
        elif is_due_soon(assignment, today):
            overview.due_soon.append(entry)
        else:
            overview.open.append(entry)
    return overview


SORT_KEYS = {
    "resident": lambda row: row.resident.get_username().lower(),
    "completion": lambda row: row.completion,
    "accuracy": lambda row: -1 if row.accuracy is None else row.accuracy,
    "last_activity": lambda row: row.last_activity or datetime.datetime.min.replace(tzinfo=datetime.UTC),
}


def assignment_report(assignment: Assignment, *, viewer, sort: str = "resident") -> list[Standing]:
    """Every resident of the cohort for those who may see the report; the viewer's own row alone for a
    resident of the cohort; nobody else's rows for anyone else."""
    residents = get_user_model().objects.filter(cohorts=assignment.cohort).order_by("username").distinct()
    if not viewer.has_perm("programme.view_assignment_report"):
        residents = residents.filter(pk=viewer.pk)
    residents = list(residents)
    items = assignment_items([assignment]).get(assignment.playlist_id, [])
    by_resident: dict[int, list] = {}
    for completion in completions_of([assignment], residents):
        by_resident.setdefault(completion.resident_id, []).append(completion)
    rows = [standing(resident, items, by_resident.get(resident.pk, [])) for resident in residents]
    key, reverse = sort.removeprefix("-"), sort.startswith("-")
    return sorted(rows, key=SORT_KEYS.get(key, SORT_KEYS["resident"]), reverse=reverse)
