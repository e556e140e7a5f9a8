"""A DICOM file whose 128-byte preamble starts like a zip is read as DICOM through the admin upload."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imaging import inputs
from imaging.models import Image
from imaging.services import series_create
from tests.helpers.dicom_samples import sample_bytes
from tests.helpers.viewer import post_upload, series_admin_form

pytestmark = pytest.mark.django_db


def pk_preamble_dicom() -> bytes:
    """CT_small with a preamble that starts with a zip's local file header signature (PS3.10 7.1 allows
    anything there)."""
    data = sample_bytes("CT_small.dcm")
    assert data[128:132] == b"DICM"
    return b"PK\x03\x04" + data[4:]


@pytest.fixture
def series(make_case, diagnosis):
    case = make_case(slug="pk-case", final_diagnosis=diagnosis("Chordoma"))
    return series_create(case=case, label="Axial CT", modality="CT")


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        (SimpleUploadedFile("scan.dcm", pk_preamble_dicom()), "scan.dcm"),
        (SimpleUploadedFile("scan", pk_preamble_dicom()), "scan"),  # no name to go by
        (SimpleUploadedFile("series.zip", zipped({"a.dcm": pk_preamble_dicom()})), "series.zip:a.dcm"),
    ],
    ids=["named-dcm", "unnamed", "inside-a-zip"],
)
def test_a_dicom_file_with_a_zip_signature_in_its_preamble_is_accepted(
    client, editor, series, uploaded, expected, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    url = f"/admin/imaging/series/{series.pk}/change/"
    data = series_admin_form(series, upload=[uploaded])
    _, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    assert page.status_code == 200
    assert "1 of 1 file(s) done: 1 accepted, 0 rejected." in page.content.decode()
    outcome = series.uploads.get().report[0]
    assert outcome["accepted"] and outcome["file"].startswith("file 1 (sha256 ")  # no file name kept
    assert expected not in str(series.uploads.get().report)
    image = Image.objects.get(series=series)
    assert (image.kind, image.rows, image.columns) == ("dicom", 128, 128)
    assert client.get(f"/images/{image.pk}/default/0.png").status_code == 200


def test_a_real_zip_is_still_a_zip_and_a_large_pk_dicom_file_is_refused_by_its_size(monkeypatch):
    assert inputs.is_zip("a.dcm", zipped({"a.dcm": pk_preamble_dicom()}))
    assert not inputs.is_zip("a.zip", pk_preamble_dicom())
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 1000)
    [refused] = inputs.uploaded_files([SimpleUploadedFile("big.dcm", pk_preamble_dicom())])
    assert refused.reason == f"file of {len(pk_preamble_dicom())} bytes is over the 1000-byte limit"
