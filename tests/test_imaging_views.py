"""Image bytes are served only to those who may see the case; the case page shows series strips."""

import io

import pytest
from PIL import Image as PILImage

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.services import images_ingest, series_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ct_image(make_case, diagnosis):
    case = make_case(slug="ct-case", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial CT", modality="CT", is_sample=True)
    images_ingest(
        series=series, files=[InputFile("CT_small.dcm", (SAMPLE_DIR / "CT_small.dcm").read_bytes())]
    )
    return Image.objects.get()


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
    cached = list((media_root / "renders" / str(ct_image.pk)).rglob("*.png"))
    assert [path.name for path in cached] == ["0.png"]


def test_unknown_preset_or_frame_is_404(client, ct_image):
    assert client.get(f"/images/{ct_image.pk}/lung-window-xyz/0.png").status_code == 404
    assert client.get(f"/images/{ct_image.pk}/default/1.png").status_code == 404


def test_thumbnail(client, ct_image):
    response = client.get(f"/images/{ct_image.pk}/thumb.png")
    assert response.status_code == 200
    assert max(decoded(response).size) <= 160


def test_images_of_a_draft_are_hidden_from_those_who_may_not_see_it(client, ct_image, resident, editor):
    Case.objects.filter(slug="ct-case").update(status=Case.Status.DRAFT, published_at=None)
    urls = [f"/images/{ct_image.pk}/default/0.png", f"/images/{ct_image.pk}/thumb.png"]
    assert [client.get(url).status_code for url in urls] == [404, 404]
    client.force_login(resident)
    assert [client.get(url).status_code for url in urls] == [404, 404]
    client.force_login(editor)
    assert [client.get(url).status_code for url in urls] == [200, 200]


def test_case_page_shows_a_viewer_with_sample_badge_and_neutral_alt_text(client, ct_image):
    html = client.get("/cases/ct-case/").content.decode()
    images = html[html.index('id="images"') : html.index('id="findings"')]
    assert "Sample image — not from this patient" in images
    assert f'src="/images/{ct_image.pk}/default/0.png"' in images
    assert 'alt="Axial CT, slice 1 of 1"' in images
    assert 'type="application/json"' in images
    assert "Chordoma" not in images
