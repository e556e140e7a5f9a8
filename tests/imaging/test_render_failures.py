"""A stored frame that cannot be rendered is answered with an error image (422), and decoded only once.

The files are stored through the real ingest, then replaced in storage by files the ingest now refuses:
as a file stored before the bounds existed, or under a larger memory limit, would be.
"""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage

from imaging import rendering
from imaging.dicom import render
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.rendering import UNAVAILABLE_SIZE, failure_path, renders_delete
from imaging.services import images_ingest, series_create
from tests.helpers import bombs
from tests.helpers.dicom_samples import sample_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:Invalid value for VR")]


@pytest.fixture
def stored(make_case, diagnosis):
    """An image ingested from `name` (CT_small by default), whose stored bytes are then replaced."""
    case = make_case(slug="broken-case", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial CT", modality="CT")

    def store(replacement: bytes, name: str = "CT_small.dcm", original: bytes | None = None) -> Image:
        images_ingest(series=series, files=[InputFile(name, original or sample_bytes(name))])
        image = Image.objects.filter(series=series).latest("pk")
        # A PNG upload is flagged for burned-in text; these test pictures hold none.
        Image.objects.filter(pk=image.pk).update(reviewed_at=timezone.now())
        default_storage.delete(image.file.name)
        assert default_storage.save(image.file.name, ContentFile(replacement)) == image.file.name
        return image

    return store


def counted(monkeypatch, module, name: str) -> list:
    """Count the calls of `module.name`, which still does its work."""
    calls = []
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def assert_error_image(response) -> None:
    assert response.status_code == 422
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-cache"
    picture = PILImage.open(io.BytesIO(response.content))
    assert picture.size == UNAVAILABLE_SIZE


def test_a_frame_over_the_bounds_is_an_error_image_twice_and_is_read_once(client, stored, monkeypatch):
    image = stored(bombs.jpeg_bomb_dicom())
    reads = counted(monkeypatch, rendering, "read_for_rendering")
    for url in (f"/images/{image.pk}/default/0.png", f"/images/{image.pk}/default/0.png"):
        assert_error_image(client.get(url))
    assert len(reads) == 1
    # The frame's small copy and the image's thumbnail (the middle frame, default window): known.
    for url in ("default/0.thumb.png", "thumb.png"):
        assert_error_image(client.get(f"/images/{image.pk}/{url}"))
    assert len(reads) == 1
    # Another window finds out once for itself, then knows too.
    for _ in range(2):
        assert_error_image(client.get(f"/images/{image.pk}/bone/0.png"))
    assert len(reads) == 2
    with default_storage.open(failure_path(image.pk, "default", 0)) as marker:
        assert "the JPEG codestream declares 20000 x 20000 pixels" in marker.read().decode()


def test_a_frame_that_fails_to_decode_is_decoded_once(client, stored, monkeypatch):
    image = stored(sample_bytes("JPEG-lossy.dcm"))  # within the bounds; no installed codec decodes it
    decodes = counted(monkeypatch, render, "pixel_array")
    for _ in range(2):
        assert_error_image(client.get(f"/images/{image.pk}/default/0.png"))
    assert len(decodes) == 1


def test_any_error_of_a_decoder_is_an_error_image_not_a_500(client, stored, monkeypatch):
    image = stored(sample_bytes("CT_small.dcm"))

    def out_of_memory(*args, **kwargs):
        raise MemoryError("the codec could not allocate its buffers")

    monkeypatch.setattr(rendering, "render_frame", out_of_memory)
    assert_error_image(client.get(f"/images/{image.pk}/default/0.png"))
    with default_storage.open(failure_path(image.pk, "default", 0)) as marker:
        assert marker.read().decode() == "MemoryError: the codec could not allocate its buffers"


def test_the_failure_goes_with_the_renders_and_a_mended_file_renders_again(client, stored):
    image = stored(bombs.truncated_jpeg_dicom())
    assert_error_image(client.get(f"/images/{image.pk}/default/0.png"))
    default_storage.delete(image.file.name)
    default_storage.save(image.file.name, ContentFile(sample_bytes("CT_small.dcm")))
    assert_error_image(client.get(f"/images/{image.pk}/default/0.png"))  # remembered
    renders_delete({image.pk})
    assert not default_storage.exists(failure_path(image.pk, "default", 0))
    assert client.get(f"/images/{image.pk}/default/0.png").status_code == 200


def test_a_stored_picture_cut_short_is_an_error_image(client, stored):
    picture = bombs.encoded(bombs.gradient(), "PNG")
    image = stored(picture[:-12], name="key.png", original=picture)
    assert image.kind == Image.Kind.RASTER
    assert_error_image(client.get(f"/images/{image.pk}/default/0.png"))
    with default_storage.open(failure_path(image.pk, "default", 0)) as marker:
        assert marker.read().decode() == "the PNG image is truncated (it ends before its IEND chunk)"


def test_a_stored_frame_over_a_lowered_memory_limit_is_an_error_image(client, stored, settings):
    image = stored(sample_bytes("CT_small.dcm"))
    settings.DECODE_MEMORY_LIMIT = 100_000
    response = client.get(f"/images/{image.pk}/default/0.png")
    assert_error_image(response)
    with default_storage.open(failure_path(image.pk, "default", 0)) as marker:
        assert "over the decoding limit of 0 MiB (DECODE_MEMORY_LIMIT)" in marker.read().decode()
