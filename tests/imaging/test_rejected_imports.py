"""An import whose every file is rejected leaves nothing behind (no study, series, upload report or file)
through ``import_images`` and the service, and stores nothing through the admin's series form (whose
series is saved before the worker reads a file); and the command names a bad file and
its reason even when it cannot tell the modality."""

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import DeidentificationKey, Image, Series, Study, Upload
from imaging.services import NothingAccepted, files_check, series_create, series_import
from tests.helpers.viewer import post_upload, series_fields

pytestmark = pytest.mark.django_db

NOT_DICOM = b"definitely not dicom"
NOT_DICOM_REASON = "not a DICOM file"
NOT_DICOM_HASH = hashlib.sha256(NOT_DICOM).hexdigest()[:8]


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (20, 10), "white").save(buffer, "PNG")
    return buffer.getvalue()


def rows() -> dict:
    return {
        "studies": Study.objects.count(),
        "series": Series.objects.count(),
        "images": Image.objects.count(),
        "uploads": Upload.objects.count(),
        "keys": DeidentificationKey.objects.count(),
    }


def stored_files(media_root) -> list:
    return sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []


@pytest.fixture
def case(make_case, faculty, diagnosis):
    return make_case(
        slug="neutral", status=Case.Status.DRAFT, author=faculty, final_diagnosis=diagnosis("Chordoma")
    )


@pytest.fixture
def study(case):
    return Study.objects.create(case=case, modality="MR", time_label="Initial", order=1)


# -- The admin's series form ------------------------------------------------------------------------------


def new_series_form(study, *files, label="Sagittal T2") -> dict:
    return {
        "study": str(study.pk),
        "label": label,
        "finding": "",
        "order": "0",
        "teaching_preset": "",
        "teaching_slice": "",
        "teaching_zoom": "1",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
        "upload": list(files),
    }


@pytest.mark.parametrize("role", ["editor", "faculty"])  # faculty: the author, into their own draft
def test_a_new_series_whose_every_file_is_rejected_stays_empty_and_its_upload_page_says_so(
    client, request, study, media_root, role, django_capture_on_commit_callbacks
):
    """The admin answers before the worker has read a file, so the series is saved first; an upload that
    stores nothing leaves it empty, and its page says so (the series can then be deleted)."""
    client.force_login(request.getfixturevalue(role))
    before = rows()
    files = [SimpleUploadedFile("c.dcm", NOT_DICOM), SimpleUploadedFile("d.txt", b"plain words")]
    url, data = "/admin/imaging/series/add/", new_series_form(study, *files)
    response, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    page = page.content.decode()
    assert f"Rejected file 1 (sha256 {NOT_DICOM_HASH}…): {NOT_DICOM_REASON}" in page
    assert "Rejected file 2 (sha256 " in page and ": not a PNG or JPEG image" in page
    assert "No file was accepted: nothing was stored." in page
    made = {"series": before["series"] + 1, "uploads": before["uploads"] + 1, "keys": before["keys"] + 1}
    assert rows() == before | made  # and the case's de-identification key, made by the worker
    assert Series.objects.get(label="Sagittal T2").images.count() == 0
    assert stored_files(media_root) == []


