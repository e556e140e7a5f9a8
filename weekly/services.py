"""Writes of the schedule. The admin's form checks the same model rules (published case, a Monday,
one case a week) before it saves."""

import datetime

from django.db import transaction

from cases.models import Case
from weekly.models import WeeklyCase


@transaction.atomic
def weekly_case_schedule(*, case: Case, week_start: datetime.date) -> WeeklyCase:
    """Make ``case`` (published) the case of the week that begins on Monday ``week_start``, in place of
    any case scheduled for that week. Raises ``ValidationError`` for an unpublished case or a day other
    than a Monday."""
    slot = WeeklyCase.objects.select_for_update().filter(week_start=week_start).first()
    slot = slot or WeeklyCase(week_start=week_start)
    slot.case = case
    slot.full_clean()
    slot.save()
    return slot
