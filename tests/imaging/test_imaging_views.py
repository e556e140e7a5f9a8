"""Image bytes are served only to those who may see the case; the case page shows series strips."""

import io
import json
import re

import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.rendering import render_path
from imaging.services import images_ingest, series_create
from tests.helpers.ingest import large_ct_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def ct_image(make_case, diagnosis):
    case = make_case(slug="ct-case", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial CT", modality="CT", is_sample=True)
    images_ingest(
        series=series, files=[InputFile("CT_small.dcm", (SAMPLE_DIR / "CT_small.dcm").read_bytes())]
    )
    return Image.objects.get()


@pytest.fixture
def large_ct_image(make_case, diagnosis):
    case = make_case(slug="large-ct-case", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial CT large", modality="CT", is_sample=True)
    images_ingest(series=series, files=[large_ct_file()])
    series.teaching_preset = "bone"
    series.save()
    return Image.objects.get(series=series)


def decoded(response) -> PILImage.Image:
    assert response["Content-Type"] == "image/png"
    return PILImage.open(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )


def test_frame_renders_per_preset_and_presets_differ(client, ct_image):
    soft = client.get(f"/images/{ct_image.pk}/soft_tissue/0.png")
    bone = client.get(f"/images/{ct_image.pk}/bone/0.png")
    assert soft.status_code == bone.status_code == 200
    soft_image, bone_image = decoded(soft), decoded(bone)
    assert soft_image.size == (128, 128)
    assert soft_image.tobytes() != bone_image.tobytes()


def test_render_is_cached_in_storage(client, ct_image, media_root):
    client.get(f"/images/{ct_image.pk}/default/0.png")
    cached = list((media_root / "renders").rglob("*.png"))
    assert [path.relative_to(media_root).as_posix() for path in cached] == [
        render_path(ct_image.pk, "default-0.png")
    ]
    assert (
        render_path(ct_image.pk, "default-0.png")
        == f"renders/{ct_image.pk // 1000}/{ct_image.pk}-default-0.png"
    )


def test_unknown_preset_or_frame_is_404(client, ct_image):
    assert client.get(f"/images/{ct_image.pk}/lung-window-xyz/0.png").status_code == 404
    assert client.get(f"/images/{ct_image.pk}/default/1.png").status_code == 404


def test_thumbnail(client, ct_image):
    response = client.get(f"/images/{ct_image.pk}/thumb.png")
    assert response.status_code == 200
    assert max(decoded(response).size) <= 160


def test_frame_thumbnail_is_the_frame_scaled_down(client, large_ct_image, media_root):
    pk = large_ct_image.pk
    frame = client.get(f"/images/{pk}/bone/0.png")
    small = client.get(f"/images/{pk}/bone/0.thumb.png")
    assert frame.status_code == small.status_code == 200
    frame_image, small_image = decoded(frame), decoded(small)
    assert frame_image.size == (512, 512)
    assert small_image.size == (160, 160)
    # Same slice, same window: the frame scaled down is (nearly) the thumbnail; another window is not.
    expected = np.asarray(frame_image.resize(small_image.size), dtype=float)
    assert np.abs(np.asarray(small_image, dtype=float) - expected).mean() < 2
    other = decoded(client.get(f"/images/{pk}/soft_tissue/0.thumb.png"))
    assert np.abs(np.asarray(other, dtype=float) - expected).mean() > 10
    cached = sorted(path.name for path in (media_root / "renders").rglob(f"{pk}-bone-*"))
    assert cached == [f"{pk}-bone-0.png", f"{pk}-bone-0.thumb.png"]


def test_frame_thumbnail_of_an_unknown_preset_or_frame_is_404(client, large_ct_image):
    pk = large_ct_image.pk
    assert client.get(f"/images/{pk}/lung-window-xyz/0.thumb.png").status_code == 404
    assert client.get(f"/images/{pk}/default/1.thumb.png").status_code == 404
    assert client.get(f"/images/{pk + 1000}/default/0.thumb.png").status_code == 404


def test_images_of_a_draft_are_hidden_from_those_who_may_not_see_it(client, ct_image, resident, editor):
    Case.objects.filter(slug="ct-case").update(status=Case.Status.DRAFT, published_at=None)
    urls = [
        f"/images/{ct_image.pk}/default/0.png",
        f"/images/{ct_image.pk}/default/0.thumb.png",
        f"/images/{ct_image.pk}/thumb.png",
    ]
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    client.force_login(resident)
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    client.force_login(editor)
    assert [client.get(url).status_code for url in urls] == [200, 200, 200]


def stack_data(html: str) -> list[dict]:
    return [
        json.loads(data)
        for data in re.findall(r'<script id="stack-\d+" type="application/json">(.*?)</script>', html)
    ]


def test_a_viewer_starts_with_a_thumbnail_of_its_teaching_frame(client, large_ct_image):
    html = client.get("/cases/large-ct-case/").content.decode()
    images = html[html.index('id="images"') : html.index('id="findings"')]
    [tag] = re.findall(r"<img\b[^>]*>", images)
    pk = large_ct_image.pk
    assert f'src="/images/{pk}/bone/0.thumb.png"' in tag  # the teaching preset, not "default"
    assert 'loading="lazy"' in tag and 'width="512" height="512"' in tag  # the full frame's box
    [stack] = stack_data(images)
    assert stack["start"]["src"] == f"/images/{pk}/bone/0.png"
    assert stack["start"]["thumbnail"] == f"/images/{pk}/bone/0.thumb.png"
    assert client.get(stack["start"]["thumbnail"]).status_code == 200


def test_a_frame_no_larger_than_a_thumbnail_is_its_own_first_image(client, ct_image):
    html = client.get("/cases/ct-case/").content.decode()
    [stack] = stack_data(html)
    assert stack["start"]["thumbnail"] == stack["start"]["src"] == f"/images/{ct_image.pk}/default/0.png"


def test_case_page_shows_a_viewer_with_sample_badge_and_neutral_alt_text(client, ct_image):
    html = client.get("/cases/ct-case/").content.decode()
    images = html[html.index('id="images"') : html.index('id="findings"')]
    assert "Sample image — not from this patient" in images
    assert f'src="/images/{ct_image.pk}/default/0.png"' in images  # 128 x 128: no smaller copy first
    assert 'alt="Axial CT, slice 1 of 1"' in images
    assert 'type="application/json"' in images
    assert "Chordoma" not in images


def test_the_demo_samples_are_ct_mr_compressed_and_multi_frame_none_flagged(media_root, client):
    from io import StringIO

    from django.core.management import call_command

    from imaging.rendering import frame_png

    call_command("load_demo", allow_without_debug=True, stdout=StringIO())  # pytest-django turns DEBUG off
    images = list(Image.objects.select_related("series__study"))
    assert images and all(image.series.is_sample for image in images)  # each with the badge
    assert not any(image.is_flagged for image in images)  # else withheld from the public (imaging.views)
    for study in {image.series.study for image in images}:
        study.full_clean()  # PostgreSQL refuses what SQLite lets through, a modality not among the choices
    assert {"CT", "MR"} <= {image.modality for image in images}
    syntaxes = {pydicom.dcmread(image.file.path).file_meta.TransferSyntaxUID for image in images}
    assert any(syntax.is_compressed for syntax in syntaxes)
    [stack] = [image for image in images if image.frame_count > 1]
    frames = [frame_png(stack, frame) for frame in range(stack.frame_count)]
    assert stack.frame_count == 15 and len(set(frames)) > 1  # one PNG per frame, not one picture
