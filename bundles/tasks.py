"""Bundle export and import from the admin, as tasks: the request records a job and answers at once with
the job's page; a worker does the work (the same ``export_bundle`` and ``import_bundle`` the commands
call, which stay synchronous).

Each enqueue runs inside the transaction that creates the job row. The ORM backend's enqueue is a row
in the same database, so the job and its task commit together or not at all: a worker never takes a
task whose job is not committed yet, and a committed job never lacks its task (``on_commit`` would
leave a web process that dies between its commit and the enqueue with a job no task will run).

An import's bundle waits in the quarantine storage (``bundle-imports/<job id>.zip``) and is deleted as
soon as the import finished or failed. A finished export is kept in the same private storage
(``bundle-exports/<job id>.zip``) for :func:`export_keep` (24 hours by default), downloadable any number
of times by whoever asked for it and by editors, then deleted by the sweep: a download that fails
half-way can be tried again.

:func:`bundle_jobs_sweep`, run by every worker (a receiver of :data:`imaging.jobs.worker_sweep`),
fails the jobs of dead workers. An import writes in one transaction, which the database undoes when
its worker dies; the image files it had stored are removed by the sweep as a dead upload's are.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task

from bundles.models import BundleJob
from bundles.services import (
    MAX_TOTAL_BYTES,
    BundleError,
    ImportReport,
    SlugClash,
    export_bundle_tempfile,
    import_bundle,
)
from cases.models import Case
from imaging.ingest_tasks import unnamed_files_remove
from imaging.jobs import heartbeat, live_writer_running, stale_before, stale_jobs
from imaging.models import Upload
from imaging.quarantine import quarantine_storage

__all__ = [
    "bundle_export",
    "bundle_export_enqueue",
    "bundle_files_sweep",
    "bundle_import",
    "bundle_import_enqueue",
    "bundle_jobs_sweep",
    "export_keep",
    "imports_running_live",
]

logger = logging.getLogger(__name__)

IMPORTS_FOLDER = "bundle-imports"
EXPORTS_FOLDER = "bundle-exports"
#: A finished export is kept this long unless ``settings.BUNDLE_EXPORT_KEEP_HOURS`` says otherwise.
EXPORT_KEEP_HOURS = 24
#: A queued job no worker has taken for this long is enqueued again (its task is harmless twice).
QUEUED_GRACE = timedelta(hours=1)
#: Files in the bundle folders that no job names are left this long: their request may still commit.
UNKNOWN_GRACE = timedelta(hours=1)

NOTHING_TO_EXPORT = "None of the selected cases can be exported by the user who asked (any more)."
SLUG_CLASH_NOTE = (
    "These cases exist already: {slugs}. Nothing was imported: choose whether to skip, rename or replace "
    "them, and upload the bundle again."
)
REJECTED_NOTE = "Bundle rejected: {error}. Nothing was imported."
ERROR_NOTE = "The {kind} stopped with an error ({error}); nothing of it was kept."
DEAD_NOTE = "A worker stopped during this {kind}: it failed, and nothing of it was kept. Ask for it again."
EXPIRED_NOTE = (
    "The bundle was kept for {hours} hours after it was made and has been deleted: export it again."
)


class JobSettled(Exception):
    """The job is no longer this run's: a sweep took its worker for dead and failed it."""


def bundle_storage() -> Storage:
    """Private storage, never served, that every worker reaches: the quarantine's."""
    return quarantine_storage()


def export_keep() -> timedelta:
    return timedelta(hours=getattr(settings, "BUNDLE_EXPORT_KEEP_HOURS", EXPORT_KEEP_HOURS))


# -- enqueue --------------------------------------------------------------------------------------


@transaction.atomic
def bundle_export_enqueue(*, case_ids: list[int], by) -> BundleJob:
    """Queue the export of the cases `case_ids` for `by` (who may see them: checked again when it runs)."""
    job = BundleJob.objects.create(
        kind=BundleJob.Kind.EXPORT,
        requested_by=by,
        case_ids=sorted(case_ids),
        total=len(case_ids),
        heartbeat_at=timezone.now(),
    )
    bundle_export.enqueue(job.pk)  # in this transaction: see the module's docstring
    return job


@transaction.atomic
def bundle_import_enqueue(
    *, bundle, on_conflict: str, by, author=None, max_total_bytes: int = MAX_TOTAL_BYTES
) -> BundleJob:
    """Quarantine the uploaded `bundle` and queue its import (arguments as ``import_bundle``'s)."""
    job = BundleJob.objects.create(
        kind=BundleJob.Kind.IMPORT,
        requested_by=by,
        author=author,
        on_conflict=on_conflict,
        max_total_bytes=max_total_bytes,
        heartbeat_at=timezone.now(),
    )
    # A neutral name: the one it was uploaded under is the uploader's.
    job.quarantined = bundle_storage().save(f"{IMPORTS_FOLDER}/{job.pk}.zip", bundle)
    job.save(update_fields=["quarantined"])
    bundle_import.enqueue(job.pk)  # in this transaction: see the module's docstring
    return job


