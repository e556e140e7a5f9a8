"""What quiz mode remembers of a logged-in resident: each attempt, and one review card per case.

Anonymous residents quiz too, but nothing of theirs is written here: their attempts live in their
Django session only (``quiz/attempts.py``).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Mark(models.TextChoices):
    CORRECT = "correct", "Correct"
    CLOSE = "close", "Close"
    DIFFERENTIAL = "differential", "In the differential, not the diagnosis"
    WRONG = "wrong", "Wrong"


class QuizAttempt(models.Model):
    """One answer to one case. ``mark`` is the server's; ``override`` is the resident's, kept beside it."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="quiz_attempts")
    guess = models.CharField(max_length=200, blank=True)
    differential = models.JSONField(default=list, blank=True, help_text="The resident's ranked differential.")
    mark = models.CharField(max_length=12, choices=Mark.choices)
    override = models.CharField(
        max_length=12,
        choices=Mark.choices,
        blank=True,
        help_text="The resident's own mark, if they disagree.",
    )
    matched_name = models.CharField(
        max_length=200, blank=True, help_text="The name of the diagnosis the guess was matched to."
    )
    quiz_session = models.UUIDField(null=True, blank=True, help_text="The quiz session it was part of.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(mark__in=Mark.values), name="quiz_attempt_mark_valid"),
            models.CheckConstraint(
                condition=Q(override__in=["", *Mark.values]), name="quiz_attempt_override_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "case", "created_at"], name="quiz_attempt_user_case_idx"),
            models.Index(fields=["user", "-created_at"], name="quiz_attempt_user_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on case {self.case_id}: {self.effective_mark}"

    @property
    def effective_mark(self) -> str:
        """The resident's override when there is one, else the server's mark."""
        return self.override or self.mark

    def get_effective_mark_display(self) -> str:
        return Mark(self.effective_mark).label


class ReviewCard(models.Model):
    """SM-2 state of one case for one resident (``quiz/scheduling.py``): when it is next due for review.

    Derived entirely from the resident's attempts at the case, so an override can simply recompute it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_cards")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="review_cards")
    easiness = models.FloatField(default=2.5)
    interval_days = models.PositiveIntegerField(default=0)
    repetitions = models.PositiveIntegerField(default=0)
    due_on = models.DateField()
    last_quality = models.PositiveSmallIntegerField(default=0)
    reviewed_at = models.DateTimeField()

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "case"], name="review_card_one_per_case"),
            models.CheckConstraint(condition=Q(easiness__gte=1.3), name="review_card_easiness_floor"),
            models.CheckConstraint(condition=Q(last_quality__lte=5), name="review_card_quality_range"),
        ]
        indexes = [models.Index(fields=["user", "due_on"], name="review_card_user_due_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on case {self.case_id}: due {self.due_on}"
