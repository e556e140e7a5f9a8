"""Studies, series and images of a case, stored only after de-identification.

Stored file names are random: an uploaded file's own name ("chordoma_T2.dcm") must never reach
storage, a URL or the page, because it can give the diagnosis away.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.modalities import MODALITY_CHOICES

#: How much of a case's title a picker shows: enough to recognise it, short enough for a dropdown.
CASE_NAME_CHARS = 40


def case_name(case) -> str:
    """A case as pickers and admin lists name it: its title, shortened, and its number, which keeps two
    cases of like titles apart. A long title is cut at a word."""
    title = case.title
    if len(title) > CASE_NAME_CHARS:
        title = title[: CASE_NAME_CHARS + 1].rsplit(" ", 1)[0].rstrip(" ,;:—-") + "…"
    return f"{title} (case {case.pk})"


class Study(models.Model):
    """One imaging study; real dates are removed, so a relative label orders them."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="studies")
    modality = models.CharField(max_length=4, choices=MODALITY_CHOICES)
    time_label = models.CharField(
        max_length=100,
        default="Initial",
        help_text="Relative time, e.g. 'Initial' or 'After embolisation, 3 months'.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["case", "order", "pk"]
        verbose_name_plural = "studies"
        constraints = [models.UniqueConstraint(fields=["case", "order"], name="study_unique_order")]

    def __str__(self) -> str:
        """Pickers list the studies of many cases, several of them "MRI — Initial": the case tells them
        apart (select ``case`` with a list of studies)."""
        return f"{case_name(self.case)} · {self.get_modality_display()} — {self.time_label}"


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    finding = models.ForeignKey(
        "cases.Finding", null=True, blank=True, on_delete=models.SET_NULL, related_name="series"
    )
    label = models.CharField(
        max_length=100,
        help_text="The author's label residents see, e.g. 'Sagittal T2'. Never copied from the DICOM header; "
        "must not name the diagnosis.",
    )
    is_sample = models.BooleanField(
        default=False,
        help_text="Images not from this patient (e.g. library sample files): shown with a badge.",
    )
    order = models.PositiveSmallIntegerField(default=0)
    # The author's teaching view: the viewer opens here, and "reset" returns here.
    teaching_preset = models.CharField(
        max_length=30, blank=True, help_text="Window preset; empty: the file's own."
    )
    teaching_slice = models.PositiveIntegerField(
        null=True, blank=True, help_text="Slice to open at, counting from 1; empty: the middle slice."
    )
    teaching_zoom = models.FloatField(default=1.0, help_text="1 fits the image; up to 8.")

    class Meta:
        ordering = ["study", "order", "pk"]
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(fields=["study", "order"], name="series_unique_order"),
            models.CheckConstraint(
                condition=Q(teaching_zoom__gte=0.5) & Q(teaching_zoom__lte=8), name="series_zoom_in_range"
            ),
            models.CheckConstraint(condition=~Q(teaching_slice=0), name="series_teaching_slice_from_one"),
        ]

    def __str__(self) -> str:
        """Names the case (read through the study: select ``study__case`` with a list of series)."""
        return f"{case_name(self.study.case)} · {self.label}"


#: The storage folder of the de-identified files.
IMAGES_FOLDER = "images"


def stored_image_name(instance: "Image", filename: str) -> str:
    extension = ".dcm" if instance.kind == Image.Kind.DICOM else ".png"
    return f"{IMAGES_FOLDER}/{uuid.uuid4().hex}{extension}"


class Image(models.Model):
    class Kind(models.TextChoices):
        DICOM = "dicom", "DICOM"
        RASTER = "raster", "PNG/JPEG"

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="images")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    file = models.FileField(
        upload_to=stored_image_name, help_text="The de-identified file; never the original."
    )
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    modality = models.CharField(max_length=16, blank=True)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    frame_count = models.PositiveIntegerField(default=1)
    sort_key = models.FloatField(default=0, help_text="InstanceNumber, else position along the slice normal.")
    slice_position = models.FloatField(null=True, blank=True, help_text="Millimetres along the slice normal.")
    order = models.PositiveIntegerField(default=0)
    caption = models.CharField(max_length=300, blank=True)
    deid_report = models.JSONField(default=dict, blank=True)
    needs_review = models.BooleanField(
        default=False, help_text="May carry burned-in text: an editor must look before the case is published."
    )
    review_reason = models.CharField(max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "order", "pk"]
        permissions = [("clear_image_flag", "Can clear the burned-in annotation flag of an image")]
        constraints = [
            models.CheckConstraint(condition=Q(rows__gt=0) & Q(columns__gt=0), name="image_has_size"),
            models.CheckConstraint(condition=Q(frame_count__gt=0), name="image_has_frames"),
        ]
        indexes = [models.Index(fields=["needs_review"], name="image_needs_review_idx")]

    def __str__(self) -> str:
        """Names the case (read through the series and study: select ``series__study__case`` with a list)."""
        return f"{self.series} #{self.order}"

    @property
    def is_flagged(self) -> bool:
        return self.needs_review and self.reviewed_at is None


