"""The lossless values the viewer windows in the page, and the preset fallback of the PNG frames."""

import gzip
import io
import json

import numpy as np
import pydicom
import pytest
from django.utils import timezone
from PIL import Image as PILImage
from pydicom.pixels.processing import apply_modality_lut

from cases.models import Case
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.rendering import render_path, renders_delete
from imaging.services import images_ingest, series_create
from tests.helpers.viewer import sample_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(make_case, diagnosis):
    """CT_small (no window of its own), MR_small (a window), the 15-frame dose grid (values past int16),
    a colour secondary capture and a PNG upload, each its own series of one case."""
    case = make_case(slug="values-case", final_diagnosis=diagnosis("Chordoma"))
    found = {}
    for label, modality, upload in [
        ("CT", "CT", sample_file("CT_small.dcm")),
        ("MR", "MR", sample_file("MR_small.dcm")),
        ("Dose", "OT", sample_file("rtdose.dcm")),
        ("Colour", "OT", sample_file("SC_rgb_small_odd.dcm")),  # a secondary capture: Modality OT
        ("Scan", "CT", InputFile("scan.png", png_upload())),
    ]:
        series = series_create(case=case, label=label, modality=modality)
        result = images_ingest(series=series, files=[upload])
        assert not result.rejected, result.rejected
        found[label] = series.images.get()
    # The secondary capture and the PNG are flagged for burned-in text on arrival; these test files hold none.
    Image.objects.filter(series__study__case=case).update(reviewed_at=timezone.now())
    return found


def png_upload() -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1)), "L").save(buffer, "PNG")
    return buffer.getvalue()


def stored_values(image: Image, frame: int = 0) -> np.ndarray:
    """What pydicom makes of the stored (de-identified) file: the Modality LUT output of the frame."""
    with image.file.open("rb") as stored:
        dataset = pydicom.dcmread(stored)
    pixels = dataset.pixel_array
    if int(dataset.get("NumberOfFrames") or 1) > 1:
        pixels = pixels[frame]
    return apply_modality_lut(pixels, dataset)


def fetched(response) -> tuple[dict, np.ndarray]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    info = json.loads(response["X-Frame"])
    body = (
        gzip.decompress(response.content) if response.get("Content-Encoding") == "gzip" else response.content
    )
    dtype = {"int16": "<i2", "float32": "<f4"}[info["type"]]
    return info, np.frombuffer(body, dtype=dtype).reshape(info["height"], info["width"])


def test_a_ct_frame_is_its_hounsfield_values_as_int16(client, images):
    info, values = fetched(client.get(f"/images/{images['CT'].pk}/values/0.raw"))
    assert (info["width"], info["height"], info["type"], info["invert"]) == (128, 128, "int16", False)
    expected = stored_values(images["CT"])
    assert np.array_equal(values, expected)
    assert values.min() < -800  # air: rescaled (intercept -1024), not the stored values
    assert set(info) == {"width", "height", "type", "invert", "windows"}  # numbers and preset names only
    # CT_small has no window of its own: the server stretches it over the 0.5-99.5 percentiles.
    low, high = np.percentile(expected.astype(np.float32), [0.5, 99.5])
    center, width, function = info["windows"]["default"]
    assert function == "LINEAR_EXACT"
    assert center == pytest.approx((low + high) / 2) and width == pytest.approx(high - low)
    assert info["windows"]["bone"] == [400.0, 1800.0, "LINEAR"]
    assert set(info["windows"]) == {"default", "soft_tissue", "bone", "lung", "brain"}


def test_an_mr_frame_carries_its_file_window_and_full_range(client, images):
    info, values = fetched(client.get(f"/images/{images['MR'].pk}/values/0.raw"))
    assert np.array_equal(values, stored_values(images["MR"]))
    assert info["windows"]["default"] == [600.0, 1600.0, "LINEAR"]
    low, high = float(values.min()), float(values.max())
    assert info["windows"]["full"] == [(low + high) / 2, high - low, "LINEAR_EXACT"]


