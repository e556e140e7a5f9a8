"""The receiver's background work, and what becomes of it when a worker dies.

Two tasks work on a received study: the pull over DICOMweb (requested → pulling) and the image gate
(processing → gating). Each claims the study by a conditional update (so a repeated task does nothing),
counts its run, and beats a heartbeat on the study's row while it works (:func:`imaging.jobs.heartbeat`),
as the uploads do: the ORM task backend neither retries a task nor notices a dead worker. Every worker's
sweep (:data:`imaging.jobs.worker_sweep`, at start and every ``UPLOAD_SWEEP_SECONDS``) settles the studies
whose heartbeat went stale (:func:`received_jobs_sweep`): run again, up to :data:`MAX_RUNS` runs, or
failed with the files of the study removed; the inbox shows which, on the study's row.

A gate that dies keeps the instances it finished (each is written whole, then its original deleted), so
its next run gates only the rest; a pull that dies starts again from nothing.
"""

import logging
from datetime import timedelta

from django.db.models import F, QuerySet
from django.utils import timezone
from django_tasks import task

from imaging.jobs import heartbeat, stale_jobs
from receiver import pulling, services
from receiver.models import DicomWebSource, ReceivedInstance, ReceivedStudy
from receiver.spooling import quarantine

__all__ = [
    "MAX_RUNS",
    "dicomweb_pull_enqueue",
    "dicomweb_pull_task",
    "received_jobs_sweep",
    "received_study_gate_task",
]

logger = logging.getLogger(__name__)

Status = ReceivedStudy.Status
#: A study whose worker died this many times (an instance that exhausts a worker's memory, say) fails.
MAX_RUNS = 2
#: A study waiting this long for a worker to take its task is enqueued again (a lost enqueue).
QUEUED_GRACE = timedelta(hours=1)

RERUN_NOTE = "A worker stopped while {doing} this study: it was queued to run again."
DEAD_NOTE = "A worker stopped while {doing} this study, {runs} times: it failed, and its files were removed."
ERROR_NOTE = "{doing} stopped with an error ({error}); the study's files were removed."


def _claimed(study_id: int, waiting: str, working: str) -> ReceivedStudy | None:
    """The study, now `working`, if it was `waiting`; None if not (taken or settled already)."""
    claimed = ReceivedStudy.objects.filter(pk=study_id, status=waiting).update(
        status=working, runs=F("runs") + 1, heartbeat_at=timezone.now()
    )
    return ReceivedStudy.objects.select_related("source").get(pk=study_id) if claimed else None


def _this_run(study: ReceivedStudy) -> QuerySet:
    """The study's row while this run holds it (no sweep has settled it)."""
    return ReceivedStudy.objects.filter(pk=study.pk, status=study.status, runs=study.runs)


def _fail(study: ReceivedStudy, run: QuerySet, note: str) -> bool:
    """Fail the study with `note` if this run still holds it, and remove its files; whether it did."""
    failed = run.update(
        status=Status.FAILED, status_note=note[:500], heartbeat_at=timezone.now(), pull_study_uid="",
        pull_accession="",
    )  # fmt: skip
    if failed:
        services.received_files_remove(study=study)
    return bool(failed)


@task()
def received_study_gate_task(study_id: int) -> dict:
    """Pass a received study through the image gate (:func:`receiver.services.received_study_gate`)."""
    study = _claimed(study_id, Status.PROCESSING, Status.GATING)
    if study is None:
        return {"study": study_id, "skipped": "not waiting for the gate"}
    run = _this_run(study)
    try:
        with heartbeat(run):
            gated = services.received_study_gate(study_id=study_id, run=run)
    except services.StudySettled:
        logger.warning("received study %s was settled by a sweep during its gate", study_id)
        return {"study": study_id, "skipped": "settled by a sweep"}
    except Exception as error:
        _fail(study, run, ERROR_NOTE.format(doing="The image gate", error=type(error).__name__))
        raise
    return {"study": study_id, "status": gated.status, **gated.deidentification_summary}


def dicomweb_pull_enqueue(
    *, source: DicomWebSource, by, study_uid: str = "", accession: str = ""
) -> ReceivedStudy:
    """Record a pull (:func:`receiver.pulling.pull_request`) and queue it; the study, in `by`'s inbox. An
    enqueue lost with this process is made again by a worker's sweep (:func:`_lost_enqueues_repeat`)."""
    study = pulling.pull_request(source=source, by=by, study_uid=study_uid, accession=accession)
    dicomweb_pull_task.enqueue(study.pk)  # the identifier asked for stays on the row, not in the task
    return study


