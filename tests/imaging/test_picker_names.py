"""Pickers and admin lists name the case of a study, series, image or upload by its title (issue 19), so an
editor recognises it: two cases' "MRI — Initial" studies or "Axial CT #1" images are told apart, even under
like titles, without a query per row."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import Image, Study, Upload
from imaging.services import series_create

pytestmark = pytest.mark.django_db


def add_image(series) -> Image:
    return Image.objects.create(
        series=series, kind=Image.Kind.DICOM, file=f"images/pick-{series.pk}.dcm", sha256="0" * 64,
        size_bytes=1, modality="CT", rows=8, columns=8, order=1,
    )  # fmt: skip


LONG_TITLE = "47-year-old woman with back and left leg pain for three months"


@pytest.fixture
def two_cases(make_case):
    """Two cases of the same long title, with the same study, series label and image number."""
    series = [
        series_create(case=make_case(title=LONG_TITLE), label="Axial CT", modality="CT") for _ in range(2)
    ]
    images = [add_image(one) for one in series]
    return series, images


def test_names_carry_the_case(two_cases):
    series, images = two_cases
    case = series[0].study.case
    named = f"47-year-old woman with back and left leg… (case {case.pk})"
    assert str(series[0].study) == f"{named} · CT — Initial"
    assert str(series[0]) == f"{named} · Axial CT"
    assert str(images[0]) == f"{named} · Axial CT #1"
    upload = Upload.objects.create(series=series[0], accepted=1)
    assert str(upload) == f"Upload to {named} · Axial CT (1 accepted, 0 rejected)"
    assert len({str(image) for image in images}) == 2


def test_a_short_title_is_shown_whole(make_case):
    case = make_case(title="Back pain")
    study = series_create(case=case, label="Sagittal T2", modality="MR").study
    assert str(study) == f"Back pain (case {case.pk}) · MRI — Initial"


def test_the_study_picker_names_each_case(client, editor, two_cases):
    client.force_login(editor)
    page = client.get("/admin/imaging/series/add/").content.decode()
    offered = [html.unescape(name) for name in re.findall(r'<option value="\d+">([^<]+)</option>', page)]
    cases = [one.study.case_id for one in two_cases[0]]
    expected = sorted(f"47-year-old woman with back and left leg… (case {pk}) · CT — Initial" for pk in cases)
    assert expected == sorted(name for name in offered if "CT —" in name)


@pytest.mark.parametrize("url", ["/admin/imaging/image/", "/admin/imaging/series/", "/admin/imaging/study/"])
def test_admin_lists_name_the_case_in_the_same_queries_however_many_rows(client, editor, make_case, url):
    client.force_login(editor)

    def add(count: int) -> None:
        for _ in range(count):
            add_image(series_create(case=make_case(), label="Axial CT", modality="CT"))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured)

    add(2)
    few = queries()
    add(6)
    assert queries() == few
    page = client.get(url).content.decode()
    studies = Study.objects.select_related("case")
    assert all(f"{study.case.title} (case {study.case_id}) · " in page for study in studies)


def test_the_rows_of_a_series_and_an_image_page_are_named_in_the_same_queries_however_many(
    client, editor, make_case
):
    """Each inline row prints its object's name, which reads the case: rows load it with themselves. (Each
    arrow row's finding menu is one query of Django's per form, not counted here.)"""
    from imaging.models import Annotation

    client.force_login(editor)
    series = series_create(case=make_case(), label="Axial CT", modality="CT")
    image = add_image(series)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return sum('FROM "cases_finding"' not in query["sql"] for query in captured.captured_queries)

    def grow(count: int) -> None:
        for n in range(count):
            Image.objects.create(
                series=series, kind=Image.Kind.DICOM, file=f"images/more-{n}.dcm", sha256="0" * 64,
                size_bytes=1, modality="CT", rows=8, columns=8, order=2 + n,
            )  # fmt: skip
            Annotation.objects.create(image=image, x=0.1 * n, y=0.5, text=f"label {n}", kind="label")

    series_page, image_page = (
        f"/admin/imaging/series/{series.pk}/change/",
        f"/admin/imaging/image/{image.pk}/change/",
    )
    grow(1)
    queries(series_page), queries(image_page)  # content types and the like cached by the first visit
    few = queries(series_page), queries(image_page)
    grow(5)
    assert (queries(series_page), queries(image_page)) == few