def test_values_that_do_not_fit_int16_come_as_float32(client, images):
    info, values = fetched(client.get(f"/images/{images['Dose'].pk}/values/14.raw"))
    assert info["type"] == "float32" and (info["width"], info["height"]) == (10, 10)
    assert np.array_equal(values, stored_values(images["Dose"], 14).astype(np.float32))
    assert values.max() > 32767
    assert client.get(f"/images/{images['Dose'].pk}/values/15.raw").status_code == 404


def test_gzip_is_sent_to_a_client_that_accepts_it(client, images):
    url = f"/images/{images['CT'].pk}/values/0.raw"
    plain = client.get(url)
    compressed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain and compressed["Content-Encoding"] == "gzip"
    assert len(compressed.content) < len(plain.content) == 128 * 128 * 2
    assert gzip.decompress(compressed.content) == plain.content
    assert "Accept-Encoding" in compressed["Vary"] and "Accept-Encoding" in plain["Vary"]


def test_values_are_cached_like_the_png_frames(client, images, media_root):
    image = images["CT"]
    response = client.get(f"/images/{image.pk}/values/0.raw")
    png = client.get(f"/images/{image.pk}/default/0.png")
    assert response["Cache-Control"] == png["Cache-Control"] == "private, max-age=86400"
    assert response["X-Content-Type-Options"] == "nosniff"
    kept = media_root / render_path(image.pk, "values-0.bin")
    assert kept.exists()
    # The second answer comes from storage: the stored file is what is answered.
    head = kept.read_bytes().partition(b"\n")[0]
    kept.write_bytes(head + b"\n" + gzip.compress(b"\x01\x00" * 128 * 128))
    again = client.get(f"/images/{image.pk}/values/0.raw")
    assert again.content == b"\x01\x00" * 128 * 128
    renders_delete({image.pk})
    assert not kept.exists()


def test_colour_images_and_uploads_have_no_values(client, images):
    for label in ("Colour", "Scan"):
        response = client.get(f"/images/{images[label].pk}/values/0.raw")
        assert response.status_code == 404, label
    assert client.get(f"/images/{images['Colour'].pk}/default/0.png").status_code == 200


def test_values_are_hidden_exactly_like_the_frames(client, images, resident, editor):
    Case.objects.filter(slug="values-case").update(status=Case.Status.DRAFT, published_at=None)
    urls = [f"/images/{images['CT'].pk}/values/0.raw", f"/images/{images['CT'].pk}/default/0.png"]
    assert [client.get(url).status_code for url in urls] == [404, 404]
    client.force_login(resident)
    assert [client.get(url).status_code for url in urls] == [404, 404]
    client.force_login(editor)
    assert [client.get(url).status_code for url in urls] == [200, 200]


def test_a_monochrome1_frame_says_it_is_inverted_and_keeps_its_voi_function(client, make_case, diagnosis):
    dataset = pydicom.dcmread(io.BytesIO(sample_file("MR_small.dcm").data))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.VOILUTFunction = "SIGMOID"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    case = make_case(slug="inverted-case", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Inverted", modality="MR")
    images_ingest(series=series, files=[InputFile("inverted.dcm", buffer.getvalue())])
    info, _ = fetched(client.get(f"/images/{series.images.get().pk}/values/0.raw"))
    assert info["invert"] is True
    assert info["windows"]["default"] == [600.0, 1600.0, "SIGMOID"]


# -- a preset an image lacks -------------------------------------------------------------------------


def test_a_preset_of_another_modality_falls_back_to_the_default_window(client, images):
    mr, scan = images["MR"], images["Scan"]
    bone = client.get(f"/images/{mr.pk}/bone/0.png")
    assert bone.status_code == 200
    assert bone.content == client.get(f"/images/{mr.pk}/default/0.png").content
    assert client.get(f"/images/{mr.pk}/lung/0.thumb.png").status_code == 200
    assert client.get(f"/images/{scan.pk}/soft_tissue/0.png").status_code == 200
    ct_full = client.get(f"/images/{images['CT'].pk}/full/0.png")  # an MR preset asked of a CT slice
    assert ct_full.content == client.get(f"/images/{images['CT'].pk}/default/0.png").content


def test_a_name_that_is_no_preset_is_still_refused(client, images):
    assert client.get(f"/images/{images['MR'].pk}/lung-window-xyz/0.png").status_code == 404
    assert client.get(f"/images/{images['MR'].pk}/bone/1.png").status_code == 404
