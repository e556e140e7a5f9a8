"""Teaching programmes: playlists of published cases, cohorts of residents, and assignments.

An assignment gives a playlist to a cohort between an opening and a due date, to study or to quiz;
``CaseCompletion`` records each case a resident has done in it (marked done, or answered in the quiz).
Marks are never copied here: they are read from the quiz attempt, so an override shows at once.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from cases.models import Case

RESIDENT_GROUP = "resident"
DIRECTOR_GROUP = "director"
# Unguessable part of a playlist's address: 12 characters of 32 (60 bits); nobody counts through them.
SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
SLUG_TOKEN_LENGTH = 12


def new_playlist_slug(title: str) -> str:
    token = "".join(secrets.choice(SLUG_ALPHABET) for _ in range(SLUG_TOKEN_LENGTH))
    prefix = slugify(title)[:50].strip("-")
    return f"{prefix}-{token}" if prefix else token


class PlaylistQuerySet(models.QuerySet):
    def listed(self):
        """What ``/playlists/`` lists: public playlists only (unlisted ones are reached by their link)."""
        return self.filter(visibility=Playlist.Visibility.PUBLIC)

    def visible_to(self, user):
        """Public and unlisted playlists for everyone; private ones for their owner and for holders of
        ``view_any_playlist`` (editors, programme directors)."""
        visible = ~Q(visibility=Playlist.Visibility.PRIVATE)
        if user.is_authenticated:
            visible |= Q(owner=user)
            if user.has_perm("programme.view_any_playlist"):
                return self.all()
        return self.filter(visible)

    def with_case_counts(self):
        """Each playlist's number of cases that are published now (what a resident can open)."""
        return self.annotate(
            case_count=Count("items", filter=Q(items__case__status=Case.Status.PUBLISHED), distinct=True)
        )


class Playlist(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (listed at /playlists/)"
        UNLISTED = "unlisted", "Unlisted (anyone with the link)"
        PRIVATE = "private", "Private (you and the programme's directors and editors)"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, editable=False)
    introduction = models.TextField(blank=True, help_text="Markdown. Shown above the list of cases.")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="playlists"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PlaylistQuerySet.as_manager()

    class Meta:
        ordering = ["title", "pk"]
        permissions = [("view_any_playlist", "Can see every playlist, private ones included")]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["public", "unlisted", "private"]),
                name="playlist_visibility_valid",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("playlist_detail", args=[self.slug])


class PlaylistItem(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    # Only published cases can be chosen; one unpublished later stays in the list, shown to residents as
    # "a case no longer published" (see ``clean_fields``).
    case = models.ForeignKey(
        Case,
        on_delete=models.CASCADE,
        related_name="playlist_items",
        limit_choices_to={"status": "published"},
    )
    note = models.TextField(
        blank=True, help_text="Shown in study mode beside the case; never in quiz mode before the answer."
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="Position in the playlist.")

    class Meta:
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["playlist", "case"], name="playlist_item_case_once")]

    def __str__(self) -> str:
        return f"{self.playlist} #{self.order}"

    def clean_fields(self, exclude=None):
        # A case unpublished since it was added is kept as it is; only a newly chosen case must be published.
        exclude = set(exclude or ())
        if self.pk and PlaylistItem.objects.filter(pk=self.pk, case_id=self.case_id).exists():
            exclude.add("case")
        super().clean_fields(exclude=exclude)


class Cohort(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="E.g. 'PGY-2 2026-27'.")
    residents = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="cohorts",
        limit_choices_to={"groups__name": RESIDENT_GROUP},
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AssignmentQuerySet(models.QuerySet):
    def opened(self, today=None):
        return self.filter(opens_on__lte=today or timezone.localdate())

    def for_resident(self, user):
        """The opened assignments of the resident's cohorts (one row each, whatever the cohorts)."""
        if not user.is_authenticated:
            return self.none()
        return self.opened().filter(cohort__in=user.cohorts.all()).distinct()

    def visible_to(self, user):
        """Those who may see every resident's progress see every assignment; a resident, their own."""
        if user.is_authenticated and user.has_perm("programme.view_assignment_report"):
            return self.all()
        return self.for_resident(user)

    def reportable_by(self, user):
        if user.is_authenticated and user.has_perm("programme.view_assignment_report"):
            return self.all()
        return self.none()


