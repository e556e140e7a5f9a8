"""The editor's review queue: cases waiting in review, the longest-waiting first."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q

from authoring.completeness import Completeness, completeness, facts_of, with_completeness_counts
from authoring.rules import is_editor
from cases.models import Case


@dataclass(frozen=True)
class QueuedCase:
    case: Case
    submitted_at: datetime | None
    completeness: Completeness


def review_queue(user) -> list[QueuedCase]:
    """Cases in review for a user who may publish them; empty for anyone else. A handful of queries
    whatever the queue's length (the completeness counts are subqueries)."""
    if not is_editor(user):
        return []
    cases = (
        with_completeness_counts(Case.objects.visible_to(user).filter(status=Case.Status.IN_REVIEW))
        .select_related("author")
        .annotate(submitted_at=Max("transitions__at", filter=Q(transitions__to_status=Case.Status.IN_REVIEW)))
        .order_by("submitted_at", "pk")
    )
    return [QueuedCase(case, case.submitted_at, completeness(facts_of(case))) for case in cases]
