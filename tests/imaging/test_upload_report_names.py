"""Upload reports name files by place and hash: the names they were uploaded under are shown to the
uploader at the time, and stored nowhere."""

import hashlib
import importlib
import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image, Upload
from imaging.services import images_ingest, series_create
from imaging.upload_reports import file_label, without_file_name

pytestmark = pytest.mark.django_db

PATIENT_NAMED = "DOE_JANE_MRN12345_ct1.dcm"


@pytest.fixture
def series(make_case, diagnosis):
    case = make_case(slug="neutral", final_diagnosis=diagnosis("Chordoma"))
    return series_create(case=case, label="Axial T1", modality="MR")


def test_the_stored_report_names_files_by_place_and_hash(series):
    junk = b"not a DICOM file"
    result = images_ingest(
        series=series,
        files=[
            InputFile(PATIENT_NAMED, (SAMPLE_DIR / "MR_small.dcm").read_bytes()),
            InputFile("DOE_JANE_notes.dcm", junk),
        ],
    )
    # The uploader is answered with the names.
    assert [o.name for o in result.outcomes] == [PATIENT_NAMED, "DOE_JANE_notes.dcm"]
    image = Image.objects.get()
    accepted, rejected = Upload.objects.get().report
    assert accepted["file"] == f"file 1 (sha256 {image.sha256[:8]}…)"  # the stored image's hash
    assert rejected["file"] == f"file 2 (sha256 {hashlib.sha256(junk).hexdigest()[:8]}…)"  # as uploaded
    assert "name" not in accepted and "DOE" not in str(Upload.objects.get().report)


def test_a_reason_quoting_the_file_name_is_stored_without_it(series):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("DOE_JANE/ct1.dcm", b"x")
    data = bytearray(buffer.getvalue())
    data[6] |= 1  # the entry's local header: encrypted ...
    data[data.find(b"PK\x01\x02") + 8] |= 1  # ... and its central directory entry
    result = images_ingest(series=series, files=[InputFile("DOE_JANE.zip", bytes(data))])
    (outcome,) = result.outcomes
    assert "DOE_JANE/ct1.dcm" in outcome.reason  # zipfile's own message, as the uploader sees it
    (entry,) = Upload.objects.get().report
    assert "DOE" not in entry["reason"] and "encrypted" in entry["reason"]


def test_without_file_name_takes_out_the_name_and_each_part_of_its_path():
    text = "File 'scans/DOE_JANE_MRN12345_ct1.dcm' is encrypted (in DOE_JANE.zip)"
    cleaned = without_file_name(text, "DOE_JANE.zip:scans/DOE_JANE_MRN12345_ct1.dcm")
    assert cleaned == "File 'the file/the file' is encrypted (in the file)"
    assert file_label(3) == "file 3"


def test_import_images_prints_names_and_stores_none(series, tmp_path):
    good = tmp_path / PATIENT_NAMED
    good.write_bytes((SAMPLE_DIR / "MR_small.dcm").read_bytes())
    bad = tmp_path / "DOE_JANE_notes.dcm"
    bad.write_bytes(b"not dicom at all")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_images", "neutral", str(good), str(bad), "--series", "Axial T1", stdout=out)
    assert PATIENT_NAMED in out.getvalue() and "DOE_JANE_notes.dcm" in out.getvalue()
    report = Upload.objects.get().report
    assert "DOE" not in str(report) and str(tmp_path) not in str(report)
    assert [entry["file"].split(" (")[0] for entry in report] == ["file 1", "file 2"]


def test_the_migration_takes_the_names_out_of_reports_stored_before(series):
    images_ingest(series=series, files=[InputFile("a.dcm", (SAMPLE_DIR / "MR_small.dcm").read_bytes())])
    image = Image.objects.get()
    upload = Upload.objects.get()
    upload.report = [  # as reports were stored before
        {"name": PATIENT_NAMED, "accepted": True, "reason": "", "image_id": image.pk, "deidentification": {}},
        {"name": "DOE.zip:DOE_JANE/x.dcm", "accepted": False, "reason": "File 'DOE_JANE/x.dcm' is encrypted"},
    ]
    upload.save()
    migration = importlib.import_module("imaging.migrations.0005_upload_reports_without_file_names")
    from django.apps import apps

    migration.forget_file_names(apps, None)

    upload.refresh_from_db()
    assert upload.report[0]["file"] == f"file 1 (sha256 {image.sha256[:8]}…)"
    reason = "File 'the file/the file' is encrypted"
    assert upload.report[1] == {"file": "file 2", "accepted": False, "reason": reason}
    assert "DOE" not in str(upload.report)
