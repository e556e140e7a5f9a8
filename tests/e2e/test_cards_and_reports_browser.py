"""Issue 19 in Chromium at 1366 x 900 and 390 x 844: case cards with their key images, and the
de-identification summary in the admin. Screenshots go to ``test-artifacts/``."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Case
from imaging.demo import demo_images_ensure
from imaging.inputs import InputFile
from imaging.models import Image
from imaging.services import images_ingest, series_create
from tests.helpers.accounts import make_user
from tests.helpers.ingest import blank_png
from tests.helpers.screens import SCREENS
from tests.helpers.viewer import sample_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archive(seeded):
    """The seed cases with the demo's sample images, a published case without images and one whose only
    image waits for its burned-in text review."""
    demo_images_ensure()
    now = timezone.now()
    Case.objects.create(slug="no-images", title="Case without images", status="published", published_at=now)
    flagged = Case.objects.create(slug="flagged-only", title="Case with a flagged image", status="published",
                                  published_at=now)  # fmt: skip
    series = series_create(case=flagged, label="Axial", modality="MR")
    images_ingest(series=series, files=[sample_file("MR_small.dcm")])
    Image.objects.filter(series=series).update(needs_review=True, review_reason="test")
    return seeded


def loaded_images(page) -> list[int]:
    """The natural width of every card image, once all have loaded (0 would be a broken image)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.card-thumb img')].every(img => img.complete)"
    )
    return page.evaluate(
        "() => [...document.querySelectorAll('.card-thumb img')].map(img => img.naturalWidth)"
    )


@pytest.mark.parametrize("screen", SCREENS)
def test_case_cards_show_their_key_images(page, live_server, archive, screenshot, screen):
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(f"{live_server.url}/cases/")
    cards = page.locator(".case-card")
    with_image = cards.filter(has=page.locator(".card-thumb img"))
    expect(with_image).to_have_count(3)  # the three seed cases with sample images
    assert all(width > 0 for width in loaded_images(page))
    for title in ("Case without images", "Case with a flagged image"):
        card = cards.filter(has_text=title)
        expect(card.locator(".card-thumb-empty")).to_have_text("No images")
        expect(card.locator("img")).to_have_count(0)
    box = with_image.first.locator(".card-thumb").bounding_box()
    assert box["height"] > 100 and box["width"] <= page.viewport_size["width"]
    # The seed cases show stand-in sample files: each card says so on its key image, as the viewer does.
    badges = with_image.locator(".card-thumb .badge-sample")
    expect(badges).to_have_count(3)
    expect(badges.first).to_have_text("Sample image — not from this patient")
    badge = badges.first.bounding_box()
    assert box["x"] <= badge["x"] and badge["x"] + badge["width"] <= box["x"] + box["width"]
    assert box["y"] <= badge["y"] and badge["y"] + badge["height"] <= box["y"] + box["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot("list")
    with_image.first.scroll_into_view_if_needed()
    page.get_by_role("button", name="Hide diagnoses").click()
    expect(page.locator(".card-diagnosis").first).to_be_hidden()
    for alt in page.locator(".card-thumb img").evaluate_all("images => images.map(img => img.alt)"):
        assert alt.endswith(" image") and "haemangioma" not in alt.lower()
    screenshot("diagnoses-hidden")
    page.goto(f"{live_server.url}/")
    assert all(width > 0 for width in loaded_images(page))
    page.locator(".case-card").first.scroll_into_view_if_needed()
    screenshot("home")
    assert [url for url in failed if "favicon" not in url] == []


@pytest.mark.parametrize("screen", SCREENS)
def test_the_deidentification_summary_is_short_with_the_details_folded(
    page, live_server, make_case, screenshot, screen
):
    make_user("summary-admin", is_staff=True, is_superuser=True)
    case = make_case(slug="summary-case")
    series = series_create(case=case, label="Axial CT", modality="CT")
    images_ingest(series=series, files=[sample_file("CT_small.dcm"), sample_file("MR_small.dcm")])
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "summary-admin")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/admin/imaging/series/{series.pk}/change/")
    report = page.locator(".upload-report")
    expect(report).to_contain_text("1 accepted, 1 rejected")
    expect(report).to_contain_text("the file is MRI, the series is CT")
    table = report.locator("table.deid-summary")
    expect(table.locator("tbody th")).to_contain_text(
        ["Names and IDs", "Dates and times", "UIDs", "Private tags"]
    )
    folded = report.locator("details p").first
    expect(folded).to_be_hidden()
    expect(report).not_to_contain_text("Needs review")
    report.scroll_into_view_if_needed()
    screenshot("series-folded")
    report.locator("details summary").click()
    expect(folded).to_be_visible()
    folded.scroll_into_view_if_needed()
    expect(folded).to_contain_text("Removed in 1 DICOM file(s)")
    expect(folded).to_contain_text("InstitutionName")
    screenshot("series-unfolded")

    image = series.images.get()
    page.goto(f"{live_server.url}/admin/imaging/image/{image.pk}/change/")
    page.get_by_text("File and de-identification").click()  # the file's facts are folded at first
    expect(page.locator("table.deid-summary")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Needs review")
    expect(page.locator(".field-review")).to_contain_text("—")
    page.locator("table.deid-summary").scroll_into_view_if_needed()
    screenshot("image-unflagged")

    # A PNG carries no modality (accepted in a CT series) and waits for an editor's look.
    images_ingest(series=series, files=[InputFile("key.png", blank_png())])
    flagged = series.images.get(kind="raster")
    page.goto(f"{live_server.url}/admin/imaging/image/{flagged.pk}/change/")
    expect(page.locator(".field-review")).to_contain_text("Needs review")
    page.locator(".field-review").scroll_into_view_if_needed()
    screenshot("image-flagged")
