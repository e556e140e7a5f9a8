"""Uploads through the task queue, in one process: the tests' immediate backend runs each task as soon as
it is enqueued. The queue itself, with real worker processes, is tests/imaging/test_upload_queue_worker.py."""

import io
import os
import zipfile
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from PIL import Image as PILImage

import config.settings
from cases.models import Case
from imaging import ingest_tasks
from imaging.demo import SAMPLE_DIR
from imaging.ingest_tasks import MAX_RUNS, upload_enqueue, uploads_sweep
from imaging.inputs import InputFile
from imaging.jobs import cache_table_create
from imaging.models import Image, Upload
from imaging.quarantine import quarantine_save, quarantine_storage, quarantine_sweep
from imaging.rendering import render_path
from imaging.services import images_ingest, series_create
from tests.helpers.viewer import post_upload, series_admin_form

pytestmark = pytest.mark.django_db

MR = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
# Another MR file: the series is MR, and the gate refuses a file of another modality.
MR_RLE = (SAMPLE_DIR / "MR_small_RLE.dcm").read_bytes()


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (20, 10), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def series(make_case, faculty, diagnosis):
    case = make_case(
        slug="queue-case", author=faculty, status=Case.Status.DRAFT, final_diagnosis=diagnosis("Chordoma")
    )
    return series_create(case=case, label="Axial T1", modality="MR")


def quarantined(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored(media_root) -> list[str]:
    folder = media_root / "images"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- The admin upload answers at once ---------------------------------------------------------------------


def test_the_admin_upload_answers_at_once_with_its_page_and_quarantines_the_originals(
    client, editor, series, media_root, quarantine_root, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    files = [SimpleUploadedFile("DOE_JANE.dcm", MR), SimpleUploadedFile("b.png", png())]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, upload=files)
        )
    upload = series.uploads.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/imaging/upload/{upload.pk}/progress/"
    # Nothing is de-identified in the request: the originals wait in quarantine, under neutral names.
    assert (upload.status, upload.total, upload.done) == ("queued", 2, 0)
    assert quarantined(quarantine_root) == [
        f"uploads/{upload.pk}/00001.dcm",
        f"uploads/{upload.pk}/00002.png",
    ]
    assert stored(media_root) == [] and Image.objects.count() == 0
    assert len(callbacks) >= 1  # the ingest is enqueued once the request commits

    page = client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page  # reloads itself until done
    assert "0 of 2 file(s) done" in page and "2 file(s) queued (1 DOE_JANE.dcm, 2 b.png)" in page

    for callback in callbacks:
        callback()  # what a worker does: the immediate backend runs the task at once
    upload.refresh_from_db()
    assert (upload.status, upload.done, upload.accepted, upload.rejected) == ("done", 2, 2, 0)
    assert quarantined(quarantine_root) == []
    assert len(stored(media_root)) == 2
    page = client.get(response["Location"]).content.decode()
    assert "http-equiv" not in page and "2 of 2 file(s) done: 2 accepted, 0 rejected." in page
    assert "DOE_JANE" not in page  # the names were said once, in the answer to the upload


def test_the_stored_report_and_the_json_never_name_an_uploaded_file(
    client, editor, series, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    files = [SimpleUploadedFile("DOE_JANE_MRN123.dcm", b"not dicom at all")]
    url, data = f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, upload=files)
    post_upload(client, url, data, django_capture_on_commit_callbacks)
    upload = series.uploads.get()
    figures = client.get(f"/admin/imaging/upload/{upload.pk}/progress.json").json()
    assert figures["status"] == "done" and (figures["done"], figures["total"]) == (1, 1)
    assert figures["rejections"][0]["reason"] == "not a DICOM file"
    assert "DOE" not in str(figures) and "DOE" not in str(Upload.objects.values())


@pytest.mark.parametrize(("role", "status"), [("editor", 200), ("faculty", 200), ("other_faculty", 404)])
def test_the_upload_page_is_for_those_who_may_edit_its_case(client, request, series, role, status):
    upload = Upload.objects.create(series=series, status=Upload.Status.QUEUED, total=3)
    client.force_login(request.getfixturevalue(role))
    assert client.get(f"/admin/imaging/upload/{upload.pk}/progress/").status_code == status
    assert client.get(f"/admin/imaging/upload/{upload.pk}/progress.json").status_code == status


