"""A received study whose worker dies: every worker's sweep (``imaging.jobs.worker_sweep``) runs its gate or
its pull again, or fails it with its files removed, and the inbox says which. A worker's death is played by
a KeyboardInterrupt out of the gate (the immediate backend lets it through, as a SIGKILL leaves the task
unfinished); the same with real ``db_worker`` processes killed by SIGKILL is in test_receiver_worker.py."""

import os
import socket
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from imaging.jobs import worker_sweep
from imaging.quarantine import quarantine_storage
from receiver import pulling, services, tasks
from receiver.handover import studies_hand_over
from receiver.models import DicomWebSource, ReceivedInstance, ReceivedStudy
from receiver.spooling import study_folder
from tests.helpers.receiver import quarantined_files, sample, spool

pytest_plugins = ["tests.helpers.receiver_fixtures"]
pytestmark = pytest.mark.django_db(transaction=True)


def three_slices() -> list:
    slices = [sample("CT_small.dcm", InstanceNumber=n) for n in (1, 2, 3)]
    for n, ds in enumerate(slices[1:], start=2):
        ds.SOPInstanceUID = f"{slices[0].SOPInstanceUID}.{n}"
    return slices


def files_in(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def dies_on_second_instance(monkeypatch):
    """The gate's worker dies as it prepares the study's second instance (once)."""
    real = services.prepare
    calls = []

    def prepare(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("the worker was killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "prepare", prepare)


def died_mid_gate(sender) -> ReceivedStudy:
    """A study whose gate died after its first instance, its heartbeat now stale; that instance's original
    still in quarantine, and an orphan file in its folder, as a worker leaves them that dies between
    writing a row and deleting the original, or between storing a file and writing its row."""
    study = spool(sender, *three_slices())
    with pytest.raises(KeyboardInterrupt):
        studies_hand_over(stable_seconds=0)
    study.refresh_from_db()
    assert (study.status, study.runs) == ("gating", 1)
    finished = study.instances.get(status="accepted")
    # Killed between writing the finished instance's row and deleting its original: the original stays.
    assert (
        quarantine_storage().save(finished.quarantine_file, ContentFile(b"DICM")) == finished.quarantine_file
    )
    default_storage.save(f"{study_folder(study.pk)}/orphan.dcm", ContentFile(b"half"))
    ReceivedStudy.objects.filter(pk=study.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    return study


def test_a_gate_whose_worker_died_runs_again_and_finishes_the_rest(
    sender, quarantine_root, media_root, dies_on_second_instance
):
    study = died_mid_gate(sender)
    first = study.instances.get(status="accepted").file.name
    assert tasks.received_jobs_sweep() == [(study.pk, "processing")]  # the immediate backend gates it now
    study.refresh_from_db()
    assert (study.status, study.runs, study.status_note) == ("ready", 2, "")
    assert list(study.instances.values_list("status", flat=True)) == ["accepted"] * 3
    assert study.instances.get(file=first)  # the first run's instance is kept, not gated twice
    assert study.deidentification_summary["accepted"] == 3
    assert quarantined_files(quarantine_root) == []
    named = {
        name for instance in study.instances.all() for name in (instance.file.name, instance.thumbnail.name)
    }
    stored = {str(p.relative_to(media_root)) for p in files_in(media_root)}
    assert stored == named - {""}  # the orphan went


@pytest.mark.parametrize("cause", ["second death", "original lost"])
def test_a_gate_that_cannot_run_again_fails_with_its_files_removed_and_the_inbox_says_why(
    client, cause, sender, quarantine_root, media_root, dies_on_second_instance
):
    study = died_mid_gate(sender)
    if cause == "second death":
        ReceivedStudy.objects.filter(pk=study.pk).update(runs=tasks.MAX_RUNS)
    else:
        waiting = study.instances.filter(status="quarantined").first()
        (quarantine_root / waiting.quarantine_file).unlink()
    worker_sweep.send_robust(sender=None)  # as manage.py db_worker sends it
    study.refresh_from_db()
    assert study.status == "failed"
    assert "A worker stopped while gating this study" in study.status_note
    assert "its files were removed" in study.status_note
    assert not study.instances.exists()
    assert files_in(media_root) == [] and quarantined_files(quarantine_root) == []
    client.force_login(sender.author)
    inbox = client.get(reverse("admin:receiver_receivedstudy_changelist"))
    assert b"A worker stopped while gating this study" in inbox.content
    with pytest.raises(services.ReceiverError, match="This study failed"):
        services.received_study_draft_create(study=study, by=sender.author)


def test_a_stalled_run_that_a_sweep_settled_stores_nothing_more(sender, quarantine_root, media_root):
    study = spool(sender, *three_slices())
    ReceivedStudy.objects.filter(pk=study.pk).update(status="gating", runs=1)
    stalled = ReceivedStudy.objects.filter(pk=study.pk, status="gating", runs=1)
    ReceivedStudy.objects.filter(pk=study.pk).update(runs=2)  # a sweep ran it again meanwhile
    with pytest.raises(services.StudySettled):
        services.received_study_gate(study_id=study.pk, run=stalled)
    assert study.instances.filter(status="quarantined").count() == 3
    assert len(quarantined_files(quarantine_root)) == 3 and files_in(media_root) == []


def test_a_study_nothing_of_which_passes_the_gate_fails_with_the_reasons(sender, quarantine_root):
    broken = sample("CT_small.dcm")
    broken.Rows = 4096  # the pixel data no longer holds what the header declares
    study = spool(sender, broken)
    studies_hand_over(stable_seconds=0)
    study.refresh_from_db()
    assert study.status == "failed"
    assert study.status_note.startswith("No instance passed the image gate: ")
    assert study.instances.get().reason in study.status_note
    assert quarantined_files(quarantine_root) == []


def test_an_error_in_the_gate_fails_the_study_and_removes_its_files(
    sender, quarantine_root, media_root, monkeypatch
):
    def broken(*args):
        raise OSError("the disk is full")

    monkeypatch.setattr(services, "_thumbnails_make", broken)
    study = spool(sender, *three_slices())
    studies_hand_over(stable_seconds=0)  # the immediate backend records the task's error
    study.refresh_from_db()
    assert (study.status, study.status_note) == (
        "failed",
        "The image gate stopped with an error (OSError); the study's files were removed.",
    )
    assert files_in(media_root) == [] and quarantined_files(quarantine_root) == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pull(faculty):
    """A pull that a worker died on while retrieving it (one instance spooled), from a source that is down."""
    source = DicomWebSource.objects.create(name="down", url=f"http://127.0.0.1:{closed_port()}/dicom-web")
    study = pulling.pull_request(source=source, by=faculty, accession="ACC-PLANTED-1")
    ReceivedStudy.objects.filter(pk=study.pk).update(
        status="pulling", runs=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    name = quarantine_storage().save(f"{study_folder(study.pk)}/spooled.dcm", ContentFile(b"DICM"))
    ReceivedInstance.objects.create(
        study=study,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        quarantine_file=name,
        received_at=timezone.now(),
    )
    return study


def test_a_pull_whose_worker_died_runs_again_from_nothing(pull, quarantine_root):
    assert tasks.received_jobs_sweep() == [(pull.pk, "requested")]
    pull.refresh_from_db()  # run again at once by the immediate backend: the source is down
    assert (pull.status, pull.status_note) == (
        "failed",
        "The source could not be reached (no connection to its address).",
    )
    assert (pull.pull_accession, pull.pull_hint) == ("", "accession number ending …ED-1")
    assert not pull.instances.exists() and quarantined_files(quarantine_root) == []


def test_a_pull_whose_worker_died_twice_fails(pull, quarantine_root):
    ReceivedStudy.objects.filter(pk=pull.pk).update(runs=tasks.MAX_RUNS)
    assert tasks.received_jobs_sweep() == [(pull.pk, "failed")]
    pull.refresh_from_db()
    assert pull.status_note.startswith("A worker stopped while pulling this study, 2 times")
    assert not ReceivedInstance.objects.exists() and quarantined_files(quarantine_root) == []


def test_a_study_whose_enqueue_was_lost_is_enqueued_again(sender):
    study = spool(sender, sample("CT_small.dcm"))
    long_ago = timezone.now() - tasks.QUEUED_GRACE - timedelta(minutes=1)
    ReceivedStudy.objects.filter(pk=study.pk).update(status="processing", heartbeat_at=long_ago)
    assert tasks.received_jobs_sweep() == []  # nothing was running: nothing to settle
    study.refresh_from_db()
    assert study.status == "ready"  # its task, enqueued again, ran


def test_the_sweep_removes_what_a_failed_study_left(sender, quarantine_root, media_root):
    """A process stopped between failing a study and removing its files leaves them to the next sweep."""
    study = spool(sender, *three_slices())
    ReceivedStudy.objects.filter(pk=study.pk).update(status="failed", status_note="Failed.")
    assert len(quarantined_files(quarantine_root)) == 3
    tasks.received_jobs_sweep()
    assert not study.instances.exists() and quarantined_files(quarantine_root) == []
    assert ReceivedStudy.objects.get(pk=study.pk).status_note == "Failed."


def test_the_sweep_removes_files_a_stopped_process_left_and_nothing_else(sender, quarantine_root, media_root):
    study = spool(sender, sample("CT_small.dcm"))  # receiving: its spooled file is named by its row
    storage = quarantine_storage()
    stray, young = (
        storage.save("received/stray.dcm", ContentFile(b"x")),
        storage.save("received/young.dcm", ContentFile(b"x")),
    )
    long_ago = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(quarantine_root / stray, (long_ago, long_ago))  # the receiver stopped before its row
    gone = "received/0123456789abcdef0123456789abcdef"  # a discarded study's folder, left
    default_storage.save(f"{gone}/gated.dcm", ContentFile(b"x"))
    storage.save(f"{gone}/pulled.dcm", ContentFile(b"x"))
    default_storage.save(f"{study_folder(study.pk)}/kept.dcm", ContentFile(b"x"))
    tasks.received_jobs_sweep()
    assert not storage.exists(stray) and storage.exists(young)
    assert not default_storage.exists(f"{gone}/gated.dcm") and not storage.exists(f"{gone}/pulled.dcm")
    assert default_storage.exists(f"{study_folder(study.pk)}/kept.dcm")
    assert storage.exists(study.instances.get().quarantine_file)