def test_a_new_series_with_one_accepted_file_is_created_with_it(
    client, editor, study, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    files = [SimpleUploadedFile("c.dcm", NOT_DICOM), SimpleUploadedFile("b.png", png())]
    data = new_series_form(study, *files)
    response, _ = post_upload(client, "/admin/imaging/series/add/", data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    series = Series.objects.get(label="Sagittal T2")
    assert series.images.count() == 1
    assert (series.uploads.get().accepted, series.uploads.get().rejected) == (1, 1)


def test_an_existing_series_keeps_the_report_of_an_upload_whose_every_file_was_rejected(
    client, editor, study, django_capture_on_commit_callbacks
):
    """The series was not made for the upload, so it stays; the rejection is on its record."""
    series = Series.objects.create(study=study, label="Axial T1", order=1)
    client.force_login(editor)
    data = series_fields(series) | {
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
        "upload": [SimpleUploadedFile("c.dcm", NOT_DICOM)],
    }
    url = f"/admin/imaging/series/{series.pk}/change/"
    _, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    assert f"Rejected file 1 (sha256 {NOT_DICOM_HASH}…): {NOT_DICOM_REASON}" in page.content.decode()
    assert Series.objects.filter(pk=series.pk).exists()
    assert (series.uploads.get().accepted, series.uploads.get().rejected) == (0, 1)


# -- The service --------------------------------------------------------------------------------------


def test_series_import_removes_the_series_and_the_study_it_made_when_every_file_is_rejected(case, media_root):
    with pytest.raises(NothingAccepted) as refusal:
        series_import(
            case=case, label="Axial", modality="CT", files=[InputFile("c.dcm", NOT_DICOM)], time_label="Later"
        )
    assert [(o.name, o.reason) for o in refusal.value.result.rejected] == [("c.dcm", NOT_DICOM_REASON)]
    assert rows() == {"studies": 0, "series": 0, "images": 0, "uploads": 0, "keys": 0}
    assert stored_files(media_root) == []


def test_series_import_keeps_a_study_it_did_not_make(case, study):
    with pytest.raises(NothingAccepted):
        series_import(case=case, label="Axial", modality="MR", files=[InputFile("c.dcm", NOT_DICOM)])
    assert list(Study.objects.all()) == [study]
    assert not Series.objects.exists()


def test_series_import_keeps_what_it_stored(case):
    dicom = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
    files = [InputFile("c.dcm", NOT_DICOM), InputFile("a.dcm", dicom)]
    result = series_import(case=case, label="Axial", modality="MR", files=files)
    assert (len(result.accepted), len(result.rejected)) == (1, 1)
    assert Series.objects.get().images.count() == 1


def test_files_check_gives_each_files_verdict_and_stores_nothing(media_root):
    verdicts = files_check([InputFile("c.dcm", NOT_DICOM), InputFile("b.png", png())])
    assert [(o.name, o.accepted, o.reason) for o in verdicts] == [
        ("c.dcm", False, NOT_DICOM_REASON),
        ("b.png", True, ""),
    ]
    assert stored_files(media_root) == []


# -- import_images ------------------------------------------------------------------------------------


def run(*args) -> tuple[str, str]:
    """The command's output and the error it ended with ("" if none)."""
    out = io.StringIO()
    try:
        call_command("import_images", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), ""


def test_import_images_with_every_file_rejected_creates_no_series_or_study(case, tmp_path, media_root):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(NOT_DICOM)
    out, error = run("neutral", str(bad), "--modality", "MR", "--series", "Axial T2")
    assert f"{bad}: REJECTED: {NOT_DICOM_REASON}" in out.splitlines()
    assert error == "0 accepted, 1 rejected: nothing was imported, and no series or study was created."
    assert rows() == {"studies": 0, "series": 0, "images": 0, "uploads": 0, "keys": 0}
    assert stored_files(media_root) == []


def test_import_images_with_one_bad_file_and_no_modality_names_the_file_and_its_reason(case, tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(NOT_DICOM)
    out, error = run("neutral", str(bad))
    assert f"{bad}: REJECTED: {NOT_DICOM_REASON}" in out.splitlines()
    assert error == "0 accepted, 1 rejected: nothing was imported, and no series or study was created."
    assert "--modality" not in error
    assert (Study.objects.count(), Series.objects.count(), Upload.objects.count()) == (0, 0, 0)


def test_import_images_asks_for_the_modality_of_acceptable_pictures_and_names_the_bad_file(case, tmp_path):
    bad, picture = tmp_path / "broken.dcm", tmp_path / "photo.png"
    bad.write_bytes(NOT_DICOM)
    picture.write_bytes(png())
    out, error = run("neutral", str(bad), str(picture))
    assert out.splitlines() == [f"{bad}: REJECTED: {NOT_DICOM_REASON}"]
    assert "pass --modality" in error and "Nothing was imported" in error
    assert (Study.objects.count(), Series.objects.count(), Upload.objects.count()) == (0, 0, 0)


def test_import_images_into_an_existing_series_keeps_it_and_records_the_rejection(case, tmp_path):
    series = series_create(case=case, label="Axial T2", modality="MR")
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(NOT_DICOM)
    _out, error = run("neutral", str(bad), "--series", "Axial T2")
    assert error == "0 accepted, 1 rejected into series 'Axial T2'."
    assert Series.objects.get() == series
    assert (series.uploads.get().accepted, series.uploads.get().rejected) == (0, 1)
