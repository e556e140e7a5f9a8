"""The case editor lists the case's studies → series → images, with thumbnails and links to draw on
each image, add a series and upload; edit links only for those who may edit the case; the number of
queries does not grow with the number of images."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Case
from imaging.models import Annotation, Image, Series, Study
from tests.helpers.authoring import FAST_HASHERS

pytestmark = pytest.mark.django_db

DRAFT, REVIEW = Case.Status.DRAFT, Case.Status.IN_REVIEW


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def image_rows(series: Series, count: int, *, flagged: int = 0) -> list[Image]:
    """Image rows without files: the editor's list reads rows, the thumbnails are separate requests."""
    start = series.images.count()
    return [
        Image.objects.create(
            series=series,
            kind=Image.Kind.RASTER,
            file=f"images/test-{series.pk}-{n}.png",
            sha256="0" * 64,
            size_bytes=1,
            rows=8,
            columns=8,
            frame_count=1 if n else 15,
            order=n + 1,
            needs_review=n < flagged,
            review_reason="Re-encoded PNG: may carry burned-in text" if n < flagged else "",
        )
        for n in range(start, start + count)
    ]


def case_with_images(author, *, status=DRAFT, per_series: int = 2) -> Case:
    """Two studies; the MRI with two series, the CT with one; the first image of the first series
    flagged for review and carrying an arrow."""
    case = Case.objects.create(
        slug=f"case-{status}-{per_series}", title="A case", status=status, author=author
    )
    mri = Study.objects.create(case=case, modality="MR", time_label="Initial", order=1)
    ct = Study.objects.create(case=case, modality="CT", time_label="After embolisation", order=2)
    t1 = Series.objects.create(study=mri, label="Axial T1", order=1)
    Series.objects.create(study=mri, label="Sagittal T2", order=2)
    Series.objects.create(study=ct, label="Axial CT", order=1)
    for n, series in enumerate(Series.objects.filter(study__case=case)):
        image_rows(series, per_series, flagged=1 if n == 0 else 0)
    first = t1.images.first()
    Annotation.objects.create(image=first, kind="arrow", x=0.5, y=0.5, tail_x=0.2, tail_y=0.2)
    return case


def editor_page(client, user, case) -> str:
    client.force_login(user)
    response = client.get(reverse("admin:cases_case_change", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def draw_links(page: str) -> int:
    return page.count('class="tree-draw"')


@pytest.mark.parametrize("role", ["author", "editor"])
def test_those_who_may_edit_see_every_image_with_links_to_draw_add_and_upload(client, faculty, editor, role):
    case = case_with_images(faculty)
    page = editor_page(client, {"author": faculty, "editor": editor}[role], case)
    assert "Studies, series and images" in page
    assert "MRI — Initial" in page and "CT — After embolisation" in page
    for image in Image.objects.filter(series__study__case=case):
        assert reverse("image_thumbnail", args=[image.pk]) in page
        assert f'href="{reverse("admin:imaging_image_change", args=[image.pk])}"' in page
    assert draw_links(page) == 6
    for study in case.studies.all():
        assert f"{reverse('admin:imaging_series_add')}?study={study.pk}" in page
    for series in Series.objects.filter(study__case=case):
        assert f"{reverse('admin:imaging_series_change', args=[series.pk])}#id_upload" in page
    assert page.count("Upload images") == 3
    assert "Image 1, 15 frames" in page and "1 arrow" in page


def test_flagged_images_are_marked(client, faculty):
    case = case_with_images(faculty)
    page = editor_page(client, faculty, case)
    assert page.count("tree-image is-flagged") == 1
    assert page.count("⚑ Needs review") == 1
    assert "Hidden until reviewed" not in page  # the author may look at it: they review it with editors


def test_the_author_of_a_case_in_review_sees_its_images_without_edit_links(client, faculty):
    case = case_with_images(faculty, status=REVIEW)
    page = editor_page(client, faculty, case)
    assert page.count('class="tree-thumb"') == 6
    assert draw_links(page) == 0
    assert "Upload images" not in page and "Add series" not in page
    assert reverse("admin:imaging_series_change", args=[Series.objects.first().pk]) not in page


def test_a_colleague_sees_no_edit_links_and_no_flagged_thumbnail(client, faculty, other_faculty):
    case = case_with_images(faculty, status=REVIEW)
    page = editor_page(client, other_faculty, case)
    assert draw_links(page) == 0
    assert "Upload images" not in page and "Add series" not in page
    flagged = Image.objects.get(series__study__case=case, needs_review=True)
    assert reverse("image_thumbnail", args=[flagged.pk]) not in page  # the view would refuse it
    assert "Hidden until reviewed" in page and "⚑ Needs review" in page
    assert page.count('class="tree-thumb"') == 5


def test_a_case_without_studies_says_how_to_start(client, faculty):
    case = Case.objects.create(slug="empty", title="Empty", status=DRAFT, author=faculty)
    page = editor_page(client, faculty, case)
    assert "No study yet" in page


def test_the_list_costs_the_same_queries_however_many_images(client, editor, django_assert_max_num_queries):
    small = case_with_images(editor, per_series=1)
    client.force_login(editor)
    with CaptureQueriesContext(connection) as baseline:
        client.get(reverse("admin:cases_case_change", args=[small.pk]))
    large = case_with_images(editor, per_series=30)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        page = client.get(reverse("admin:cases_case_change", args=[large.pk])).content.decode()
    assert draw_links(page) == 90