class Assignment(models.Model):
    class Mode(models.TextChoices):
        STUDY = "study", "Study (the resident marks each case done)"
        QUIZ = "quiz", "Quiz, with marks (a case is done when answered)"

    playlist = models.ForeignKey(Playlist, on_delete=models.PROTECT, related_name="assignments")
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="assignments")
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.STUDY)
    opens_on = models.DateField(default=timezone.localdate)
    due_on = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        permissions = [("view_assignment_report", "Can see every resident's progress in an assignment")]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=models.F("opens_on")), name="assignment_due_after_open"
            ),
            models.CheckConstraint(condition=Q(mode__in=["study", "quiz"]), name="assignment_mode_valid"),
        ]
        indexes = [models.Index(fields=["cohort", "opens_on"], name="assignment_cohort_open_idx")]

    def __str__(self) -> str:
        return f"{self.playlist} for {self.cohort} (due {self.due_on})"

    def get_absolute_url(self) -> str:
        return reverse("assignment_detail", args=[self.pk])

    @property
    def is_quiz(self) -> bool:
        return self.mode == self.Mode.QUIZ


class CaseCompletion(models.Model):
    """One case of an assignment done by one resident: marked done (study) or answered (quiz)."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="completions")
    resident = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    attempt = models.ForeignKey(
        "quiz.QuizAttempt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["completed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "resident", "case"], name="case_completion_once_per_resident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} did case {self.case_id} of assignment {self.assignment_id}"


CONFERENCE_CODE_LENGTH = 6


def new_conference_code() -> str:
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(CONFERENCE_CODE_LENGTH))


class Step(models.IntegerChoices):
    """What the presenter has opened of the current case, in the order of an unknown-case conference."""

    HISTORY = 0, "History"
    IMAGES = 1, "Images"
    FINDINGS = 2, "Findings"
    DIFFERENTIAL = 3, "Differential"
    DIAGNOSIS = 4, "Diagnosis and discussion"


class ConferenceQuerySet(models.QuerySet):
    def presented_by(self, user):
        return self.filter(presenter=user) if user.is_authenticated else self.none()

    def running(self):
        return self.filter(ended_at__isnull=True)


class Conference(models.Model):
    """An unknown-case conference: the presenter's place (case and step) lives here, in the database, so
    that every application host answers the audience's polling alike. ``version`` rises at every change."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=CONFERENCE_CODE_LENGTH, unique=True, editable=False)
    playlist = models.ForeignKey(Playlist, on_delete=models.PROTECT, related_name="conferences")
    presenter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The published cases of the playlist when the conference was made: later edits do not move it.
    case_ids = models.JSONField(default=list)
    position = models.PositiveSmallIntegerField(default=0)
    step = models.PositiveSmallIntegerField(choices=Step.choices, default=Step.HISTORY)
    # Cases whose diagnosis has been shown: their answers stay closed even when the presenter steps back.
    revealed_case_ids = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    allow_anonymous = models.BooleanField(
        default=False, help_text="Residents who are not logged in may join with the code."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = ConferenceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("present_conference", "Can present an unknown-case conference")]
        constraints = [models.CheckConstraint(condition=Q(step__lte=4), name="conference_step_valid")]

    def __str__(self) -> str:
        return f"Conference on {self.playlist} ({self.code})"

    def get_absolute_url(self) -> str:
        return reverse("conference_audience", args=[self.id])

    @property
    def case_id(self) -> int | None:
        return self.case_ids[self.position] if self.position < len(self.case_ids) else None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def case_revealed(self) -> bool:
        """The current case's diagnosis is open now or has been shown before (answers closed for good)."""
        return self.step >= Step.DIAGNOSIS or self.case_id in self.revealed_case_ids


class ConferenceAnswer(models.Model):
    """One participant's answer for one case of a conference; the tally counts them without names.

    A participant is a user or, when anonymous residents may join, a random key kept in their session.
    """

    conference = models.ForeignKey(Conference, on_delete=models.CASCADE, related_name="answers")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    participant = models.CharField(max_length=64)
    answer = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conference", "case", "participant"], name="conference_answer_once_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.answer} ({self.conference_id}, case {self.case_id})"