class Upload(models.Model):
    """One ingest run (admin upload or command) and its de-identification report, shown to faculty.

    An ingest called directly records a finished run. One that goes through the task queue
    (``imaging.ingest_tasks``) is recorded first, "queued", with its originals in quarantine; the worker
    counts its progress here and beats its heartbeat, so that a sweep can tell a dead worker's upload
    from a slow one.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.DONE)
    #: Why a queued upload failed or was run again: said on its progress page.
    status_note = models.CharField(max_length=300, blank=True)
    total = models.PositiveIntegerField(default=0, help_text="Files handed over (a zip counts once).")
    done = models.PositiveIntegerField(default=0, help_text="Of those, files de-identified or refused.")
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(
        default=list, help_text="Per file: outcome, reason and tags removed/replaced/kept."
    )
    caption = models.CharField(max_length=300, blank=True, help_text="Given to each image it stores.")
    #: The originals waiting in quarantine storage, in upload order; each leaves as it is handled.
    quarantined = models.JSONField(default=list, blank=True)
    runs = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker started it.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    #: The series' highest image id when the run started: images above it that no finished upload
    #: names are this run's, removed if it dies.
    images_after = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="upload_status_idx")]

    def __str__(self) -> str:
        return f"Upload to {self.series} ({self.accepted} accepted, {self.rejected} rejected)"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class DeidentificationKey(models.Model):
    """Per-case secret that makes UID replacement and date shifting consistent across uploads."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="deidentification_key")
    seed = models.CharField(max_length=64)
    date_offset_days = models.IntegerField()

    def __str__(self) -> str:
        return f"De-identification key of case {self.case_id}"


class Annotation(models.Model):
    """An arrow or label on one frame, stored as a vector overlay and never burned into pixels.

    Coordinates are fractions of the image's width and height (0 to 1), so an overlay stays in place
    at any zoom or display size. It belongs to the answer: quiz mode hides it until reveal.
    """

    class Kind(models.TextChoices):
        ARROW = "arrow", "Arrow"
        LABEL = "label", "Label"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    frame = models.PositiveIntegerField(default=0, help_text="Frame of a multi-frame image, from 0.")
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.ARROW)
    x = models.FloatField(help_text="Tip (arrow) or anchor (label), fraction of the width.")
    y = models.FloatField(help_text="Tip (arrow) or anchor (label), fraction of the height.")
    tail_x = models.FloatField(null=True, blank=True, help_text="Arrow tail, fraction of the width.")
    tail_y = models.FloatField(null=True, blank=True, help_text="Arrow tail, fraction of the height.")
    text = models.CharField(max_length=120, blank=True)
    finding = models.ForeignKey(
        "cases.Finding", null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )

    class Meta:
        ordering = ["image", "frame", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(x__gte=0, x__lte=1, y__gte=0, y__lte=1), name="annotation_point_inside_image"
            ),
            models.CheckConstraint(
                condition=(Q(tail_x__isnull=True) & Q(tail_y__isnull=True))
                | Q(tail_x__gte=0, tail_x__lte=1, tail_y__gte=0, tail_y__lte=1),
                name="annotation_tail_inside_image",
            ),
            models.CheckConstraint(
                condition=~Q(kind="arrow") | Q(tail_x__isnull=False, tail_y__isnull=False),
                name="annotation_arrow_has_tail",
            ),
            models.CheckConstraint(
                condition=~Q(kind="label") | ~Q(text=""), name="annotation_label_has_text"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.image} frame {self.frame + 1}"  # as people count
