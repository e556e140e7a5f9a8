"""The case page stays light: HTML plus the CSS and JS it references under 100 KB (images
excluded), and its images are left to the browser to fetch when they come into view, a thumbnail
first for any frame larger than one."""

import json
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from imaging.services import images_ingest, series_create
from tests.helpers.ingest import large_ct_file
from tests.helpers.viewer import build_viewer_case

pytestmark = pytest.mark.django_db

PAGE_WEIGHT_LIMIT = 100 * 1024


@pytest.fixture
def viewer_case(make_case, diagnosis):
    return build_viewer_case(make_case, diagnosis)


def referenced_assets(html: str) -> list[str]:
    assets = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html)
    assets += re.findall(r'<script[^>]+src="([^"]+)"', html)
    return list(dict.fromkeys(assets))


def test_the_case_page_with_its_css_and_js_weighs_under_100_kb(client, viewer_case):
    html = client.get("/cases/viewer-case/").content
    assets = referenced_assets(html.decode())
    assert any(asset.endswith(".css") for asset in assets) and any(asset.endswith(".js") for asset in assets)
    sizes = {}
    for asset in assets:
        found = finders.find(asset.removeprefix(settings.STATIC_URL))
        assert found, f"{asset} is referenced but not a static file"
        with open(found, "rb") as file:
            sizes[asset] = len(file.read())
    total = len(html) + sum(sizes.values())
    assert total <= PAGE_WEIGHT_LIMIT, f"{total} bytes: HTML {len(html)}, {sizes}"


def test_each_viewer_starts_with_one_lazily_loaded_image(client, viewer_case):
    html = client.get("/cases/viewer-case/").content.decode()
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) == html.count('class="stack-viewer"') == 3
    for tag in images:
        assert 'loading="lazy"' in tag, tag
        assert re.search(r'width="\d+" height="\d+"', tag), f"no size reserved: {tag}"


def test_a_frame_larger_than_a_thumbnail_starts_as_its_thumbnail(client, viewer_case):
    large = series_create(case=viewer_case["case"], label="Axial CT large", modality="CT")
    images_ingest(series=large, files=[large_ct_file()])
    html = client.get("/cases/viewer-case/").content.decode()
    stacks = {
        stack["label"]: stack
        for stack in map(
            json.loads, re.findall(r'<script id="stack-\d+" type="application/json">(.*?)</script>', html)
        )
    }
    first = dict(
        re.findall(r'aria-label="([^"]+): image stack.*?<img class="slice" src="([^"]+)"', html, re.S)
    )
    assert first.keys() == stacks.keys() == {"Axial T1", "Axial T2", "Axial CT", "Axial CT large"}
    for label, stack in stacks.items():
        assert first[label] == stack["start"]["thumbnail"], label
    pk = large.images.get().pk
    assert first["Axial CT large"] == f"/images/{pk}/default/0.thumb.png"
    assert stacks["Axial CT large"]["start"]["src"] == f"/images/{pk}/default/0.png"
    assert first["Axial CT"].endswith("/bone/0.png")  # 128 x 128: no smaller copy to fetch first
    assert client.get(first["Axial CT large"]).status_code == 200
