"""Uploads through the task queue: the request stores the originals in quarantine and answers at once; a
worker de-identifies them with the same service a direct call uses (:func:`images_ingest`).

:func:`upload_enqueue` records the upload ("queued", with its total) and, once that commits, enqueues
:func:`upload_ingest`. The task counts the upload's progress on its row, deletes each original from
quarantine as soon as its file is de-identified or refused, and beats a heartbeat
(:func:`imaging.jobs.heartbeat`). :func:`uploads_sweep`, run by every worker at start and at intervals
(``imaging/management/commands/db_worker.py``), settles the uploads of dead workers: their partial rows
and files are removed, then the upload is run again if all its originals are still in quarantine (and it
has not been tried :data:`MAX_RUNS` times), else marked failed; its progress page says which.

After an upload commits, :func:`series_renders` renders the new images' thumbnails and the series'
opening frame, so that the first view finds them ready.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django_tasks import task

from imaging.jobs import heartbeat, live_writer_running, stale_before
from imaging.models import IMAGES_FOLDER, Image, Series, Upload
from imaging.preset_fallback import preset_for
from imaging.quarantine import (
    input_name,
    quarantine_delete,
    quarantine_release,
    quarantine_save,
    quarantine_storage,
    quarantined_inputs,
)
from imaging.rendering import FrameUnavailable, frame_png, frame_thumbnail_png, thumbnail_png
from imaging.services import FileOutcome, IngestResult, images_ingest
from imaging.stacks import series_stack

__all__ = [
    "MAX_RUNS",
    "series_renders",
    "unnamed_files_remove",
    "upload_enqueue",
    "upload_ingest",
    "uploads_sweep",
]

logger = logging.getLogger(__name__)

#: A worker that dies on an upload twice (a file that exhausts its memory, say) fails it: no third run.
MAX_RUNS = 2
#: A queued upload no worker has taken for this long is enqueued again (see _lost_enqueues_repeat).
QUEUED_GRACE = timedelta(hours=1)
#: Progress is written at most this often (and at once for a refused file), not once per file.
PROGRESS_SECONDS = 0.5
# Stored names per query, well under SQLite's parameter limit.
_NAMES_PER_QUERY = 500

RERUN_NOTE = "A worker stopped during this upload before any file was handled: it was queued to run again."
FAILED_NOTE = (
    "A worker stopped during this upload: it failed, and the {count} image(s) it had stored were removed. "
    "Upload the files again."
)
ERROR_NOTE = "The upload stopped with an error ({error}); the images it had stored were removed."


@transaction.atomic
def upload_enqueue(*, series: Series, files: Iterable, by=None, caption: str = "") -> Upload:
    """Quarantine `files` (Django files: uploads, or local files opened as ``File``) for `series` and
    queue their ingest; the upload, "queued", whose page shows its progress."""
    upload = Upload.objects.create(
        series=series,
        uploaded_by=by,
        status=Upload.Status.QUEUED,
        caption=caption,
        heartbeat_at=timezone.now(),
    )
    upload.quarantined = quarantine_save(upload_id=upload.pk, files=files)
    upload.total = len(upload.quarantined)
    upload.save(update_fields=["quarantined", "total"])
    # After the commit: a worker must find the row (and the originals) the task names. An enqueue that
    # fails is logged, not raised (the upload is committed); the sweep enqueues it again.
    transaction.on_commit(partial(upload_ingest.enqueue, upload.pk), robust=True)
    return upload


def _claimed(upload_id: int) -> Upload | None:
    """The upload, now "running", if it was queued; None if it is not (run or settled already)."""
    series_id = Upload.objects.filter(pk=upload_id).values_list("series_id", flat=True).first()
    if series_id is None:
        return None
    last_image = Image.objects.filter(series_id=series_id).aggregate(top=Max("pk"))["top"] or 0
    now = timezone.now()
    claimed = Upload.objects.filter(pk=upload_id, status=Upload.Status.QUEUED).update(
        status=Upload.Status.RUNNING,
        runs=F("runs") + 1,
        started_at=now,
        heartbeat_at=now,
        images_after=last_image,
        done=0,
        accepted=0,
        rejected=0,
        report=[],
    )
    return (
        Upload.objects.select_related("series__study__case", "uploaded_by").get(pk=upload_id)
        if claimed
        else None
    )


class _Progress:
    """``on_progress`` of a queued upload: counts, refusals and the originals' removal from quarantine.

    Outcomes come in upload order, so an outcome of the n-th original means that those before it are
    handled; a whole file's outcome (not a zip entry's, named ``"<file>:<entry>"``) handles it too.
    """

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.positions = {input_name(p, name): p for p, name in enumerate(upload.quarantined, start=1)}
        self.handled = 0
        self.accepted = 0
        self.refusals: list[dict] = []  # the page shows refusals while it runs; the full report at the end
        self.written_at: float | None = None

    def __call__(self, outcome: FileOutcome) -> None:
        if outcome.accepted:
            self.accepted += 1
        else:
            self.refusals.append(outcome.as_dict())
        source, _, entry = outcome.name.partition(":")
        position = self.positions.get(source)
        if position is not None:
            self._handled_up_to(position - 1 if entry else position)
        self._write(now=not outcome.accepted or self.written_at is None)

    def _handled_up_to(self, count: int) -> None:
        if count > self.handled:
            quarantine_delete(self.upload.quarantined[self.handled : count])
            self.handled = count

    def _write(self, *, now: bool) -> None:
        clock = time.monotonic()
        if not now and self.written_at is not None and clock - self.written_at < PROGRESS_SECONDS:
            return
        self.written_at = clock
        _this_run(self.upload).update(
            done=self.handled,
            accepted=self.accepted,
            rejected=len(self.refusals),
            report=self.refusals,
            heartbeat_at=timezone.now(),
        )


@task()
def upload_ingest(upload_id: int) -> dict:
    """Ingest a queued upload from quarantine (the task :func:`upload_enqueue` queues)."""
    upload = _claimed(upload_id)
    if upload is None:
        return {"upload": upload_id, "skipped": "not queued"}
    progress = _Progress(upload)
    with heartbeat(_this_run(upload)):
        try:
            result = images_ingest(
                series=upload.series,
                files=quarantined_inputs(upload.quarantined),
                by=upload.uploaded_by,
                caption=upload.caption,
                on_progress=progress,
            )
        except Exception as error:
            # The ingest deleted the files of its batch in hand; earlier batches committed, and go here.
            _partial_images_remove(upload, unnamed_files=False)
            _settle(upload, Upload.Status.FAILED, ERROR_NOTE.format(error=type(error).__name__))
            raise
        _finish(upload, result)
    return {"upload": upload_id, "accepted": len(result.accepted), "rejected": len(result.rejected)}


def _this_run(upload: Upload):
    """The upload's row while this run still holds it (a sweep that took it for dead has not settled it)."""
    return Upload.objects.filter(pk=upload.pk, status=Upload.Status.RUNNING, runs=upload.runs)


