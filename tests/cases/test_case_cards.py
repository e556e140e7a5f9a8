"""Case cards show a key image: the teaching view's frame of the case's first series (issue 19).

Image rows are made directly (no file behind them): which frame a card names is decided from the rows
alone; ``test_the_key_image_is_served_to_a_visitor`` ingests a real file to fetch its thumbnail.
"""

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.services import images_ingest, series_create

pytestmark = pytest.mark.django_db

IMG = re.compile(r'<a class="card-thumb"[^>]*><img src="([^"]+)" alt="([^"]*)"')


def add_image(series, *, frames: int = 1, flagged: bool = False) -> Image:
    order = series.images.count() + 1
    return Image.objects.create(
        series=series,
        kind=Image.Kind.DICOM,
        file=f"images/test-{series.pk}-{order}.dcm",
        sha256="0" * 64,
        size_bytes=1,
        modality="MR",
        rows=64,
        columns=64,
        frame_count=frames,
        order=order,
        needs_review=flagged,
        review_reason="burned-in text" if flagged else "",
    )


def card_images(client, url: str = "/cases/") -> list[tuple[str, str]]:
    return IMG.findall(client.get(url).content.decode())


def test_the_card_shows_the_teaching_frame_of_the_first_series(client, make_case):
    case = make_case()
    first = series_create(case=case, label="Sagittal T2", modality="MR")
    images = [add_image(first) for _ in range(5)]
    later = series_create(case=case, label="Axial CT", modality="CT", time_label="After treatment")
    add_image(later)

    # No teaching slice: the middle one, as the viewer opens it.
    assert card_images(client) == [(f"/images/{images[2].pk}/default/0.thumb.png", "MRI image")]

    first.teaching_slice, first.teaching_preset = 4, "no-such-preset"
    first.save()
    assert card_images(client) == [(f"/images/{images[3].pk}/default/0.thumb.png", "MRI image")]


def test_a_sample_key_image_carries_the_sample_badge(client, make_case):
    sample_case, own_case = make_case(title="Sample case"), make_case(title="Own images case")
    add_image(series_create(case=sample_case, label="Axial CT", modality="CT", is_sample=True))
    add_image(series_create(case=own_case, label="Sagittal T2", modality="MR"))
    html = client.get("/cases/").content.decode()
    cards = {
        title: card
        for card in html.split('<article class="case-card">')[1:]
        for title in re.findall(r"<h3><a [^>]*>([^<]+)</a>", card)
    }
    badge = '<span class="badge-sample">Sample image — not from this patient</span></a>'
    assert badge in cards["Sample case"]
    assert "badge-sample" not in cards["Own images case"]


def test_a_teaching_slice_inside_a_multiframe_image_names_that_frame(client, make_case):
    case = make_case()
    series = series_create(case=case, label="Axial T1", modality="MR")
    add_image(series, frames=3)
    second = add_image(series, frames=10)
    series.teaching_slice = 6  # the third frame of the second image
    series.save()
    assert card_images(client) == [(f"/images/{second.pk}/default/2.thumb.png", "MRI image")]


def test_flagged_images_never_reach_a_card(client, make_case):
    case = make_case()
    all_flagged = series_create(case=case, label="Axial T1", modality="MR")
    add_image(all_flagged, flagged=True)
    mixed = series_create(case=case, label="Axial T2", modality="MR")
    flagged = add_image(mixed, flagged=True)
    kept = add_image(mixed)
    # The first series has nothing to show; in the second the flagged image is left out, as on the case page.
    assert card_images(client) == [(f"/images/{kept.pk}/default/0.thumb.png", "MRI image")]

    Image.objects.filter(pk=kept.pk).update(needs_review=True)
    html = client.get("/cases/").content.decode()
    assert "card-thumb-empty" in html and f"/images/{flagged.pk}/" not in html

    Image.objects.filter(pk=flagged.pk).update(reviewed_at=timezone.now())  # an editor has looked
    cache.clear()
    assert card_images(client) == [(f"/images/{flagged.pk}/default/0.thumb.png", "MRI image")]


def test_a_case_without_images_shows_a_placeholder_not_a_broken_image(client, make_case):
    case = make_case()
    series_create(case=case, label="Axial T1", modality="MR")  # a series still without images
    html = client.get("/cases/").content.decode()
    assert "card-thumb-empty" in html and "<img" not in html


@pytest.mark.parametrize("url", ["/", "/cases/", "/regions/spine/", "/diagnoses/chordoma/", "/tags/bone/"])
def test_every_list_of_cards_costs_the_same_queries_however_many_cases_have_images(
    client, make_case, region_tree, diagnosis, url
):
    chordoma = diagnosis("Chordoma")

    def add(count: int) -> None:
        for _ in range(count):
            case = make_case(regions=[region_tree["sacrum"]], tags=["bone"], final_diagnosis=chordoma)
            series = series_create(case=case, label="Axial T1", modality="MR")
            for _ in range(3):
                add_image(series)

    def queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200 and b"card-thumb" in response.content
        return len(captured)

    add(2)
    few = queries()
    add(10)
    assert queries() == few


def test_hidden_diagnoses_and_labels_stay_out_of_the_card_image(client, make_case, diagnosis):
    case = make_case(final_diagnosis=diagnosis("Chordoma"), title="Back pain")
    series = series_create(case=case, label="Sagittal STIR", modality="MR")
    add_image(series)
    client.post("/preferences/hide-diagnoses/", {"hide": "1", "next": "/cases/"})
    [(src, alt)] = card_images(client)
    for text in (src, alt):
        assert "hordoma" not in text and "STIR" not in text and "Sagittal" not in text


def test_the_key_image_is_served_to_a_visitor(client, make_case):
    case = make_case()
    series = series_create(case=case, label="Axial T1", modality="MR")
    images_ingest(series=series, files=[InputFile("a.dcm", (SAMPLE_DIR / "MR_small.dcm").read_bytes())])
    [(src, _alt)] = card_images(client)
    response = client.get(src)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"

    Case.objects.filter(pk=case.pk).update(status=Case.Status.DRAFT)
    assert client.get(src).status_code == 404
