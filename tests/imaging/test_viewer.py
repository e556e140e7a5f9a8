"""Overlay storage, the stack data the viewer gets, and the teaching-view form."""

import re

import pytest
from django.db import IntegrityError, transaction

from imaging.admin import SeriesForm
from imaging.models import Annotation
from imaging.stacks import series_stack
from tests.helpers.viewer import build_viewer_case, series_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_case(make_case, diagnosis):
    return build_viewer_case(make_case, diagnosis)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "arrow", "x": 0.5, "y": 0.5},  # an arrow needs a tail
        {"kind": "arrow", "x": 1.5, "y": 0.5, "tail_x": 0.1, "tail_y": 0.1},  # tip outside the image
        {"kind": "arrow", "x": 0.5, "y": 0.5, "tail_x": -0.1, "tail_y": 0.1},  # tail outside
        {"kind": "label", "x": 0.5, "y": 0.5, "text": ""},  # a label needs text
    ],
)
def test_invalid_overlays_are_rejected_by_the_database(viewer_case, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(image=viewer_case["annotated"], **fields)


def test_stack_lists_frames_in_slice_order_with_positions(viewer_case):
    stack = series_stack(viewer_case["t1"], with_overlays=False)
    assert [frame["position"] for frame in stack["frames"]] == [n * 5.0 for n in range(10)]
    assert stack["presets"] == ["default", "full"]
    assert stack["teaching"] == {"preset": "default", "slice": 5, "zoom": 1.0}  # middle slice by default


def test_overlays_are_keyed_by_stack_index_and_only_sent_with_the_answer(viewer_case):
    with_answer = series_stack(viewer_case["t1"], with_overlays=True)
    assert list(with_answer["overlays"]) == ["3"]  # the fourth slice, counting from 0
    arrow = with_answer["overlays"]["3"][0]
    assert (arrow["kind"], arrow["x"], arrow["tailY"], arrow["text"]) == ("arrow", 0.5, 0.2, "Lesion")
    assert series_stack(viewer_case["t1"], with_overlays=False)["overlays"] == {}


def test_teaching_view_opens_the_viewer_at_the_authors_choice(viewer_case):
    stack = series_stack(viewer_case["ct"], with_overlays=False)
    assert stack["teaching"] == {"preset": "bone", "slice": 0, "zoom": 2.0}
    assert stack["start"]["image"] == viewer_case["ct"].images.get().pk


def test_teaching_view_form_accepts_a_valid_view(viewer_case):
    series = viewer_case["t1"]
    form = SeriesForm(
        series_fields(series, teaching_preset="full", teaching_slice="10", teaching_zoom="3"),
        instance=series,
    )
    assert form.is_valid(), form.errors
    form.save()
    series.refresh_from_db()
    assert (series.teaching_preset, series.teaching_slice, series.teaching_zoom) == ("full", 10, 3.0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"teaching_slice": "11"}, "teaching_slice"),  # the series has 10 slices
        ({"teaching_slice": "0"}, "teaching_slice"),
        ({"teaching_zoom": "9"}, "teaching_zoom"),
        ({"teaching_preset": "bone"}, "teaching_preset"),  # a CT preset offered for an MR series
    ],
)
def test_teaching_view_form_rejects_impossible_views(viewer_case, changes, field):
    form = SeriesForm(series_fields(viewer_case["t1"], **changes), instance=viewer_case["t1"])
    assert not form.is_valid()
    assert field in form.errors


def test_the_arrow_editor_counts_frames_from_1(admin_client, viewer_case):
    """The arrow on the first frame (stored as 0, as image URLs index it) reads "1" in the admin."""
    image = viewer_case["annotated"]
    Annotation.objects.filter(image=image).update(frame=0)
    html = admin_client.get(f"/admin/imaging/image/{image.pk}/change/").content.decode()
    assert "frame 0" not in html.lower()
    assert "Image 4 of 10 in “Axial T1”" in html  # the drawing board's place in its series, from 1
    assert re.search(r'name="annotations-0-frame" value="1"', html)
    assert "Counting from 1" in html
    assert str(Annotation.objects.get(image=image)).endswith("frame 1")