def _finish(upload: Upload, result: IngestResult) -> None:
    """Take the report the ingest recorded into the queued upload's row (the one its page shows)."""
    recorded = result.upload
    with transaction.atomic():
        if not _this_run(upload).select_for_update().exists():
            # A sweep settled it while this worker was stalled (no heartbeat): what it stored goes.
            logger.warning(
                "upload %s was settled by a sweep during its run; its images are removed", upload.pk
            )
            stored = [entry["image_id"] for entry in recorded.report if entry.get("image_id")]
            Image.objects.filter(pk__in=stored).delete()
            recorded.delete()
            return
        upload.status = Upload.Status.DONE
        upload.done = upload.total
        upload.accepted, upload.rejected, upload.report = (
            recorded.accepted,
            recorded.rejected,
            recorded.report,
        )
        upload.quarantined = []
        upload.heartbeat_at = timezone.now()
        upload.save()  # a save, not an update: the receivers that follow new images see it
        recorded.delete()
        if result.accepted:
            transaction.on_commit(partial(series_renders.enqueue, upload.pk), robust=True)
    quarantine_release(upload.pk)


def _settle(upload: Upload, status: str, note: str) -> None:
    changes = {"status": status, "status_note": note, "heartbeat_at": timezone.now()}
    if status == Upload.Status.QUEUED:
        changes |= {"done": 0, "accepted": 0, "rejected": 0, "report": []}
    else:
        quarantine_release(upload.pk)
        changes["quarantined"] = []
    # A save: receivers watching uploads (retiring cached pages) see the removal of partial images.
    for field, value in changes.items():
        setattr(upload, field, value)
    upload.save(update_fields=list(changes))


# -- dead workers ---------------------------------------------------------------------------------


def _partial_images_remove(upload: Upload, *, unnamed_files: bool = True) -> int:
    """Delete the images a run of `upload` stored (rows committed in batches, and, with `unnamed_files`,
    stored files whose rows never were); how many rows. Its images are those of the series above
    ``images_after`` that no finished upload names."""
    named: set[int] = set()
    finished = Upload.objects.filter(series_id=upload.series_id, status=Upload.Status.DONE).exclude(
        pk=upload.pk
    )
    for report in finished.values_list("report", flat=True):
        named.update(entry.get("image_id") for entry in report if entry.get("image_id"))
    partial_rows = Image.objects.filter(series_id=upload.series_id, pk__gt=upload.images_after or 0)
    doomed = [pk for pk in partial_rows.values_list("pk", flat=True) if pk not in named]
    with transaction.atomic():
        Image.objects.filter(pk__in=doomed).delete()  # their files go on commit (imaging.cleanup)
    if unnamed_files and upload.started_at is not None:
        # Not past the dead run's last sign of life (and a beat's margin): later files are another's.
        last_alive = (upload.heartbeat_at or upload.started_at) + timedelta(
            seconds=2 * settings.UPLOAD_HEARTBEAT_SECONDS
        )
        unnamed_files_remove(since=upload.started_at, until=last_alive)
    return len(doomed)


