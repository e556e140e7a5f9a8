"""The admin upload goes through the same ingest; only editors clear a burned-in text flag."""

import hashlib
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from cases.models import Case
from imaging.admin import _attribute_list
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.services import images_ingest, series_create
from imaging.upload_reports import upload_summary
from tests.helpers.viewer import post_upload, series_admin_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(make_case, faculty, diagnosis):
    case = make_case(slug="admin-case", author=faculty, final_diagnosis=diagnosis("Chordoma"))
    return series_create(case=case, label="Axial T1", modality="MR")


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (20, 10), "white").save(buffer, "PNG")
    return buffer.getvalue()


def dicom_png_and_junk() -> list[SimpleUploadedFile]:
    """An upload with one of each outcome: a DICOM file, a PNG and a file that is not DICOM."""
    return [
        SimpleUploadedFile("a.dcm", (SAMPLE_DIR / "MR_small.dcm").read_bytes()),
        SimpleUploadedFile("b.png", png()),
        SimpleUploadedFile("c.dcm", b"definitely not dicom"),
    ]


def test_admin_upload_of_several_files_ingests_and_reports(
    client, editor, series, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    files = dicom_png_and_junk()
    url, data = f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, upload=files)
    _, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    assert page.status_code == 200
    page = page.content.decode()
    assert "3 file(s) queued (1 a.dcm, 2 b.png, 3 c.dcm)" in page  # the names, said once
    assert "Rejected file 3 (sha256 " in page and ": not a DICOM file" in page
    assert "3 of 3 file(s) done: 2 accepted, 1 rejected." in page
    assert sorted(Image.objects.values_list("kind", flat=True)) == ["dicom", "raster"]
    assert series.uploads.get().rejected == 1


def test_admin_rejects_a_series_label_that_names_the_diagnosis(client, editor, series):
    client.force_login(editor)
    response = client.post(
        f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, label="Chordoma T2")
    )
    assert response.status_code == 200
    assert "names the diagnosis" in response.content.decode()
    series.refresh_from_db()
    assert series.label == "Axial T1"


def flagged_image(series) -> Image:
    images_ingest(series=series, files=[InputFile("shot.png", png())])
    return Image.objects.get()


def clear(client, image):
    return client.post(
        "/admin/imaging/image/", {"action": "clear_flag", "_selected_action": [image.pk]}, follow=True
    )


def test_faculty_cannot_clear_a_flag(client, faculty, series):
    image = flagged_image(series)
    client.force_login(faculty)
    clear(client, image)
    image.refresh_from_db()
    assert image.is_flagged


def test_editor_clears_a_flag_and_is_recorded(client, editor, series):
    image = flagged_image(series)
    client.force_login(editor)
    assert "1 image flag(s) cleared" in clear(client, image).content.decode()
    image.refresh_from_db()
    assert not image.is_flagged and image.reviewed_by == editor


def test_residents_cannot_reach_the_imaging_admin(client, resident, series):
    client.force_login(resident)
    response = client.get(f"/admin/imaging/series/{series.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_faculty_change_only_the_series_and_images_of_their_own_draft_cases(
    client, series, other_faculty, faculty
):
    image = flagged_image(series)
    client.force_login(other_faculty)
    assert (
        client.get("/admin/imaging/series/").content.decode().count(f"/admin/imaging/series/{series.pk}/")
        == 0
    )
    for url in [
        f"/admin/imaging/series/{series.pk}/change/",
        f"/admin/imaging/image/{image.pk}/change/",
        f"/admin/imaging/study/{series.study_id}/change/",
    ]:
        assert client.get(url).status_code in {302, 403, 404}, url
    response = client.post(
        f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, label="Taken over")
    )
    assert response.status_code in {302, 403, 404}
    series.refresh_from_db()
    assert series.label == "Axial T1"
    client.force_login(faculty)
    assert client.get(f"/admin/imaging/series/{series.pk}/change/").status_code == 200
    # Their own case is published: its study is no longer offered for a new series …
    add_form = client.get("/admin/imaging/series/add/").content.decode()
    assert f'<option value="{series.study_id}"' not in add_form
    # … until it is a draft again.
    Case.objects.filter(pk=series.study.case_id).update(status=Case.Status.DRAFT)
    add_form = client.get("/admin/imaging/series/add/").content.decode()
    assert f'<option value="{series.study_id}"' in add_form


def test_another_facultys_study_is_not_offered_when_adding_a_series(client, series, other_faculty):
    client.force_login(other_faculty)
    add_form = client.get("/admin/imaging/series/add/").content.decode()
    assert f'<option value="{series.study_id}"' not in add_form


@pytest.mark.parametrize("role", ["editor", "faculty"])
def test_the_series_page_shows_each_uploads_de_identification_report(
    client, request, series, role, django_capture_on_commit_callbacks
):
    if role == "faculty":  # the case's author, who uploads to it while it is a draft
        Case.objects.filter(pk=series.study.case_id).update(status=Case.Status.DRAFT)
    client.force_login(request.getfixturevalue(role))
    files = dicom_png_and_junk()
    url = f"/admin/imaging/series/{series.pk}/change/"
    post_upload(client, url, series_admin_form(series, upload=files), django_capture_on_commit_callbacks)
    page = client.get(f"/admin/imaging/series/{series.pk}/change/").content.decode()
    report = page[page.index('<div class="upload-report">') :]
    report = report[: report.index("</div>")]
    assert ": 2 accepted, 1 rejected" in report
    # The stored report names the file by place and hash (of the bytes as uploaded, for a rejected
    # file), never by the name it was uploaded under (which the answer to the upload said).
    junk_hash = hashlib.sha256(b"definitely not dicom").hexdigest()[:8]
    assert f"Rejected file 3 (sha256 {junk_hash}…): not a DICOM file" in report
    assert "c.dcm" not in report and "a.dcm" not in report
    lines = {line.split(" in ", 1)[0]: line for line in re.findall(r"<p>(.*?)</p>", report)}
    assert "InstitutionName" in lines["Removed"] and "PatientName" not in lines["Removed"]
    assert "ReferringPhysicianName" in lines["Replaced"] and "AccessionNumber" in lines["Replaced"]
    assert "Modality" in lines["Kept"] and "InstitutionName" not in lines["Kept"]
    assert "1 PNG/JPEG file(s) re-encoded without metadata" in report


def test_an_upload_summary_counts_what_applied_to_only_some_files():
    entry = {"accepted": True, "deidentification": {"removed": ["A", "B"], "replaced": ["C"], "kept": []}}
    other = {"accepted": True, "deidentification": {"removed": ["A"], "replaced": ["C"], "kept": ["D"]}}
    refused = {"file": "file 3", "accepted": False, "reason": "not a DICOM file", "deidentification": {}}
    summary = upload_summary([entry, other, refused])
    assert summary.accepted == 2 and summary.dicom_files == 2
    assert summary.rejected == [("file 3", "not a DICOM file")]
    assert summary.attributes == {"removed": [("A", 2), ("B", 1)], "replaced": [("C", 2)], "kept": [("D", 1)]}
    assert _attribute_list(summary.attributes["removed"], 2) == "A, B (1 of 2 files)"
