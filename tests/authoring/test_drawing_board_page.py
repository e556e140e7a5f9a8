"""The image page's drawing board as the server renders it: a URL per frame (from 0, as image URLs
count), "Frame 1 of N" for people, editing only for those who may edit the case, its place in the series."""

import html
import json
import re

import pytest
from django.urls import reverse

from cases.models import Case
from imaging.models import Annotation, Image, Series, Study
from tests.helpers.authoring import FAST_HASHERS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def series_of(author, *, status=Case.Status.DRAFT, frames=(1, 15, 1)) -> list[Image]:
    case = Case.objects.create(slug=f"case-{status}", title="A case", status=status, author=author)
    study = Study.objects.create(case=case, modality="OT", order=1)
    series = Series.objects.create(study=study, label="Dose grid", order=1)
    return [
        Image.objects.create(
            series=series,
            kind=Image.Kind.RASTER,
            file=f"images/test-{n}.png",
            sha256="0" * 64,
            size_bytes=1,
            rows=10,
            columns=10,
            frame_count=count,
            order=n,
        )
        for n, count in enumerate(frames, start=1)
    ]


def board_of(client, user, image) -> tuple[str, dict]:
    client.force_login(user)
    response = client.get(reverse("admin:imaging_image_change", args=[image.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    tag = re.search(r'<div class="drawing-board"[^>]*>', page).group(0)
    attributes = {name: html.unescape(value) for name, value in re.findall(r'data-([\w-]+)="([^"]*)"', tag)}
    attributes["editable"] = " data-editable" in tag
    return page, attributes


def test_every_frame_has_its_url_and_people_count_from_1(client, faculty):
    _, image, _ = series_of(faculty)
    page, board = board_of(client, faculty, image)
    assert json.loads(board["frame-urls"]) == [
        reverse("image_frame", args=[image.pk, "default", index]) for index in range(15)
    ]
    assert "Frame 1 of 15" in page and 'max="15"' in page
    assert board["editable"]


def test_a_single_frame_image_has_no_frame_slider(client, faculty):
    first, _, _ = series_of(faculty)
    page, board = board_of(client, faculty, first)
    assert len(json.loads(board["frame-urls"])) == 1
    assert "board-slider" not in page


def test_the_board_links_the_neighbours_in_the_series_and_the_case(client, editor):
    first, middle, last = series_of(editor)
    page, _ = board_of(client, editor, middle)
    assert "Image 2 of 3 in “Dose grid”" in page
    assert reverse("admin:imaging_image_change", args=[first.pk]) in page
    assert reverse("admin:imaging_image_change", args=[last.pk]) in page
    assert reverse("admin:cases_case_change", args=[middle.series.study.case_id]) in page
    page, _ = board_of(client, editor, first)
    assert "Previous image" not in page and "Next image" in page


def test_a_case_in_review_shows_its_arrows_to_its_author_without_editing(client, faculty):
    _, image, _ = series_of(faculty, status=Case.Status.IN_REVIEW)
    Annotation.objects.create(
        image=image, frame=3, kind="arrow", x=0.5, y=0.4, tail_x=0.1, tail_y=0.9, text="Hot"
    )
    page, board = board_of(client, faculty, image)
    assert not board["editable"]
    assert "board-tools" not in page and "board-label-text" not in page
    assert json.loads(board["annotations"]) == [
        {"kind": "arrow", "frame": 3, "x": 0.5, "y": 0.4, "tailX": 0.1, "tailY": 0.9, "text": "Hot"}
    ]


def test_the_arrow_rows_stay_what_the_page_saves(client, faculty):
    """The board only fills the inline's rows: the form posts them, with their validation."""
    _, image, _ = series_of(faculty)
    page, _ = board_of(client, faculty, image)
    for name in ["frame", "kind", "x", "y", "tail_x", "tail_y", "text", "finding"]:
        assert f'name="annotations-__prefix__-{name}"' in page