def unnamed_files_remove(*, since, until) -> int:
    """Delete stored image files written between `since` and `until` that no row names: a dead run's files
    whose batch of rows never committed. Lists the image folder: this runs only when a dead upload is
    found."""
    try:
        _, files = default_storage.listdir(IMAGES_FOLDER)
    except FileNotFoundError:
        return 0
    recent = [
        f"{IMAGES_FOLDER}/{name}"
        for name in files
        if since <= default_storage.get_modified_time(f"{IMAGES_FOLDER}/{name}") <= until
    ]
    named = set()
    for start in range(0, len(recent), _NAMES_PER_QUERY):
        chunk = recent[start : start + _NAMES_PER_QUERY]
        named.update(Image.objects.filter(file__in=chunk).values_list("file", flat=True))
    unnamed = [name for name in recent if name not in named]
    for name in unnamed:
        default_storage.delete(name)
    return len(unnamed)


def uploads_sweep() -> list[tuple[int, str]]:
    """Settle the uploads whose worker died; (upload id, new status) for each.

    Waits while any upload (or another job that stores image files: :data:`imaging.jobs.live_writers`)
    is running live: its stored files are not yet all named by rows, and would be taken for the dead
    run's. A sweeper claims a dead upload by refreshing its heartbeat, so that other sweepers leave it;
    if this one dies too, the upload goes stale again and the next sweep takes it.
    """
    _lost_enqueues_repeat()
    cutoff = stale_before()
    running = Upload.objects.filter(status=Upload.Status.RUNNING)
    if running.filter(heartbeat_at__gte=cutoff).exists() or live_writer_running():
        return []
    settled = []
    for upload in running.filter(heartbeat_at__lt=cutoff).select_related("series"):
        claimed = Upload.objects.filter(
            pk=upload.pk, status=Upload.Status.RUNNING, heartbeat_at=upload.heartbeat_at
        ).update(heartbeat_at=timezone.now())
        if claimed:
            settled.append((upload.pk, _dead_upload_settle(upload)))
    return settled


def _lost_enqueues_repeat() -> None:
    """Enqueue again the uploads queued for longer than :data:`QUEUED_GRACE` (an enqueue lost when its web
    process died after the commit, or that failed): a task for an upload already taken does nothing, so a
    repeat is harmless, and the refreshed heartbeat keeps it to one per grace period."""
    now = timezone.now()
    for upload in Upload.objects.filter(status=Upload.Status.QUEUED, heartbeat_at__lt=now - QUEUED_GRACE):
        claimed = Upload.objects.filter(
            pk=upload.pk, status=Upload.Status.QUEUED, heartbeat_at=upload.heartbeat_at
        ).update(heartbeat_at=now)
        if claimed:
            upload_ingest.enqueue(upload.pk)


def _dead_upload_settle(upload: Upload) -> str:
    removed = _partial_images_remove(upload)
    storage = quarantine_storage()
    originals_kept = bool(upload.quarantined) and all(storage.exists(name) for name in upload.quarantined)
    if originals_kept and removed == 0 and upload.runs < MAX_RUNS:
        _settle(upload, Upload.Status.QUEUED, RERUN_NOTE)
        upload_ingest.enqueue(upload.pk)
        logger.warning("upload %s: its worker died; queued to run again", upload.pk)
    else:
        _settle(upload, Upload.Status.FAILED, FAILED_NOTE.format(count=removed))
        logger.warning("upload %s: its worker died; failed, %s partial image(s) removed", upload.pk, removed)
    return upload.status


# -- renders --------------------------------------------------------------------------------------


@task()
def series_renders(upload_id: int) -> dict:
    """Render the thumbnails of an upload's new images and its series' opening frame (full size and
    small), so that the admin's list and the first view of the case page find them ready."""
    upload = Upload.objects.select_related("series").filter(pk=upload_id).first()
    if upload is None:
        return {"upload": upload_id, "rendered": 0}
    image_ids = [entry["image_id"] for entry in upload.report if entry.get("image_id")]
    rendered = 0
    for image in Image.objects.filter(pk__in=image_ids):
        rendered += _rendered(thumbnail_png, image)
    stack = series_stack(upload.series, with_overlays=False)
    start = stack["start"]
    if start is not None:
        image = Image.objects.get(pk=start["image"])
        preset = preset_for(image, stack["teaching"]["preset"])
        rendered += _rendered(frame_png, image, start["frame"], preset)
        rendered += _rendered(frame_thumbnail_png, image, start["frame"], preset)
    return {"upload": upload_id, "rendered": rendered}


def _rendered(render, image: Image, *args) -> int:
    try:
        render(image, *args)
    except FrameUnavailable:
        return 0  # remembered by the renderer, and answered as such on view
    return 1
