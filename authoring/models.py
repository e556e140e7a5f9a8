"""The authoring workflow's own records: who moved a case between states, and what its source omits.

Kept out of ``cases`` so the case record stays what residents read; these rows are the editorial
trail around it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from authoring.history import register_case_history
from cases.models import Case


class CaseTransition(models.Model):
    """One step of the draft → in review → published workflow, written only by ``authoring.services``."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=10, choices=Case.Status.choices)
    to_status = models.CharField(max_length=10, choices=Case.Status.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="case_transitions"
    )
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_status=models.F("to_status")), name="transition_changes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"


class CaseSectionNotStated(models.Model):
    """An editor's acknowledgement that the source does not state a section the archive requires.

    It satisfies that requirement for publication, and the case page reads "not stated in the
    source" there. Only the clinical history can be acknowledged so: findings, the diagnosis, the
    differential and images stay mandatory.
    """

    class Section(models.TextChoices):
        CLINICAL_HISTORY = "clinical_history", "Clinical history"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sections_not_stated")
    section = models.CharField(max_length=30, choices=Section.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "section"]
        verbose_name = "section not stated in the source"
        verbose_name_plural = "sections not stated in the source"
        constraints = [
            models.UniqueConstraint(fields=["case", "section"], name="section_not_stated_once"),
            models.CheckConstraint(
                condition=Q(section__in=["clinical_history"]), name="section_not_stated_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_section_display()} not stated in the source"


# Registered with the models (before the admin's VersionAdmin would register them its own way), so
# every code path that saves a case inside a revision records its rows.
register_case_history()