@task()
def dicomweb_pull_task(study_id: int) -> dict:
    """Retrieve a requested pull (:func:`receiver.pulling.pull_retrieve`) and hand it to the gate; a pull
    that cannot be made fails with the reason on the study, for its owner to read in the inbox."""
    study = _claimed(study_id, Status.REQUESTED, Status.PULLING)
    if study is None:
        return {"study": study_id, "skipped": "not requested"}
    run = _this_run(study)
    try:
        with heartbeat(run):
            count = pulling.pull_retrieve(study=study, run=run)
    except pulling.PullError as error:
        _fail(study, run, str(error))
        return {"study": study_id, "failed": str(error)}
    except services.StudySettled:
        logger.warning("pulled study %s was settled by a sweep during its pull", study_id)
        return {"study": study_id, "skipped": "settled by a sweep"}
    except Exception as error:
        _fail(study, run, ERROR_NOTE.format(doing="The pull", error=type(error).__name__))
        raise
    # The gate's runs are counted afresh; the identifier asked for is not kept past the pull.
    handed = run.update(
        status=Status.PROCESSING, runs=0, heartbeat_at=timezone.now(), pull_study_uid="", pull_accession=""
    )
    if handed:
        received_study_gate_task.enqueue(study_id)
    return {"study": study_id, "retrieved": count}


# -- dead workers ---------------------------------------------------------------------------------


def received_jobs_sweep(**_kwargs) -> list[tuple[int, str]]:
    """Settle the studies whose worker died while pulling or gating them; (study id, new status) for each.
    A receiver of :data:`imaging.jobs.worker_sweep` (with the purge, :func:`purge_on_worker_sweep`)."""
    _lost_enqueues_repeat()
    settled = []
    for study in stale_jobs(ReceivedStudy.objects.filter(status__in=[Status.PULLING, Status.GATING])):
        status = _dead_settle(study)
        if status:
            settled.append((study.pk, status))
    _failed_leftovers_remove()
    services.received_files_sweep()
    return settled


def _failed_leftovers_remove() -> None:
    """Remove what is left of failed studies: a study is failed first, then its files are removed, and a
    process that stops in between leaves them to this."""
    for study in ReceivedStudy.objects.filter(status=Status.FAILED, instances__isnull=False).distinct():
        services.received_files_remove(study=study)


def _dead_settle(study: ReceivedStudy) -> str:
    """Run the dead run's study again, or fail it; the new status ("" if another sweeper settled it)."""
    run = _this_run(study)
    pulling_it = study.status == Status.PULLING
    doing = "pulling" if pulling_it else "gating"
    if study.runs >= MAX_RUNS or not (pulling_it or _originals_kept(study)):
        if not _fail(study, run, DEAD_NOTE.format(doing=doing, runs=study.runs)):
            return ""
        logger.warning("received study %s: its worker died while %s it; failed", study.pk, doing)
        return Status.FAILED
    waiting = Status.REQUESTED if pulling_it else Status.PROCESSING
    if not run.update(
        status=waiting, status_note=RERUN_NOTE.format(doing=doing), heartbeat_at=timezone.now()
    ):
        return ""
    if pulling_it:  # a pull starts again from nothing: what the dead one spooled goes
        services.received_files_remove(study=study)
    (dicomweb_pull_task if pulling_it else received_study_gate_task).enqueue(study.pk)
    logger.warning("received study %s: its worker died while %s it; queued again", study.pk, doing)
    return waiting


def _originals_kept(study: ReceivedStudy) -> bool:
    """Every instance still waiting for the gate has its original in quarantine."""
    storage = quarantine()
    waiting = study.instances.filter(status=ReceivedInstance.Status.QUARANTINED)
    return all(storage.exists(name) for name in waiting.values_list("quarantine_file", flat=True))


def _lost_enqueues_repeat() -> None:
    """Enqueue again the studies waiting longer than :data:`QUEUED_GRACE` for a worker (an enqueue lost
    with the process that made it): a task for a study already taken does nothing, and the refreshed
    heartbeat keeps it to one repeat per grace period."""
    now = timezone.now()
    tasks = {Status.REQUESTED: dicomweb_pull_task, Status.PROCESSING: received_study_gate_task}
    waiting = ReceivedStudy.objects.filter(status__in=list(tasks))
    for study in waiting.filter(heartbeat_at__lt=now - QUEUED_GRACE):
        if waiting.filter(pk=study.pk, heartbeat_at=study.heartbeat_at).update(heartbeat_at=now):
            tasks[study.status].enqueue(study.pk)


def purge_on_worker_sweep(sender, **kwargs) -> None:
    """Every task worker's sweep (``imaging.jobs.worker_sweep``: at start and every UPLOAD_SWEEP_SECONDS)
    settles the studies of dead workers, then purges received studies past ``RECEIVED_STUDY_DAYS``: the
    task framework has no scheduler of its own."""
    received_jobs_sweep()
    services.received_purge()
