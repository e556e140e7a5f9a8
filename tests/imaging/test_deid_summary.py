"""The de-identification report in the admin is a short summary by kind, the details folded, and
"Needs review" appears only for flagged images (issue 19)."""

import re

import pytest

from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image, Upload
from imaging.services import images_ingest, series_create
from imaging.upload_reports import attribute_kind, counts_by_kind
from tests.helpers.ingest import blank_png

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("PatientName", "names and IDs"),
        ("OperatorsName", "names and IDs"),
        ("PatientID", "names and IDs"),
        ("OtherPatientIDsSequence", "names and IDs"),
        ("AccessionNumber", "names and IDs"),
        ("InstitutionName", "names and IDs"),
        ("StudyDate", "dates and times"),
        ("AcquisitionDateTime", "dates and times"),
        ("StudyTime", "dates and times"),
        ("StudyInstanceUID", "UIDs"),
        ("ReferencedImageSequence.ReferencedSOPInstanceUID", "UIDs"),
        ("(0019,1002)", "private tags"),
        ("(0028,0000)", "other"),
        ("StudyDescription", "descriptions"),
        ("ImageComments", "descriptions"),
        ("AdditionalPatientHistory", "descriptions"),
        ("SeriesNumber", "other"),  # a number (IS), not an identifier
        ("Modality", "other"),
    ],
)
def test_attributes_are_grouped_by_kind(label, kind):
    assert attribute_kind(label) == kind


def test_counts_by_kind_keeps_only_the_kinds_met_in_order():
    report = {
        "removed": ["(0009,0010)", "StudyDescription"],
        "replaced": ["PatientName", "StudyDate"],
        "kept": [],
    }
    assert counts_by_kind(report) == {
        "names and IDs": {"removed": 0, "replaced": 1, "kept": 0},
        "dates and times": {"removed": 0, "replaced": 1, "kept": 0},
        "private tags": {"removed": 1, "replaced": 0, "kept": 0},
        "descriptions": {"removed": 1, "replaced": 0, "kept": 0},
    }


def table_rows(html: str) -> dict[str, list[int]]:
    rows = re.findall(r"<tr><th>([^<]+)</th>((?:<td>\d+</td>)+)</tr>", html)
    return {name: [int(n) for n in re.findall(r"\d+", cells)] for name, cells in rows}


@pytest.fixture
def ct_series(make_case, diagnosis):
    case = make_case(final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial CT", modality="CT")
    images_ingest(series=series, files=[InputFile("ct.dcm", (SAMPLE_DIR / "CT_small.dcm").read_bytes())])
    return series


def test_the_series_page_summarises_by_kind_with_the_attributes_folded(client, editor, ct_series):
    client.force_login(editor)
    page = client.get(f"/admin/imaging/series/{ct_series.pk}/change/").content.decode()
    report = page[page.index('<div class="upload-report">') :]
    report = report[: report.index("</div>")]
    rows = table_rows(report)
    upload = Upload.objects.get()
    entry = upload.report[0]["deidentification"]
    # Columns: removed, replaced, kept. CT_small carries many private tags, all removed.
    assert rows["Private tags"][0] > 100 and rows["Private tags"][1:] == [0, 0]
    assert rows["Names and IDs"][1] >= 3  # patient name and ID, accession number … replaced
    assert rows["UIDs"][1] >= 3
    assert rows["Total"] == [len(entry[action]) for action in ("removed", "replaced", "kept")]
    summary, folded = report.split("<details>", 1)
    assert "PatientName" not in summary and "PatientName" in folded
    assert "Needs review" not in report  # CT_small is not flagged


def test_needs_review_shows_only_on_a_flagged_image(client, editor, ct_series):
    client.force_login(editor)
    images_ingest(series=ct_series, files=[InputFile("shot.png", blank_png())])  # PNGs wait for a look
    dicom, raster = Image.objects.order_by("kind")
    assert not dicom.is_flagged and raster.is_flagged

    page = client.get(f"/admin/imaging/image/{dicom.pk}/change/").content.decode()
    assert "Needs review" not in page and "icon-no" not in page
    assert table_rows(page)["Total"][0] > 100 and "<details><summary>Every attribute" in page

    page = client.get(f"/admin/imaging/image/{raster.pk}/change/").content.decode()
    assert "<strong>Needs review</strong>" in page

    listing = client.get("/admin/imaging/image/").content.decode()
    assert listing.count("<strong>Needs review</strong>") == 1 and "icon-no" not in listing


def test_the_upload_page_shows_the_summary_not_raw_json(client, editor, ct_series):
    client.force_login(editor)
    page = client.get(f"/admin/imaging/upload/{Upload.objects.get().pk}/change/").content.decode()
    assert '<table class="deid-summary">' in page and '"deidentification"' not in page
