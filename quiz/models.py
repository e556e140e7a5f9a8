"""What quiz mode remembers of a logged-in resident: each attempt, and one review card per case.

Anonymous residents quiz too, but nothing of theirs is written here: their attempts live in their
Django session only (``quiz/attempts.py``).
"""

import uuid

import reversion
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Mark(models.TextChoices):
    CORRECT = "correct", "Correct"
    CLOSE = "close", "Close"
    DIFFERENTIAL = "differential", "In the differential, not the diagnosis"
    WRONG = "wrong", "Not the diagnosis"


NOT_ASKED = "Diagnosis not asked"


class QuizAttempt(models.Model):
    """One answer to one case. ``mark`` is the server's; ``override`` is the resident's, kept beside it."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="quiz_attempts")
    guess = models.CharField(max_length=200, blank=True)
    differential = models.JSONField(default=list, blank=True, help_text="The resident's ranked differential.")
    # Empty when the case's author asks only its questions, not the free-text diagnosis (QuizFormat).
    mark = models.CharField(max_length=12, choices=Mark.choices, blank=True)
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
    # Question id (a string: JSON keys) → {"option": the chosen option's id, "correct": the server's mark}.
    # Kept on the attempt so that anonymous residents' attempts (in the session) keep them alike.
    question_marks = models.JSONField(default=dict, blank=True)
    # Localisation question id → {"image", "frame", "x", "y": the click in the image's pixels, "hit": the
    # server's mark}; kept alike for anonymous residents, as question_marks are.
    localisation_marks = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mark__in=["", *Mark.values]), name="quiz_attempt_mark_valid_or_not_asked"
            ),
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
        return Mark(self.effective_mark).label if self.effective_mark else NOT_ASKED

    @property
    def questions_answered(self) -> int:
        return len(self.question_marks)

    @property
    def questions_right(self) -> int:
        return sum(bool(answer["correct"]) for answer in self.question_marks.values())

    @property
    def localisations_answered(self) -> int:
        return len(self.localisation_marks)

    @property
    def localisation_hits(self) -> int:
        return sum(bool(answer["hit"]) for answer in self.localisation_marks.values())


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


class QuizFormat(models.Model):
    """How a case is quizzed, when its author chose: without this row, the diagnosis, then any questions."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="quiz_format")
    ask_diagnosis = models.BooleanField(
        default=True,
        help_text="Untick to ask only the case's questions instead of the free-text diagnosis "
        "(which needs at least one complete question).",
    )

    class Meta:
        verbose_name = "quiz format"

    def __str__(self) -> str:
        return "Diagnosis, then questions" if self.ask_diagnosis else "Questions only"


MIN_OPTIONS, MAX_OPTIONS = 3, 6


class Question(models.Model):
    """A single-best-answer question on a case, asked in the order given, after (or instead of) the
    diagnosis. Its options (3 to 6, exactly one correct) are written on the question's own admin page."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=0)
    stem = models.TextField(help_text="The question, e.g. “Which is the most appropriate next step?”")

    class Meta:
        ordering = ["case", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["case", "order"], name="question_order_unique")]

    def __str__(self) -> str:
        return self.stem if len(self.stem) <= 80 else self.stem[:79] + "…"


class QuestionOption(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    order = models.PositiveSmallIntegerField(
        help_text=f"1 to {MAX_OPTIONS}; residents see the options shuffled."
    )
    text = models.CharField(max_length=300)
    is_correct = models.BooleanField("correct", default=False)
    rationale = models.TextField(help_text="Why this option is right or wrong; shown after the answer.")

    class Meta:
        ordering = ["question", "order"]
        constraints = [
            # Positions 1 to 6, each once: the database itself holds a question to six options at most.
            models.CheckConstraint(
                condition=Q(order__gte=1, order__lte=MAX_OPTIONS), name="question_option_order_range"
            ),
            models.UniqueConstraint(fields=["question", "order"], name="question_option_order_unique"),
            models.UniqueConstraint(
                fields=["question"], condition=Q(is_correct=True), name="question_one_correct_option"
            ),
        ]

    def __str__(self) -> str:
        return self.text


def register_question_history() -> None:
    """Questions are part of the case: each revision of a case holds them with their options (the case
    follows ``QuizConfig.case_history_follows``). Registered with the models, as authoring registers the
    case, so that the case editor's revisions find them registered."""
    if not reversion.is_registered(QuestionOption):
        reversion.register(QuestionOption)
    if not reversion.is_registered(Question):
        reversion.register(Question, follow=["options"])
    if not reversion.is_registered(QuizFormat):
        reversion.register(QuizFormat)


register_question_history()


class LocalisationQuestion(models.Model):
    """“Point to the lesion”: the resident clicks on a frame of one series; a click within any of the
    question's targets on the frame clicked (with ``LESION_TARGET_TOLERANCE``) is a hit. Targets are
    drawn by faculty on the image editor and never reach the browser before the answer."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="localisation_questions")
    series = models.ForeignKey(
        "imaging.Series", on_delete=models.CASCADE, related_name="localisation_questions"
    )
    order = models.PositiveSmallIntegerField(default=0)
    prompt = models.CharField(max_length=300, default="Click the abnormality")

    class Meta:
        ordering = ["case", "order", "pk"]

    def __str__(self) -> str:
        return self.prompt


class LesionTarget(models.Model):
    """One target region on one frame, in the image's own pixels (x along columns, y along rows, from the
    top-left corner of the frame), so that hit-testing and its tolerance do not depend on the display.

    A polygon is its ``points`` ([[x, y], …], at least three); an ellipse is its centre, semi-axes and
    rotation (degrees, clockwise on screen, from the x axis)."""

    class Shape(models.TextChoices):
        POLYGON = "polygon", "Polygon"
        ELLIPSE = "ellipse", "Ellipse"

    question = models.ForeignKey(LocalisationQuestion, on_delete=models.CASCADE, related_name="targets")
    image = models.ForeignKey("imaging.Image", on_delete=models.CASCADE, related_name="lesion_targets")
    frame = models.PositiveIntegerField(default=0, help_text="Frame of a multi-frame image, from 0.")
    shape = models.CharField(max_length=7, choices=Shape.choices)
    points = models.JSONField(default=list, blank=True, help_text="Polygon vertices, [[x, y], …].")
    center_x = models.FloatField(null=True, blank=True)
    center_y = models.FloatField(null=True, blank=True)
    radius_x = models.FloatField(null=True, blank=True)
    radius_y = models.FloatField(null=True, blank=True)
    rotation = models.FloatField(default=0, help_text="Ellipse rotation in degrees.")

    class Meta:
        ordering = ["question", "image", "frame", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(shape="ellipse")
                | Q(
                    center_x__isnull=False,
                    center_y__isnull=False,
                    radius_x__gt=0,
                    radius_y__gt=0,
                ),
                name="lesion_target_ellipse_complete",
            ),
            models.CheckConstraint(condition=Q(shape__in=["polygon", "ellipse"]), name="lesion_target_shape"),
        ]

    def __str__(self) -> str:
        return f"{self.get_shape_display()} on {self.image} frame {self.frame + 1}"


def register_localisation_history() -> None:
    """Localisation questions are part of the case like its single-best-answer questions: a revision of
    the case holds them with their targets."""
    if not reversion.is_registered(LesionTarget):
        reversion.register(LesionTarget)
    if not reversion.is_registered(LocalisationQuestion):
        reversion.register(LocalisationQuestion, follow=["targets"])


register_localisation_history()
