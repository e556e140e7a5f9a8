"""What the DICOM receiver knows: who may send, what each association did, and the studies received.

A received study waits in its owner's inbox, de-identified with a key of its own, until it becomes a
draft case (or part of one), is discarded, or is purged after ``RECEIVED_STUDY_DAYS``. No original
identifier is stored: a study is recognised while it arrives by a keyed hash of its Study Instance UID.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q


class DicomSender(models.Model):
    """A PACS or workstation allowed to store: its calling AE title, optionally the one address it
    must call from, and the faculty member whose inbox receives what it sends."""

    ae_title = models.CharField(
        "calling AE title",
        max_length=16,
        unique=True,
        help_text="As the sender calls itself (up to 16 characters).",
    )
    host = models.GenericIPAddressField(
        "host address",
        null=True,
        blank=True,
        help_text="If set, an association from any other address is rejected.",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="dicom_senders",
        help_text="The faculty member whose inbox receives this sender's studies.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ae_title"]
        verbose_name = "DICOM sender"

    def __str__(self) -> str:
        return self.ae_title + (f" @ {self.host}" if self.host else "")


def no_credentials_in_url(url: str) -> None:
    """The source's URL is shown in lists: a username or password belongs in their own fields."""
    if urlsplit(url).username is not None:
        raise ValidationError("Put the username and password in their own fields, not in the URL.")


class DicomWebSource(models.Model):
    """A DICOMweb server (QIDO-RS and WADO-RS) faculty may pull studies from; managed by editors. Its
    credentials stay on the server: the admin never shows the password back, and the database holds it
    encrypted (``receiver/secrets.py``)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(
        "QIDO-RS/WADO-RS root URL",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"]), no_credentials_in_url],
        help_text="e.g. https://pacs.example.org/dicom-web",
    )
    username = models.CharField(max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "DICOMweb source"

    def __str__(self) -> str:
        return self.name


class AssociationLog(models.Model):
    """One association with the receiver, accepted or not: who called, from where, what came of it."""

    class Outcome(models.TextChoices):
        OPEN = "open", "Open"
        REJECTED = "rejected", "Rejected"
        RELEASED = "released", "Released"
        ABORTED = "aborted", "Aborted"

    sender = models.ForeignKey(
        DicomSender, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    calling_ae_title = models.CharField(max_length=16)
    address = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OPEN)
    reason = models.CharField(max_length=300, blank=True)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    received_bytes = models.PositiveBigIntegerField(default=0)
    refused_sop_classes = models.JSONField(
        default=list,
        blank=True,
        help_text="SOP classes proposed but not accepted: none of their instances could be sent.",
    )
    rejections = models.JSONField(
        default=list,
        blank=True,
        help_text="Each refused instance: its SOP class and the reason (no identifier).",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = "DICOM association"

    def __str__(self) -> str:
        return f"{self.calling_ae_title} from {self.address} ({self.get_outcome_display().lower()})"


class ReceivedStudy(models.Model):
    """A study received from a sender, in its owner's inbox."""

    class Status(models.TextChoices):
        RECEIVING = "receiving", "Receiving"
        REQUESTED = "requested", "Pull requested"
        PULLING = "pulling", "Being pulled over DICOMweb"
        PROCESSING = "processing", "Waiting for the image gate"
        GATING = "gating", "Passing the image gate"
        READY = "ready", "In the inbox"
        USED = "used", "Made into a case"
        FAILED = "failed", "Failed"

    sender = models.ForeignKey(
        DicomSender, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.ForeignKey(
        DicomWebSource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Pulled over DICOMweb from this source (else received from a sender).",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="received_studies"
    )
    # A keyed hash (SECRET_KEY) of the sender and the original Study Instance UID: groups instances
    # while they arrive without keeping the UID itself.
    arrival_key = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVING)
    # The study's own de-identification key (see imaging.models.DeidentificationKey).
    seed = models.CharField(max_length=64)
    date_offset_days = models.IntegerField()
    modality = models.CharField(max_length=16, blank=True)
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()
    gated_at = models.DateTimeField(null=True, blank=True)
    # A task working on the study (pulling or gating it) records itself here, so that every worker's sweep
    # can tell a dead worker's study from a slow one (imaging.jobs): runs counts its tries.
    runs = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    status_note = models.CharField(
        max_length=500, blank=True, help_text="Why the study failed, or what happened to it, for its owner."
    )
    # What a pull asks the source for, until the pull has run: the original identifier is not kept after.
    pull_study_uid = models.CharField(max_length=64, blank=True)
    pull_accession = models.CharField(max_length=64, blank=True)
    pull_hint = models.CharField(
        max_length=80, blank=True, help_text="Which pull this was, without the identifier asked for."
    )
    deidentification_summary = models.JSONField(default=dict, blank=True)
    key_object_title = models.CharField(max_length=64, blank=True)
    key_object_description = models.TextField(
        blank=True,
        help_text="Free text the PACS sent with the key images: for the author only, never published.",
    )
    case = models.ForeignKey(
        "cases.Case",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The draft this study was made into or added to.",
    )

    class Meta:
        ordering = ["-last_received_at", "-pk"]
        verbose_name = "received study"
        verbose_name_plural = "received studies"
        constraints = [
            models.UniqueConstraint(
                fields=["arrival_key"], condition=Q(status="receiving"), name="received_study_one_receiving"
            )
        ]
        indexes = [models.Index(fields=["status", "last_received_at"], name="received_study_status_idx")]

    def __str__(self) -> str:
        return f"{self.modality or 'Study'} received {self.first_received_at:%Y-%m-%d %H:%M}"


def quarantine_name(study_id: int, token: str) -> str:
    return f"received/{study_id}/{token}.dcm"


class ReceivedInstance(models.Model):
    """One instance of a received study: quarantined as it came, then gated (or rejected)."""

    class Status(models.TextChoices):
        QUARANTINED = "quarantined", "Waiting for the image gate"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    study = models.ForeignKey(ReceivedStudy, on_delete=models.CASCADE, related_name="instances")
    association = models.ForeignKey(
        AssociationLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUARANTINED)
    sop_class_uid = models.CharField(max_length=64)
    quarantine_file = models.CharField(
        max_length=200, blank=True, help_text="In the quarantine storage, until gated."
    )
    size_bytes = models.PositiveBigIntegerField(default=0)
    received_at = models.DateTimeField()
    # After the gate: the de-identified file in media storage, and what the ingest says of it.
    file = models.FileField(upload_to="received/", blank=True)
    series_uid = models.CharField(max_length=64, blank=True, help_text="De-identified Series Instance UID.")
    modality = models.CharField(max_length=16, blank=True)
    image_fields = models.JSONField(
        default=dict, blank=True, help_text="The image row's fields the gate gave."
    )
    used = models.BooleanField(default=False, help_text="Made into an image of a case.")
    deid_report = models.JSONField(default=dict, blank=True)
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=300, blank=True)
    thumbnail = models.FileField(
        upload_to="received/", blank=True, help_text="PNG of the middle frame, for its series in the inbox."
    )
    reason = models.CharField(max_length=500, blank=True, help_text="Why the gate rejected it.")
    is_key_image = models.BooleanField(default=False, help_text="Referenced by a key object selection.")

    class Meta:
        ordering = ["study", "series_uid", "pk"]

    def __str__(self) -> str:
        return f"Instance {self.pk} of {self.study}"
