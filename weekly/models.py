"""Case of the week: editors schedule a published case for a week, named by its Monday.

What is shown is decided when it is read (``weekly.schedule``), never stored: a scheduled case that has
since been unpublished is simply skipped, and a week in the future is not shown before it starts.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from cases.models import Case

MONDAY = 1  # ISO weekday


def week_start_of(day: datetime.date) -> datetime.date:
    """The Monday of the ISO week holding ``day``."""
    return day - datetime.timedelta(days=day.isoweekday() - MONDAY)


class WeeklyCase(models.Model):
    case = models.ForeignKey(
        Case,
        on_delete=models.CASCADE,
        related_name="weekly_slots",
        limit_choices_to={"status": Case.Status.PUBLISHED},
        help_text="A published case. Should it be unpublished later, its week shows no case.",
    )
    week_start = models.DateField(help_text="The Monday the week begins.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-week_start"]
        verbose_name = "case of the week"
        verbose_name_plural = "cases of the week"
        constraints = [
            models.UniqueConstraint(fields=["week_start"], name="weekly_case_one_per_week"),
            models.CheckConstraint(condition=Q(week_start__iso_week_day=MONDAY), name="weekly_case_monday"),
        ]

    def __str__(self) -> str:
        return f"Week of {self.week_start:%d %B %Y}"

    def clean(self) -> None:
        # The constraint refuses it too; here the form can say which day would do.
        if self.week_start and self.week_start.isoweekday() != MONDAY:
            monday = week_start_of(self.week_start)
            raise ValidationError({"week_start": f"A week begins on a Monday: {monday:%d %B %Y}?"})