# -- the tasks ------------------------------------------------------------------------------------


def _claimed(job_id: int) -> BundleJob | None:
    """The job, now "running", if it was queued; None if it is not (run or settled already)."""
    now = timezone.now()
    claimed = BundleJob.objects.filter(pk=job_id, status=BundleJob.Status.QUEUED).update(
        status=BundleJob.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    return BundleJob.objects.select_related("requested_by", "author").get(pk=job_id) if claimed else None


def _this_run(job: BundleJob) -> QuerySet:
    """The job's row while this run still holds it (no sweep has failed it)."""
    return BundleJob.objects.filter(pk=job.pk, status=BundleJob.Status.RUNNING)


def _fail(job: BundleJob, note: str) -> bool:
    """Mark the job failed with `note`, if this run still holds it; whether it did."""
    now = timezone.now()
    return bool(
        _this_run(job).update(status=BundleJob.Status.FAILED, note=note, finished_at=now, heartbeat_at=now)
    )


@task()
def bundle_export(job_id: int) -> dict:
    """Write a queued export's cases, those its asker may see now, to a bundle kept for download."""
    job = _claimed(job_id)
    if job is None:
        return {"job": job_id, "skipped": "not queued"}
    storage = bundle_storage()
    try:
        with heartbeat(_this_run(job)):
            user = job.requested_by
            cases = (
                Case.objects.none()
                if user is None
                else Case.objects.visible_to(user).filter(pk__in=job.case_ids).order_by("pk")
            )
            total = cases.count()
            if not total:
                _fail(job, NOTHING_TO_EXPORT)
                return {"job": job_id, "exported": 0}
            _this_run(job).update(total=total, done=0)

            def progress(done: int, total: int) -> None:
                _this_run(job).update(done=done, heartbeat_at=timezone.now())

            bundle, _manifest = export_bundle_tempfile(cases, on_progress=progress)
            with bundle:
                name = storage.save(f"{EXPORTS_FOLDER}/{job.pk}.zip", File(bundle))
    except Exception as error:
        _fail(job, ERROR_NOTE.format(kind="export", error=type(error).__name__))
        raise
    now = timezone.now()
    finished = _this_run(job).update(
        status=BundleJob.Status.DONE, export_file=name, done=total, finished_at=now, heartbeat_at=now
    )
    if not finished:
        logger.warning("bundle export %s was failed by a sweep during its run; its file is removed", job.pk)
        storage.delete(name)
    return {"job": job_id, "exported": total}


@task()
def bundle_import(job_id: int) -> dict:
    """Import a queued job's bundle from quarantine, all or nothing, and delete the bundle."""
    job = _claimed(job_id)
    if job is None:
        return {"job": job_id, "skipped": "not queued"}
    # The import writes in one transaction, unseen by others until it ends: its progress is written by
    # the heartbeat, from a connection of its own.
    counts = {"done": 0, "total": 0}

    def progress(done: int, total: int) -> None:
        counts.update(done=done, total=total)

    storage = bundle_storage()
    try:
        with heartbeat(_this_run(job), fields=lambda: dict(counts)), storage.open(job.quarantined) as source:
            import_bundle(
                source,
                on_conflict=job.on_conflict,
                by=job.requested_by,
                author=job.author,
                max_total_bytes=job.max_total_bytes or MAX_TOTAL_BYTES,
                on_progress=progress,
                on_written=partial(_import_done, job, counts),
            )
    except SlugClash as error:
        _fail(job, SLUG_CLASH_NOTE.format(slugs=", ".join(error.slugs)))
    except BundleError as error:
        _fail(job, REJECTED_NOTE.format(error=str(error).rstrip(".")))
    except JobSettled:
        logger.warning("bundle import %s was failed by a sweep during its run; it was undone", job.pk)
    except Exception as error:
        _fail(job, ERROR_NOTE.format(kind="import", error=type(error).__name__))
        raise
    finally:
        _quarantine_release(job)
    return {"job": job_id, "status": BundleJob.objects.values_list("status", flat=True).get(pk=job_id)}


def _import_done(job: BundleJob, counts: dict, report: ImportReport) -> None:
    """The import's last step, inside its transaction: the job is done when the cases are committed, and
    an import whose job a sweep failed meanwhile is undone."""
    now = timezone.now()
    finished = _this_run(job).update(
        status=BundleJob.Status.DONE,
        report=asdict(report),
        total=counts["total"],
        done=counts["total"],
        finished_at=now,
        heartbeat_at=now,
    )
    if not finished:
        raise JobSettled(job.pk)


def _quarantine_release(job: BundleJob) -> None:
    if job.quarantined:
        bundle_storage().delete(job.quarantined)  # no error when it is gone already
        BundleJob.objects.filter(pk=job.pk).update(quarantined="")


# -- dead workers and old files -------------------------------------------------------------------


def imports_running_live() -> bool:
    """An import is running with a fresh heartbeat: its stored image files are named by no committed row
    yet (registered in :data:`imaging.jobs.live_writers`, so that the uploads' sweep waits too)."""
    return BundleJob.objects.filter(
        kind=BundleJob.Kind.IMPORT, status=BundleJob.Status.RUNNING, heartbeat_at__gte=stale_before()
    ).exists()


def bundle_jobs_sweep(**_kwargs) -> list[tuple[int, str]]:
    """Fail the jobs whose worker died, and remove the files they and finished jobs left; (job id, new
    status) for each job settled. A receiver of :data:`imaging.jobs.worker_sweep`.

    A dead import's rows were undone by the database with its transaction; its stored image files are
    those of the image folder written during its run that no row names. Like the uploads' sweep, that
    waits while an upload or another import is running live (their files are not named by rows yet);
    a dead export stored nothing but its own file, and is failed at once.
    """
    _lost_enqueues_repeat()
    running = BundleJob.objects.filter(status=BundleJob.Status.RUNNING)
    uploads_live = Upload.objects.filter(status=Upload.Status.RUNNING, heartbeat_at__gte=stale_before())
    if uploads_live.exists() or live_writer_running():
        running = running.filter(kind=BundleJob.Kind.EXPORT)
    settled = []
    for job in stale_jobs(running):
        # Failed first: a stalled worker that wakes finds its job failed and undoes its import.
        if not _fail(job, DEAD_NOTE.format(kind=job.get_kind_display().lower())):
            continue
        if job.kind == BundleJob.Kind.IMPORT and job.started_at is not None:
            removed = unnamed_files_remove(since=job.started_at, until=_last_alive(job))
            _quarantine_release(job)
            logger.warning("bundle import %s: its worker died; %s stored file(s) removed", job.pk, removed)
        else:
            logger.warning("bundle export %s: its worker died", job.pk)
        settled.append((job.pk, BundleJob.Status.FAILED))
    bundle_files_sweep()
    return settled


def _last_alive(job: BundleJob):
    """Until when a dead import may have stored files: its last heartbeat (and a beat's margin), past which
    files are another's. Not on SQLite, where the import's transaction holds the one write lock and so
    keeps its heartbeat from being written while it runs: there it may have stored files until the sweep
    failed it, which it could do only once no transaction held the lock (the dead one's undone)."""
    if connection.vendor == "sqlite":
        return timezone.now()
    return job.heartbeat_at + timedelta(seconds=2 * settings.UPLOAD_HEARTBEAT_SECONDS)


def _lost_enqueues_repeat() -> None:
    """Enqueue again the jobs queued for longer than :data:`QUEUED_GRACE` (a worker that died between
    taking the task and claiming its job): a task for a job already taken does nothing, and the refreshed
    heartbeat keeps it to one repeat per grace period."""
    now = timezone.now()
    tasks = {BundleJob.Kind.EXPORT: bundle_export, BundleJob.Kind.IMPORT: bundle_import}
    queued = BundleJob.objects.filter(status=BundleJob.Status.QUEUED)
    for job in queued.filter(heartbeat_at__lt=now - QUEUED_GRACE):
        if queued.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(heartbeat_at=now):
            tasks[job.kind].enqueue(job.pk)


def bundle_files_sweep() -> int:
    """Delete exports kept longer than :func:`export_keep`, and the bundle files no waiting or finished
    job needs (a failed job's, a finished import's, one whose request never committed); how many."""
    storage = bundle_storage()
    now = timezone.now()
    expired = BundleJob.objects.filter(
        kind=BundleJob.Kind.EXPORT, status=BundleJob.Status.DONE, finished_at__lt=now - export_keep()
    ).exclude(export_file="")
    deleted = 0
    for job in expired:
        storage.delete(job.export_file)
        note = EXPIRED_NOTE.format(hours=round(export_keep().total_seconds() / 3600))
        BundleJob.objects.filter(pk=job.pk).update(export_file="", note=note)
        deleted += 1
    # What each folder's files are kept for: an import waiting or running, an export done.
    waiting = [BundleJob.Status.QUEUED, BundleJob.Status.RUNNING]
    folders = [
        (IMPORTS_FOLDER, "quarantined", BundleJob.objects.filter(status__in=waiting)),
        (EXPORTS_FOLDER, "export_file", BundleJob.objects.filter(status=BundleJob.Status.DONE)),
    ]
    for folder, field, jobs in folders:
        try:
            _, files = storage.listdir(folder)
        except FileNotFoundError:
            continue
        names = [f"{folder}/{name}" for name in files]
        needed = set(jobs.filter(**{f"{field}__in": names}).values_list(field, flat=True))
        for name in names:
            # Young files are left alone: their request, or their export, may not have committed yet.
            if name in needed or storage.get_modified_time(name) > now - UNKNOWN_GRACE:
                continue
            storage.delete(name)
            deleted += 1
    return deleted
