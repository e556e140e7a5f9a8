"""Issue 19 in Chromium at 1366 x 900 and 390 x 844, on the case list: "Did you mean" on SQLite, the
favicon, the region facet as a tree, and the same modality names on cards and filters. Screenshots go
to ``test-artifacts/``."""

import pytest
from playwright.sync_api import expect

from cases.modalities import MODALITY_CHOICES
from tests.helpers.screens import SCREENS, fits_the_width, open_filters_on_a_phone

pytestmark = pytest.mark.django_db(transaction=True)

# The codes a reader would not say ("MR", "NM", "CR" …); "CT" is both.
BARE_CODES = {code for code, label in MODALITY_CHOICES if code != label}


@pytest.fixture
def archive(seeded):
    return seeded


@pytest.mark.sqlite  # PostgreSQL corrects typos with pg_trgm, another path (tests/cases/test_search*.py)
@pytest.mark.parametrize("screen", SCREENS)
def test_did_you_mean_offers_a_correction_that_finds_the_case(page, live_server, archive, screenshot, screen):
    page.goto(f"{live_server.url}/cases/?q=hemangoma")
    # The typo finds the case already (the correction is searched too), and offers the spelling.
    expect(page.locator(".result-count")).to_contain_text("1 case matches “hemangoma”")
    expect(page.locator(".case-card")).to_contain_text("Intraosseous haemangioma")
    correction = page.locator(".did-you-mean a")
    expect(correction).to_have_text("hemangioma")
    assert fits_the_width(page)
    screenshot("did-you-mean")
    correction.click()
    expect(page).to_have_url(f"{live_server.url}/cases/?q=hemangioma")
    expect(page.locator(".result-count")).to_contain_text("1 case matches “hemangioma”")
    expect(page.locator(".case-card")).to_have_count(1)
    expect(page.locator(".case-card")).to_contain_text("Intraosseous haemangioma")
    expect(page.locator(".did-you-mean")).to_have_count(0)
    screenshot("corrected")


@pytest.mark.parametrize("screen", SCREENS)
def test_a_page_load_fetches_the_favicon_without_a_404(page, live_server, archive, screenshot, screen):
    responses = []
    page.on("response", lambda response: responses.append(response))
    with page.expect_response(lambda response: "favicon" in response.url) as fetched:
        page.goto(f"{live_server.url}/cases/")
    icon = fetched.value
    assert icon.url == f"{live_server.url}{page.locator('link[rel=icon]').get_attribute('href')}"
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/"), icon.headers["content-type"]
    screenshot("list")
    assert [(response.url, response.status) for response in responses if response.status >= 400] == []
    # Pages without the icon link (the admin's) make a browser ask for /favicon.ico; headless Chromium
    # does not, so the test asks, through the page's own context.
    answer = page.request.get(f"{live_server.url}/favicon.ico")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("image/"), answer.headers["content-type"]
    assert len(answer.body()) > 0


def facet_link(page, facet: str, label: str):
    return page.locator(f"section[aria-labelledby='facet-{facet}'] li a", has_text=label)


@pytest.mark.parametrize("screen", SCREENS)
def test_the_region_facet_shows_the_tree(page, live_server, archive, screenshot, screen):
    page.goto(f"{live_server.url}/cases/")
    open_filters_on_a_phone(page, screen)
    spine = facet_link(page, "region", "Spine").first
    expect(spine).to_be_visible()
    children = ["Thoracic spine", "Lumbar spine", "Sacrum and coccyx"]
    spine_box = spine.bounding_box()
    for name in children:
        child = facet_link(page, "region", name)
        expect(child).to_be_visible()
        child_box = child.bounding_box()
        assert child_box["x"] >= spine_box["x"] + 10, (name, child_box, spine_box)  # visibly indented
        assert child_box["y"] > spine_box["y"]  # under its parent
    labels = facet_names(page, "region")
    at = labels.index("Spine")
    assert set(labels[at + 1 : at + 1 + len(children)]) == set(children), labels  # right after it
    facet_link(page, "region", "Spine").first.scroll_into_view_if_needed()
    assert fits_the_width(page)
    screenshot("region-tree")


def facet_names(page, facet: str) -> list[str]:
    """A facet's names in order, without their counts."""
    return page.locator(f"section[aria-labelledby='facet-{facet}'] li a").evaluate_all(
        "links => links.map(link => link.firstChild.textContent.trim())"
    )


def chip_labels(page) -> set[str]:
    return set(page.locator(".case-card .chip-modality").all_inner_texts())


@pytest.mark.parametrize("screen", SCREENS)
def test_cards_and_filters_name_the_modalities_alike(page, live_server, archive, screenshot, screen):
    page.goto(f"{live_server.url}/cases/")
    expect(page.locator(".case-card")).to_have_count(3)
    open_filters_on_a_phone(page, screen)
    expect(page.locator("#facet-modality")).to_be_visible()
    cards, facet = chip_labels(page), set(facet_names(page, "modality"))
    assert cards == facet == {"Radiograph", "Nuclear medicine", "MRI", "CT"}
    assert not cards & BARE_CODES  # "MRI", never "MR"
    # The modality filter's own menu names them alike too.
    menu = set(page.locator("#id_modality option").all_inner_texts())
    assert facet <= menu and "MR" not in menu
    page.locator("#facet-modality").scroll_into_view_if_needed()
    screenshot("modality-facet")
    page.locator(".case-card .chip-modality").first.scroll_into_view_if_needed()
    screenshot("modality-chips")
