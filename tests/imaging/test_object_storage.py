"""Media and the quarantine on object storage, against a real S3 server (SeaweedFS, started by these tests):
uploads, renders, the viewer's frames and values, deletions, sweeps and bundles all go through the
bucket, and nothing is written under MEDIA_ROOT or the quarantine folder.

Each test process that runs one of these tests starts one server for all it runs, on free ports of its own
(with ``make test``'s ``-n auto``, at most one per worker), and kills it at the end. Without the ``weed``
binary these tests fail: it comes with the dev extras, like every other test dependency.
"""

import io
import urllib.error
import urllib.request
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image as PILImage

from bundles.services import export_bundle, import_bundle
from cases.models import Case
from config.settings import object_storage
from imaging.demo import SAMPLE_DIR, demo_images_ensure
from imaging.ingest_tasks import uploads_sweep
from imaging.inputs import InputFile
from imaging.models import Image, Upload
from imaging.quarantine import quarantine_save, quarantine_sweep
from imaging.rendering import render_path
from imaging.services import images_ingest, series_create
from tests.helpers.bundles import empty_the_archive, media_files
from tests.helpers.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, seaweed_start
from tests.helpers.settings import run_settings
from tests.helpers.viewer import series_admin_form

pytestmark = pytest.mark.django_db

MR = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
CT = (SAMPLE_DIR / "CT_small.dcm").read_bytes()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    try:
        server = seaweed_start(tmp_path_factory.mktemp("seaweedfs"))
    except FileNotFoundError as missing:
        pytest.fail(str(missing))  # a missing server is a broken set-up, never a reason to skip
    yield server
    server.stop()


class ObjectStore:
    """One test's own part of the bucket (a prefix), switched on as the archive's storages by :meth:`use`."""

    def __init__(self, server, settings, monkeypatch):
        self.server, self.settings, self.monkeypatch = server, settings, monkeypatch
        self.prefix = f"test-{uuid.uuid4().hex[:12]}"

    def use(self) -> None:
        """Media and quarantine in the bucket, configured as the environment configures them."""
        self.monkeypatch.setenv("S3_ENDPOINT_URL", self.server.endpoint_url)
        self.monkeypatch.setenv("S3_ACCESS_KEY_ID", ACCESS_KEY)
        self.monkeypatch.setenv("S3_SECRET_ACCESS_KEY", SECRET_KEY)
        self.settings.STORAGES = {
            **self.settings.STORAGES,
            "default": object_storage(BUCKET, f"{self.prefix}/media"),
            "quarantine": object_storage(BUCKET, f"{self.prefix}/quarantine"),
        }

    def _names(self, folder: str) -> set[str]:
        start = f"{self.prefix}/{folder}/"
        return {key.removeprefix(start) for key in self.server.keys(start)}

    def media(self) -> set[str]:
        return self._names("media")

    def quarantine(self) -> set[str]:
        return self._names("quarantine")

    def write(self, name: str, content: bytes) -> None:
        self.server.client().put_object(Bucket=BUCKET, Key=f"{self.prefix}/media/{name}", Body=content)


@pytest.fixture
def object_store(seaweed, settings, monkeypatch):
    return ObjectStore(seaweed, settings, monkeypatch)


@pytest.fixture
def bucket(object_store):
    object_store.use()
    return object_store


@pytest.fixture
def local_files(media_root, quarantine_root):
    """Everything written under MEDIA_ROOT and the quarantine folder: nothing, with object storage."""
    return lambda: media_files(media_root) | media_files(quarantine_root)


@pytest.fixture
def series(make_case, faculty, diagnosis):
    case = make_case(
        slug="bucket-case", author=faculty, status=Case.Status.DRAFT, final_diagnosis=diagnosis("Chordoma")
    )
    return series_create(case=case, label="Axial T1", modality="MR")


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (20, 10), "white").save(buffer, "PNG")
    return buffer.getvalue()


# -- Settings from the environment ------------------------------------------------------------------------