def test_the_upload_page_is_closed_to_residents_and_to_the_author_once_the_case_is_submitted(
    client, resident, faculty, series
):
    upload = Upload.objects.create(series=series, status=Upload.Status.QUEUED, total=3)
    url = f"/admin/imaging/upload/{upload.pk}/progress/"
    client.force_login(resident)
    assert client.get(url).status_code == 302  # to the admin's log-in: no staff access
    Case.objects.filter(pk=series.study.case_id).update(status=Case.Status.IN_REVIEW)
    client.force_login(faculty)
    assert client.get(url).status_code == 404  # frozen for its author, as the series is


def test_each_original_leaves_quarantine_as_soon_as_its_file_is_handled(series, monkeypatch):
    """The second original still waits when the first file's outcome is known; it goes after its own."""
    seen = []
    real_ingest = ingest_tasks.images_ingest

    def watching(**kwargs):
        on_progress = kwargs["on_progress"]

        def progress(outcome):
            on_progress(outcome)
            storage = quarantine_storage()
            seen.append([storage.exists(name) for name in upload.quarantined])

        return real_ingest(**{**kwargs, "on_progress": progress})

    monkeypatch.setattr(ingest_tasks, "images_ingest", watching)
    files = [
        ContentFile(MR, name="a.dcm"),
        ContentFile(b"junk", name="b.dcm"),
        ContentFile(MR_RLE, name="c.dcm"),
    ]
    with override_settings(UPLOAD_HEARTBEAT_SECONDS=60):
        upload = upload_enqueue(series=series, files=files)
        # on_commit does not run inside the test's transaction: run the task as the worker would.
        ingest_tasks.upload_ingest.call(upload.pk)
    assert seen == [[False, True, True], [False, False, True], [False, False, False]]
    upload.refresh_from_db()
    assert (upload.status, upload.accepted, upload.rejected, upload.quarantined) == ("done", 2, 1, [])


def test_a_zip_leaves_quarantine_once_all_its_entries_are_handled(series, quarantine_root):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("one.dcm", MR)
        archive.writestr("two.dcm", MR_RLE)
    upload = upload_enqueue(series=series, files=[ContentFile(buffer.getvalue(), name="series.zip")])
    assert quarantined(quarantine_root) == [f"uploads/{upload.pk}/00001.zip"]
    ingest_tasks.upload_ingest.call(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.total, upload.done, upload.accepted) == ("done", 1, 1, 2)
    assert quarantined(quarantine_root) == []


def test_a_task_for_an_upload_that_is_not_queued_does_nothing(series):
    upload = Upload.objects.create(series=series, status=Upload.Status.DONE, total=1, done=1)
    assert ingest_tasks.upload_ingest.call(upload.pk)["skipped"] == "not queued"
    assert ingest_tasks.upload_ingest.call(upload.pk + 1000)["skipped"] == "not queued"


def test_an_upload_renders_its_thumbnails_and_the_opening_frame_once_it_commits(
    client, editor, series, media_root, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    files = [SimpleUploadedFile("a.dcm", MR)]
    url, data = f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, upload=files)
    post_upload(client, url, data, django_capture_on_commit_callbacks)
    image = series.images.get()
    for name in ["thumb.png", "default-0.png", "default-0.thumb.png"]:
        assert default_storage.exists(render_path(image.pk, name)), name


# -- Dead workers -----------------------------------------------------------------------------------------


def running_upload(series, names: list[str], *, minutes_ago: int = 10, runs: int = 1) -> Upload:
    """An upload as a worker that died `minutes_ago` left it."""
    long_ago = timezone.now() - timedelta(minutes=minutes_ago)
    upload = Upload.objects.create(series=series, status=Upload.Status.RUNNING, runs=runs)
    files = [ContentFile(MR, name=name) for name in names]
    upload.quarantined = quarantine_save(upload_id=upload.pk, files=files)
    upload.total = len(names)
    last = Image.objects.filter(series=series).order_by("-pk").values_list("pk", flat=True).first() or 0
    upload.images_after, upload.started_at, upload.heartbeat_at = last, long_ago, long_ago
    upload.save()
    return upload


def test_the_sweep_runs_again_an_upload_whose_worker_died_before_handling_a_file(series, quarantine_root):
    upload = running_upload(series, ["a.dcm", "b.dcm"])
    assert uploads_sweep() == [(upload.pk, "queued")]  # and enqueued: the immediate backend runs it at once
    upload.refresh_from_db()
    assert (upload.status, upload.runs, upload.accepted) == ("done", 2, 2)
    assert "queued to run again" in upload.status_note
    assert quarantined(quarantine_root) == []


