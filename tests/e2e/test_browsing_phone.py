"""A resident on a phone (390 x 844) and on a desktop (1366 x 900): the case list's filters, the spoiler
switch and the progress page."""

import pytest
from playwright.sync_api import expect

from quiz.models import Mark, QuizAttempt
from tests.helpers.accounts import make_user

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archive(seeded):
    return seeded


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_case_list_shows_cases_first_on_a_phone_and_filters_beside_them_on_a_desktop(
    page, live_server, archive, screenshot, viewport
):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/cases/")
    first_card = page.locator(".case-card").first
    facet = page.locator("#facet-region")
    if viewport is PHONE:
        expect(facet).to_be_hidden()
        assert first_card.bounding_box()["y"] < viewport["height"]  # the first case without scrolling
        screenshot("phone-folded")
        page.get_by_text("Filters", exact=True).click()
        expect(facet).to_be_visible()
        screenshot("phone-unfolded")
    else:
        expect(facet).to_be_visible()
        screenshot("desktop")
    assert page_width(page) <= viewport["width"]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_hide_diagnoses_in_the_browser(page, live_server, archive, screenshot, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/cases/")
    expect(page.locator(".card-diagnosis").first).to_be_visible()
    page.get_by_role("button", name="Hide diagnoses").click()
    expect(page.locator(".card-diagnosis").first).to_be_hidden()
    expect(page.locator("body")).not_to_contain_text("Intraosseous haemangioma", use_inner_text=True)
    screenshot("hidden")
    page.goto(f"{live_server.url}/")  # remembered on the next page
    expect(page.locator("body")).not_to_contain_text("Leukaemic infiltration", use_inner_text=True)
    page.get_by_role("button", name="Show diagnoses").click()
    expect(page.locator("body")).to_contain_text("Leukaemic infiltration", use_inner_text=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_progress_fits_the_screen_with_every_outcome_as_a_percentage(
    page, live_server, archive, screenshot, viewport
):
    from cases.models import Case

    # No role group: a transactional test may run after another has flushed the groups; residents need none.
    resident = make_user("phone-resident")
    for slug, mark in [
        ("back-and-left-leg-pain-47f", Mark.CORRECT),
        ("acute-back-pain-29m", Mark.CLOSE),
        ("lumbosacral-mri-and-chest-ct", Mark.DIFFERENTIAL),
        ("lumbosacral-mri-and-chest-ct", Mark.WRONG),
    ]:
        QuizAttempt.objects.create(user=resident, case=Case.objects.get(slug=slug), guess="g", mark=mark)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "phone-resident")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/quiz/progress/")
    expect(page.locator(".quiz-score")).to_contain_text(
        "25% correct, 25% close, 25% in the case's differential, 25% not the diagnosis"
    )
    assert page_width(page) <= viewport["width"]
    # Each legend item is one line: its swatch beside its words, within the screen.
    for item in page.locator(".bar-legend .legend").all():
        swatch_and_words = item.evaluate("item => item.getClientRects().length")
        box = item.bounding_box()
        assert swatch_and_words == 1 and box["height"] < 30 and box["x"] + box["width"] <= viewport["width"]
    # The wrong bar is as visible as the others: its colour differs clearly from the page.
    colour = page.locator(".bar-wrong").first.evaluate("bar => getComputedStyle(bar).fill")
    assert colour == "rgb(179, 58, 58)"
    screenshot("progress")