def test_the_environment_puts_media_and_the_quarantine_in_a_private_bucket(seaweed, tmp_path):
    env = {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "QUARANTINE_ROOT": str(tmp_path / "quarantine"),
    }
    name = f"checks/{uuid.uuid4().hex}.txt"
    code = (
        "from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage, storages; "
        f"print(default_storage.save({name!r}, ContentFile(b'media'))); "
        f"print(storages['quarantine'].save({name!r}, ContentFile(b'original')))"
    )
    result = run_settings(env, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [name, name]
    client = seaweed.client()
    assert client.get_object(Bucket=BUCKET, Key=f"media/{name}")["Body"].read() == b"media"
    assert client.get_object(Bucket=BUCKET, Key=f"quarantine/{name}")["Body"].read() == b"original"
    assert not (tmp_path / "media").exists() and not (tmp_path / "quarantine").exists()
    # The bucket answers no one without the keys...
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{seaweed.endpoint_url}/{BUCKET}/media/{name}", timeout=10)
    assert refused.value.code == 403
    # ...and these keys are the ones the archive signs with: a wrong secret is refused.
    wrong = run_settings({**env, "S3_SECRET_ACCESS_KEY": "not-the-secret"}, code)
    assert wrong.returncode != 0 and "SignatureDoesNotMatch" in wrong.stderr


# -- Upload, render, view ---------------------------------------------------------------------------------


def test_an_admin_upload_waits_in_the_bucket_quarantine_and_is_stored_and_rendered_in_the_bucket(
    client, editor, series, bucket, local_files, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    files = [SimpleUploadedFile("DOE_JANE.dcm", MR), SimpleUploadedFile("b.png", png())]
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, upload=files)
        )
    upload = series.uploads.get()
    assert response.status_code == 302
    assert bucket.quarantine() == {f"uploads/{upload.pk}/00001.dcm", f"uploads/{upload.pk}/00002.png"}
    assert bucket.media() == set()

    with django_capture_on_commit_callbacks(execute=True):  # the worker's part, and what it enqueues
        for callback in queued:
            callback()
    upload.refresh_from_db()
    assert (upload.status, upload.accepted, upload.rejected) == ("done", 2, 0)
    assert bucket.quarantine() == set()
    images = list(series.images.all())
    stored = bucket.media()
    assert {image.file.name for image in images} <= stored
    # The first renders, made by the task the finished upload enqueued.
    dicom = next(image for image in images if image.kind == Image.Kind.DICOM)
    for name in ["thumb.png", "default-0.png", "default-0.thumb.png"]:
        assert render_path(dicom.pk, name) in stored, name
    assert not any("DOE" in name for name in stored)
    assert local_files() == set()