def test_the_sweep_fails_an_upload_whose_worker_died_midway_and_removes_what_it_stored(
    client, editor, series, media_root, quarantine_root, settings
):
    settings.UPLOAD_STALE_SECONDS = 1
    kept = images_ingest(series=series, files=[InputFile("kept.dcm", MR_RLE)]).upload  # an earlier upload
    upload = running_upload(series, ["a.dcm", "b.dcm", "c.dcm"])
    quarantine_storage().delete(upload.quarantined[0])  # the first file was handled...
    # ...and stored with its row (a committed batch), and the second stored without one (never committed).
    partial = images_ingest(series=series, files=[InputFile("a.dcm", MR)]).upload
    Upload.objects.filter(pk=partial.pk).delete()  # the dead run had not recorded its report yet
    default_storage.save("images/unnamed.dcm", ContentFile(b"a file whose row never committed"))
    # A file another process stored well after the dead run's last heartbeat is not the dead run's.
    default_storage.save("images/later.dcm", ContentFile(b"another ingest's, not yet committed"))
    later = (timezone.now() + timedelta(hours=1)).timestamp()
    os.utime(default_storage.path("images/later.dcm"), (later, later))
    now = timezone.now()
    Upload.objects.filter(pk=upload.pk).update(
        started_at=now - timedelta(seconds=10), heartbeat_at=now - timedelta(seconds=2)
    )
    upload.refresh_from_db()
    assert len(stored(media_root)) == 4

    assert uploads_sweep() == [(upload.pk, "failed")]
    upload.refresh_from_db()
    assert upload.status == "failed" and "the 1 image(s) it had stored were removed" in upload.status_note
    assert list(series.images.values_list("pk", flat=True)) == [kept.report[0]["image_id"]]
    assert stored(media_root) == sorted([Image.objects.get().file.name.split("/")[1], "later.dcm"])
    assert quarantined(quarantine_root) == [] and upload.quarantined == []
    client.force_login(editor)
    page = client.get(f"/admin/imaging/upload/{upload.pk}/progress/").content.decode()
    assert "<strong>Failed:</strong> A worker stopped during this upload" in page
    assert "http-equiv" not in page
    # The series page lists it as failed, linking to its page, with no count of images it no longer has.
    series_page = client.get(f"/admin/imaging/series/{series.pk}/change/").content.decode()
    assert (
        f'<a href="/admin/imaging/upload/{upload.pk}/progress/">Failed</a>, 0 of 3 file(s) handled.'
        in series_page
    )


def test_an_upload_that_killed_its_worker_twice_is_not_run_a_third_time(series):
    upload = running_upload(series, ["a.dcm"], runs=MAX_RUNS)
    assert uploads_sweep() == [(upload.pk, "failed")]


def test_the_sweep_leaves_live_uploads_and_waits_while_one_runs(series):
    dead = running_upload(series, ["a.dcm"])
    live = running_upload(series, ["b.dcm"], minutes_ago=0)
    assert uploads_sweep() == []  # a live run's files are not all named by rows yet: wait
    live.delete()
    assert uploads_sweep() == [(dead.pk, "queued")]


def test_an_error_in_the_ingest_fails_the_upload_and_removes_its_committed_images(series, monkeypatch):
    real_ingest = ingest_tasks.images_ingest

    def failing(**kwargs):
        # A batch committed, then a failure before the ingest recorded its report.
        recorded = real_ingest(**{**kwargs, "files": [InputFile("x.dcm", MR)]}).upload
        Upload.objects.filter(pk=recorded.pk).delete()
        raise OSError("disk full")

    monkeypatch.setattr(ingest_tasks, "images_ingest", failing)
    upload = upload_enqueue(series=series, files=[ContentFile(MR, name="a.dcm")])
    with pytest.raises(OSError):
        ingest_tasks.upload_ingest.call(upload.pk)
    upload.refresh_from_db()
    assert upload.status == "failed" and "OSError" in upload.status_note
    assert series.images.count() == 0


