"""Bundle jobs: who may follow them, what an export asks again when it runs, how long its file is kept,
and what the sweep does with the jobs of dead workers (the immediate backend runs each task at once)."""

import io
import os
from datetime import timedelta
from zipfile import ZipFile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.test import Client
from django.utils import timezone

from bundles import tasks
from bundles.models import BundleJob
from bundles.services import ImportReport, export_bundle
from bundles.tasks import (
    DEAD_NOTE,
    NOTHING_TO_EXPORT,
    bundle_export_enqueue,
    bundle_files_sweep,
    bundle_import_enqueue,
    bundle_jobs_sweep,
    bundle_storage,
    export_keep,
)
from cases.models import Case
from imaging.ingest_tasks import uploads_sweep
from imaging.models import Upload
from imaging.services import series_create
from tests.helpers.bundle_jobs import (
    HAEMANGIOMA,
    as_user,
    export_action,
    job_of,
    quarantined_bundles,
    row_counts,
    seed_archive,
)
from tests.helpers.bundles import empty_the_archive, media_files

pytestmark = pytest.mark.django_db

DRAFT = Case.Status.DRAFT


@pytest.fixture
def archive(seeded):
    return seed_archive()


def page_url(job: BundleJob) -> str:
    return f"/admin/cases/case/bundle-jobs/{job.pk}/"


def download_url(job: BundleJob) -> str:
    return f"{page_url(job)}download/"


def stale(job: BundleJob, *, started: int = 10, beat: int = 2) -> BundleJob:
    """The job as a worker that died left it: running, started `started` seconds ago, its last heartbeat
    `beat` seconds ago (stale once UPLOAD_STALE_SECONDS is 1)."""
    now = timezone.now()
    BundleJob.objects.filter(pk=job.pk).update(
        status=BundleJob.Status.RUNNING,
        started_at=now - timedelta(seconds=started),
        heartbeat_at=now - timedelta(seconds=beat),
    )
    job.refresh_from_db()
    return job


def stored(media_root) -> list[str]:
    folder = media_root / "images"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- who may follow a job ----------------------------------------------------------------------------


def test_a_job_page_and_its_download_are_for_the_asker_and_editors(
    faculty, other_faculty, editor, resident, make_case
):
    case = make_case(author=faculty, status=DRAFT, slug="own-draft")
    client = as_user(faculty)
    job = job_of(export_action(client, case))
    assert (job.status, job.requested_by, job.total, job.done) == (BundleJob.Status.DONE, faculty, 1, 1)
    for user in (faculty, editor):
        assert as_user(user).get(page_url(job)).status_code == 200
        assert as_user(user).get(download_url(job)).status_code == 200
    # A colleague may not even learn that the job exists.
    for url in (page_url(job), download_url(job)):
        assert as_user(other_faculty).get(url).status_code == 404
        for response in (as_user(resident).get(url), Client().get(url)):
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_an_unfinished_job_reloads_its_page_and_offers_no_download(faculty, make_case):
    case = make_case(author=faculty, status=DRAFT)
    job = BundleJob.objects.create(
        kind=BundleJob.Kind.EXPORT, status=BundleJob.Status.RUNNING, requested_by=faculty, case_ids=[case.pk]
    )
    BundleJob.objects.filter(pk=job.pk).update(total=3, done=1)
    client = as_user(faculty)
    page = client.get(page_url(job)).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "1 of 3 case(s) written." in page and download_url(job) not in page
    assert client.get(download_url(job)).status_code == 404


# -- an export ---------------------------------------------------------------------------------------


def test_an_export_asks_again_which_cases_its_asker_may_see(faculty, other_faculty, make_case):
    own = make_case(author=faculty, status=DRAFT, slug="own")
    colleague = make_case(author=other_faculty, status=DRAFT, slug="colleague")
    # As if the colleague's case had been visible when the export was asked for.
    job = bundle_export_enqueue(case_ids=[own.pk, colleague.pk], by=faculty)
    job.refresh_from_db()
    assert (job.status, job.total, job.done) == (BundleJob.Status.DONE, 1, 1)
    with bundle_storage().open(job.export_file) as bundle, ZipFile(bundle) as content:
        assert content.namelist() == ["cases/own.json", "manifest.json"]

    job = bundle_export_enqueue(case_ids=[colleague.pk], by=faculty)
    job.refresh_from_db()
    assert (job.status, job.note, job.export_file) == (BundleJob.Status.FAILED, NOTHING_TO_EXPORT, "")
    page = as_user(faculty).get(page_url(job)).content.decode()
    assert NOTHING_TO_EXPORT.split(" (")[0] in page


def test_an_export_is_kept_for_downloads_then_deleted_by_the_sweep(faculty, make_case, quarantine_root):
    case = make_case(author=faculty, status=DRAFT)
    client = as_user(faculty)
    job = job_of(export_action(client, case))
    file = quarantine_root / job.export_file
    assert file.is_file()
    for _ in range(2):  # a download that failed half-way can be tried again
        assert client.get(download_url(job)).status_code == 200
    assert bundle_files_sweep() == 0 and file.is_file()

    BundleJob.objects.filter(pk=job.pk).update(finished_at=F("finished_at") - export_keep())
    assert bundle_files_sweep() == 1
    assert not file.exists()
    job.refresh_from_db()
    assert job.export_file == ""
    assert client.get(download_url(job)).status_code == 404
    assert "has been deleted: export it again" in client.get(page_url(job)).content.decode()


def test_the_sweep_removes_bundle_files_no_job_needs_once_they_are_old(quarantine_root):
    storage = bundle_storage()
    young = storage.save("bundle-imports/999998.zip", ContentFile(b"a request that may still commit"))
    old = storage.save("bundle-exports/999999.zip", ContentFile(b"a job that never committed"))
    long_ago = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(storage.path(old), (long_ago, long_ago))
    assert bundle_files_sweep() == 1
    assert storage.exists(young) and not storage.exists(old)


