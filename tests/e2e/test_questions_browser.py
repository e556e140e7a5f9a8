"""A single-best-answer question in Chromium, on a desktop (1366 x 900) and a phone (390 x 844): the
diagnosis, then the question with its options, the server's mark with every rationale, then the reveal."""

import pytest
from playwright.sync_api import expect

from cases.models import Case
from tests.helpers.questions import OPTIONS, add_question

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CASE = "acute-back-pain-29m"


@pytest.fixture
def case(seeded):
    case = Case.objects.get(slug=CASE)
    add_question(case)
    return case


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_resident_answers_a_question(page, live_server, case, screenshot, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/cases/{CASE}/quiz/")
    page.fill("#id_guess", "EMH")
    page.get_by_role("button", name="Answer, then the questions").click()

    expect(page.locator("#question-heading")).to_have_text("Question 1 of 1")
    options = page.locator(".question-option")
    expect(options).to_have_count(len(OPTIONS))
    for _, _, rationale in OPTIONS:
        expect(page.locator("body")).not_to_contain_text(rationale)
    assert no_sideways_scroll(page)
    screenshot("question")

    correct = OPTIONS[0][0]
    page.get_by_label(correct).check()
    page.get_by_role("button", name="Answer", exact=True).click()

    expect(page.locator(".your-answer")).to_contain_text("right")
    expect(page.locator(".is-chosen.is-correct")).to_contain_text(correct)
    for _, _, rationale in OPTIONS:
        expect(page.locator(".question-options")).to_contain_text(rationale)
    assert no_sideways_scroll(page)
    page.locator(".question-options").scroll_into_view_if_needed()
    screenshot("answered")

    page.get_by_role("link", name="See the answer").click()
    expect(page.locator("h1")).to_have_text("Quiz case: the answer")
    expect(page.locator(".question-results")).to_contain_text("1 of 1 right")
    assert no_sideways_scroll(page)
    page.locator(".question-results").scroll_into_view_if_needed()
    screenshot("revealed")