def test_the_viewer_is_answered_from_the_bucket_after_the_permission_check(
    client, make_case, diagnosis, resident, editor, bucket, local_files
):
    case = make_case(slug="bucket-ct", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial CT", modality="CT")
    images_ingest(series=series, files=[InputFile("ct.dcm", CT)])
    image = series.images.get()
    urls = {
        "default-0.png": f"/images/{image.pk}/default/0.png",
        "bone-0.png": f"/images/{image.pk}/bone/0.png",
        "default-0.thumb.png": f"/images/{image.pk}/default/0.thumb.png",
        "thumb.png": f"/images/{image.pk}/thumb.png",
        "values-0.bin": f"/images/{image.pk}/values/0.raw",
    }
    client.force_login(resident)
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, url  # the bytes themselves: never a redirect to the bucket
        if name.endswith(".png"):
            assert PILImage.open(io.BytesIO(response.content)).format == "PNG"
        else:
            assert len(response.content) > 0 and "width" in response["X-Frame"]
    assert {render_path(image.pk, name) for name in urls} <= bucket.media()
    # A cached render is read back from the bucket, not made again.
    marked = png()
    bucket.write(render_path(image.pk, "default-0.png"), marked)
    assert client.get(urls["default-0.png"]).content == marked

    page = client.get(f"/cases/{case.slug}/")
    assert bucket.server.endpoint_url.encode() not in page.content
    assert "img-src 'self' data:" in page["Content-Security-Policy"]

    # Once the case is a draft, the resident gets nothing of it; its editor still does.
    Case.objects.filter(pk=case.pk).update(status=Case.Status.DRAFT, published_at=None)
    for url in urls.values():
        assert client.get(url).status_code == 404, url
    client.force_login(editor)
    assert client.get(urls["default-0.png"]).status_code == 200
    for page in [f"/admin/imaging/image/{image.pk}/change/", f"/admin/imaging/series/{series.pk}/change/"]:
        answer = client.get(page)
        assert answer.status_code == 200 and bucket.server.endpoint_url.encode() not in answer.content, page
    assert local_files() == set()


def test_a_cached_frame_is_read_from_the_bucket_with_no_existence_check_first(
    client, make_case, resident, bucket
):
    case = make_case(slug="bucket-requests")
    series = series_create(case=case, label="Axial CT", modality="CT")
    images_ingest(series=series, files=[InputFile("ct.dcm", CT)])
    image = series.images.get()
    client.force_login(resident)
    requests = []
    events = default_storage.connection.meta.client.meta.events
    events.register("before-send.s3", lambda request, **_: requests.append(request.method))
    for url in [f"/images/{image.pk}/default/0.png", f"/images/{image.pk}/values/0.raw"]:
        assert client.get(url).status_code == 200
        requests.clear()
        assert client.get(url).status_code == 200
        # Opening the file (django-storages asks for its head) and its download (s3transfer asks for its
        # size, then gets it): no existence check of the archive's own before them.
        assert requests == ["HEAD", "HEAD", "GET"], url


# -- Deletion and sweeps ----------------------------------------------------------------------------------


def test_deleting_a_case_takes_its_files_and_renders_out_of_the_bucket_once_committed(
    client, make_case, bucket, local_files, django_capture_on_commit_callbacks
):
    kept_case, gone_case = make_case(slug="kept"), make_case(slug="gone")
    for case in (kept_case, gone_case):
        series = series_create(case=case, label="Axial T1", modality="MR")
        images_ingest(series=series, files=[InputFile(f"{n}.dcm", MR) for n in (1, 2)])
    for image in Image.objects.all():
        client.get(f"/images/{image.pk}/thumb.png")
        client.get(f"/images/{image.pk}/default/0.png")
    kept = {
        name
        for image in Image.objects.filter(series__study__case=kept_case)
        for name in [image.file.name, *(render_path(image.pk, n) for n in ("thumb.png", "default-0.png"))]
    }
    assert len(bucket.media()) == 2 * len(kept)

    with django_capture_on_commit_callbacks() as callbacks:
        gone_case.delete()
    assert len(bucket.media()) == 2 * len(kept)  # nothing goes before the commit
    for callback in callbacks:
        callback()
    assert bucket.media() == kept
    assert local_files() == set()


def test_the_sweeps_list_and_date_what_is_in_the_bucket(series, bucket, settings, local_files):
    # The quarantine sweep: a finished upload's originals go, a queued one's stay.
    finished = Upload.objects.create(series=series, status=Upload.Status.DONE)
    waiting = Upload.objects.create(series=series, status=Upload.Status.QUEUED)
    for upload in (finished, waiting):
        quarantine_save(upload_id=upload.pk, files=[ContentFile(MR, name="a.dcm")])
    assert quarantine_sweep() == 1
    assert bucket.quarantine() == {f"uploads/{waiting.pk}/00001.dcm"}

    # The dead-upload sweep: a file stored while the dead run lived that no row names goes.
    waiting.delete()
    settings.UPLOAD_STALE_SECONDS = 1
    kept = images_ingest(series=series, files=[InputFile("kept.dcm", MR)]).upload.report[0]["image_id"]
    now = timezone.now()
    dead = Upload.objects.create(
        series=series,
        status=Upload.Status.RUNNING,
        runs=2,
        images_after=kept,
        started_at=now - timedelta(seconds=30),
        heartbeat_at=now - timedelta(seconds=5),
    )
    default_storage.save("images/unnamed.dcm", ContentFile(b"a file whose row never committed"))
    assert uploads_sweep() == [(dead.pk, "failed")]
    stored = {name for name in bucket.media() if name.startswith("images/")}
    assert stored == {Image.objects.get(pk=kept).file.name}
    assert local_files() == set()


# -- Bundles ----------------------------------------------------------------------------------------------


def bundle_images(bundle: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return [name for name in archive.namelist() if name.startswith("images/")]


def test_bundle_export_and_import_on_object_storage(
    client, seeded, editor, bucket, local_files, django_capture_on_commit_callbacks
):
    demo_images_ensure()
    count = Image.objects.count()
    assert len(bucket.media()) == count > 0
    buffer = io.BytesIO()
    export_bundle(Case.objects.all(), buffer)
    assert len(bundle_images(buffer.getvalue())) == count

    with django_capture_on_commit_callbacks(execute=True):
        empty_the_archive()
    assert bucket.media() == set()
    report = import_bundle(io.BytesIO(buffer.getvalue()), by=editor)
    assert len(report.imported) == Case.objects.count()
    assert {image.file.name for image in Image.objects.all()} == bucket.media()
    assert Image.objects.count() == count
    client.force_login(editor)
    image = Image.objects.filter(kind=Image.Kind.DICOM).first()
    assert client.get(f"/images/{image.pk}/default/0.png").status_code == 200
    assert local_files() == set()


def test_a_bundle_made_on_file_storage_imports_into_object_storage(
    client, seeded, editor, media_root, object_store, quarantine_root
):
    demo_images_ensure()  # on file storage, under MEDIA_ROOT
    count = Image.objects.count()
    on_disk = media_files(media_root)
    assert len(on_disk) == count > 0
    buffer = io.BytesIO()
    export_bundle(Case.objects.all(), buffer)
    empty_the_archive()

    object_store.use()
    report = import_bundle(io.BytesIO(buffer.getvalue()), by=editor)
    assert len(report.imported) == Case.objects.count() and Image.objects.count() == count
    assert {image.file.name for image in Image.objects.all()} == object_store.media()
    client.force_login(editor)
    for image in Image.objects.all():
        assert client.get(f"/images/{image.pk}/thumb.png").status_code == 200, image.series.label
    # Nothing new under MEDIA_ROOT: only what the file-storage archive had stored before.
    assert media_files(media_root) == on_disk and media_files(quarantine_root) == set()