# -- dead workers ------------------------------------------------------------------------------------


def test_a_dead_import_is_failed_and_what_it_stored_is_removed(
    client, editor, media_root, quarantine_root, settings
):
    settings.UPLOAD_STALE_SECONDS = 1
    job = BundleJob.objects.create(kind=BundleJob.Kind.IMPORT, requested_by=editor, on_conflict="error")
    job.quarantined = bundle_storage().save(f"bundle-imports/{job.pk}.zip", ContentFile(b"PK"))
    job.save()
    # The database undid the dead import's rows; the image file it had stored stays, named by no row...
    default_storage.save("images/unnamed.dcm", ContentFile(b"stored by the dead import"))
    # ...and a file another process stored well after the dead run's last heartbeat is not the dead run's.
    default_storage.save("images/later.dcm", ContentFile(b"another ingest's, not yet committed"))
    later = (timezone.now() + timedelta(hours=1)).timestamp()
    os.utime(default_storage.path("images/later.dcm"), (later, later))
    stale(job)

    assert bundle_jobs_sweep() == [(job.pk, BundleJob.Status.FAILED)]
    job.refresh_from_db()
    assert (job.status, job.note) == (BundleJob.Status.FAILED, DEAD_NOTE.format(kind="import"))
    assert stored(media_root) == ["later.dcm"]
    assert job.quarantined == "" and quarantined_bundles(quarantine_root) == []
    assert bundle_jobs_sweep() == []  # settled once
    client.force_login(editor)
    page = client.get(page_url(job)).content.decode()
    assert "A worker stopped during this import: it failed, and nothing of it was kept." in page
    assert "http-equiv" not in page


def test_the_sweep_waits_while_an_import_or_an_upload_runs_live_but_fails_a_dead_export_at_once(
    editor, faculty, make_case, settings
):
    settings.UPLOAD_STALE_SECONDS = 1
    soon = timezone.now() + timedelta(minutes=1)  # a heartbeat that stays fresh while the test runs
    dead_import = stale(BundleJob.objects.create(kind=BundleJob.Kind.IMPORT, requested_by=editor))
    dead_export = stale(BundleJob.objects.create(kind=BundleJob.Kind.EXPORT, requested_by=editor))
    live_import = BundleJob.objects.create(
        kind=BundleJob.Kind.IMPORT, status=BundleJob.Status.RUNNING, requested_by=editor, heartbeat_at=soon
    )
    # A live import's files are named by no committed row yet: neither sweep may take them for a dead run's.
    assert bundle_jobs_sweep() == [(dead_export.pk, BundleJob.Status.FAILED)]
    series = series_create(case=make_case(author=faculty, status=DRAFT), label="Axial T1", modality="MR")
    dead_upload = Upload.objects.create(
        series=series, status=Upload.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert uploads_sweep() == []
    dead_upload.delete()

    live_import.delete()
    live_upload = Upload.objects.create(series=series, status=Upload.Status.RUNNING, heartbeat_at=soon)
    assert bundle_jobs_sweep() == []  # nor while an upload runs live
    live_upload.delete()
    assert bundle_jobs_sweep() == [(dead_import.pk, BundleJob.Status.FAILED)]


def test_an_import_whose_job_a_sweep_failed_meanwhile_is_undone(
    archive,
    editor,
    media_root,
    quarantine_root,
    monkeypatch,
):
    """A worker frozen past the stale limit wakes to finish its import and finds its job failed: its last
    step inside the import's transaction raises, and the import is undone, stored image files included."""
    content = io.BytesIO()
    export_bundle(Case.objects.filter(slug=HAEMANGIOMA), content)
    empty_the_archive()
    before = row_counts()
    files_before = media_files(media_root)

    def settled_meanwhile(job, counts, report):
        # The sweep's commit is another transaction in real life; here the job is failed just before the
        # real last step, inside the import's, and so undone with it.
        tasks._fail(job, DEAD_NOTE.format(kind="import"))
        written.append((report.imported, len(media_files(media_root) - files_before)))
        real_done(job, counts, report)

    written = []
    real_done = tasks._import_done
    monkeypatch.setattr(tasks, "_import_done", settled_meanwhile)
    job = bundle_import_enqueue(
        bundle=SimpleUploadedFile("b.zip", content.getvalue()), on_conflict="error", by=editor
    )
    [(imported, new_files)] = written
    assert imported == [HAEMANGIOMA] and new_files > 0  # the import had written its case and stored images
    assert row_counts() == before
    assert media_files(media_root) == files_before
    assert quarantined_bundles(quarantine_root) == []
    assert BundleJob.objects.get(pk=job.pk).quarantined == ""


def test_the_last_step_of_an_import_refuses_a_job_no_longer_running(editor):
    job = BundleJob.objects.create(kind=BundleJob.Kind.IMPORT, status=BundleJob.Status.FAILED)
    with pytest.raises(tasks.JobSettled):
        tasks._import_done(job, {"total": 1}, ImportReport())
    assert BundleJob.objects.get(pk=job.pk).status == BundleJob.Status.FAILED


def test_every_worker_sweep_settles_bundle_jobs(editor, settings, monkeypatch):
    from imaging.management.commands import db_worker

    settings.UPLOAD_STALE_SECONDS = 1
    monkeypatch.setattr(db_worker.connection, "close", lambda: None)  # the sweep thread's own, not the test's
    job = stale(BundleJob.objects.create(kind=BundleJob.Kind.EXPORT, requested_by=editor))
    db_worker.sweep()
    assert BundleJob.objects.get(pk=job.pk).status == BundleJob.Status.FAILED
