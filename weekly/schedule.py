"""Which case of the week is shown, read when asked: only weeks that have begun, only published cases.

A week's case is current from its Monday until the next Monday; earlier weeks form the archive. A
scheduled case that has since been unpublished is skipped wherever the schedule is read (its week shows
no case, and it is left out of the archive and the feed), so nothing has to be undone when a case
leaves publication, and nothing reappears differently if it returns.
"""

import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from cases.models import Case, Finding
from weekly.models import WeeklyCase, week_start_of


def this_week(today: datetime.date | None = None) -> datetime.date:
    return week_start_of(today or timezone.localdate())


def shown_slots(today: datetime.date | None = None) -> QuerySet[WeeklyCase]:
    """Weeks that have begun whose case is published, newest first, each with what a neutral heading
    (``weekly.presentation``) and a feed entry read: the case and its findings' modalities."""
    return (
        WeeklyCase.objects.filter(week_start__lte=this_week(today), case__status=Case.Status.PUBLISHED)
        .select_related("case")
        .prefetch_related(
            Prefetch("case__findings", queryset=Finding.objects.only("case_id", "modality", "order")),
        )
        .order_by("-week_start")
    )


def archive_slots(today: datetime.date | None = None) -> QuerySet[WeeklyCase]:
    """Earlier weeks, newest first: the answer may be shown for these."""
    return shown_slots(today).filter(week_start__lt=this_week(today))


def current_case(today: datetime.date | None = None) -> Case | None:
    """This week's case, loaded with every row its quiz page shows; None when no published case is
    scheduled for this week."""
    return Case.objects.published().for_detail().filter(weekly_slots__week_start=this_week(today)).first()
