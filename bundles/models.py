from django.conf import settings
from django.db import models


class BundleJob(models.Model):
    """One export or import of a case bundle asked for in the admin, run by a worker (``bundles.tasks``).

    The row is what the job's page shows and what the sweep watches: the worker claims it ("running"),
    beats its heartbeat and counts cases done of total; the finished import's report, the finished
    export's file, or the reason it failed.
    """

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        IMPORT = "import", "Import"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.QUEUED)
    #: Why it failed, or that its export expired: said on its page.
    note = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveIntegerField(default=0, help_text="Cases to export, or in the bundle.")
    done = models.PositiveIntegerField(default=0, help_text="Of those, cases written or imported.")

    # An export: the cases asked for (visibility is applied again when it runs) and the finished bundle.
    case_ids = models.JSONField(default=list, blank=True)
    export_file = models.CharField(max_length=200, blank=True)

    # An import: the bundle waiting in quarantine, what the form chose, and the report.
    quarantined = models.CharField(max_length=200, blank=True)
    on_conflict = models.CharField(max_length=7, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    max_total_bytes = models.BigIntegerField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="bundlejob_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