def test_the_sweep_enqueues_again_an_upload_whose_enqueue_was_lost(series):
    upload = upload_enqueue(series=series, files=[ContentFile(MR, name="a.dcm")])  # on_commit never runs here
    assert uploads_sweep() == [] and Upload.objects.get(pk=upload.pk).status == "queued"  # not yet lost
    Upload.objects.filter(pk=upload.pk).update(heartbeat_at=timezone.now() - timedelta(hours=2))
    uploads_sweep()  # enqueued again: the immediate backend runs it at once
    upload.refresh_from_db()
    assert (upload.status, upload.accepted) == ("done", 1)


def test_a_run_that_a_sweep_settled_while_its_worker_stalled_keeps_nothing(series, monkeypatch):
    """A worker frozen past the stale limit (no heartbeat) that wakes to finish: the sweep has failed the
    upload meanwhile, so what the late run stored goes, and the page keeps saying failed."""
    real_ingest = ingest_tasks.images_ingest

    def stalled(**kwargs):
        result = real_ingest(**kwargs)
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.FAILED, status_note="swept")
        return result

    monkeypatch.setattr(ingest_tasks, "images_ingest", stalled)
    upload = upload_enqueue(series=series, files=[ContentFile(MR, name="a.dcm")])
    ingest_tasks.upload_ingest.call(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.status_note) == ("failed", "swept")
    assert series.images.count() == 0 and list(series.uploads.all()) == [upload]


# -- Quarantine -------------------------------------------------------------------------------------------


def test_the_quarantine_sweep_removes_what_finished_or_unknown_uploads_left(series, quarantine_root):
    storage = quarantine_storage()
    waiting = Upload.objects.create(series=series, status=Upload.Status.QUEUED)
    finished = Upload.objects.create(series=series, status=Upload.Status.FAILED)
    for folder in [waiting.pk, finished.pk, 999_999, 999_998]:
        storage.save(f"uploads/{folder}/00001.dcm", ContentFile(b"original"))
    old = timezone.now() - timedelta(hours=2)
    os.utime(storage.path("uploads/999998/00001.dcm"), (old.timestamp(), old.timestamp()))
    assert quarantine_sweep() == 2
    # Kept: a queued upload's, and an unknown upload's fresh file (its request may not have committed).
    assert quarantined(quarantine_root) == [f"uploads/{waiting.pk}/00001.dcm", "uploads/999999/00001.dcm"]


def test_quarantine_is_a_storage_of_its_own_outside_media(settings):
    options = config.settings.STORAGES["quarantine"]["OPTIONS"]
    assert config.settings.QUARANTINE_STORAGE == "quarantine"
    assert not str(options["location"]).startswith(str(config.settings.MEDIA_ROOT))


# -- import_images --background ----------------------------------------------------------------------------


def test_import_images_in_the_background_queues_the_files_and_says_where_to_follow(
    series, tmp_path, quarantine_root, capsys, django_capture_on_commit_callbacks
):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(MR)
    (folder / "b.dcm").write_bytes(b"junk")
    with django_capture_on_commit_callbacks() as callbacks:
        call_command(
            "import_images",
            "queue-case",
            str(folder),
            "--series",
            "Axial T1",
            "--caption",
            "Sagittal",
            "--background",
        )
    upload = series.uploads.get()
    out = capsys.readouterr().out
    assert f"Queued upload {upload.pk}: 2 file(s) into series 'Axial T1'" in out
    assert f"/admin/imaging/upload/{upload.pk}/progress/" in out
    assert upload.status == "queued" and series.images.count() == 0
    assert len(quarantined(quarantine_root)) == 2
    for callback in callbacks:
        callback()
    upload.refresh_from_db()
    assert (upload.status, upload.accepted, upload.rejected) == ("done", 1, 1)
    assert series.images.get().caption == "Sagittal"


# -- Settings ---------------------------------------------------------------------------------------------


def test_tasks_go_to_the_database_queue_and_the_cache_is_shared_by_default():
    assert config.settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    if "REDIS_URL" not in os.environ:
        assert config.settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    if config.settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        options = config.settings.DATABASES["default"]["OPTIONS"]
        assert options["transaction_mode"] == "IMMEDIATE" and "journal_mode=WAL" in options["init_command"]


def test_migrate_makes_the_database_cache_table(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t_cache"}
    }
    assert "t_cache" not in connection.introspection.table_names()
    cache_table_create(sender=None, using="default", verbosity=0)
    assert "t_cache" in connection.introspection.table_names()
    caches["default"].set("shared", 1)
    assert caches["default"].get("shared") == 1
