"""Quiz mode in Chromium: log in, start a session from filters, answer, reveal, override, go on, score."""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Case
from imaging.demo import demo_images_ensure
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db(transaction=True)

# The two seed cases in the thoracic spine, and what the resident answers for each.
ANSWERS = {
    "acute-back-pain-29m": ("EMH", "correct"),
    "lumbosacral-mri-and-chest-ct": (
        "extramedullary haematopoiesis",
        "in the differential, not the diagnosis",
    ),
}


@pytest.fixture
def archive(seeded):
    demo_images_ensure()
    # No role group: a transactional test may run after another has flushed the groups; residents need none.
    make_user("browser-resident")
    return {case.slug: case for case in Case.objects.select_related("final_diagnosis")}


def log_in(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/?next=/quiz/")
    page.fill("#id_username", "browser-resident")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    expect(page).to_have_url(f"{live_server.url}/quiz/")


def current_slug(page) -> str:
    return re.search(r"/cases/([\w-]+)/quiz/", page.url).group(1)


def test_a_resident_runs_a_quiz_session_in_the_browser(page, live_server, archive, screenshot):
    log_in(page, live_server)
    page.select_option("#id_region", "thoracic-spine")
    page.select_option("#id_count", "5")
    screenshot("start")
    page.get_by_role("button", name="Start the quiz").click()

    for position in (1, 2):
        expect(page.locator("h1")).to_have_text("Quiz case")
        expect(page.locator(".quiz-position")).to_contain_text(f"case {position} of 2")
        slug = current_slug(page)
        case = archive[slug]
        body = page.locator("body")
        expect(body).not_to_contain_text(case.final_diagnosis.name)
        expect(body).not_to_contain_text(case.title)
        expect(page.locator(".badge-sample").first).to_be_visible()
        screenshot(f"case-{position}-question")

        guess, expected_mark = ANSWERS[slug]
        page.fill("#id_guess", guess)
        page.fill("#id_differential_1", "lymphoma")
        page.get_by_role("button", name="Reveal the answer").click()

        expect(page.locator("h1")).to_have_text("Quiz case: the answer")
        expect(page.locator(".final-diagnosis")).to_have_text(case.final_diagnosis.name)
        expect(page.locator(".final-answer")).to_have_text(f"Final diagnosis: {case.final_diagnosis.name}")
        expect(page.locator(".your-answer")).to_contain_text(f"You answered “{guess}”: {expected_mark}.")
        # The full stop follows the mark's chip with no gap between them.
        after_chip = page.locator(".your-answer .mark").evaluate(
            """mark => {
              const range = document.createRange();
              range.setStart(mark.nextSibling, 0);
              range.setEnd(mark.nextSibling, 1);
              const gap = range.getBoundingClientRect().left - mark.getBoundingClientRect().right;
              return [range.toString(), gap];
            }"""
        )
        assert after_chip[0] == "." and abs(after_chip[1]) < 1.5
        if expected_mark != "correct":  # the answer is an item of the case's differential, marked as theirs
            answered = page.locator(
                "#differential li", has=page.locator(".listed-mark", has_text="Your answer")
            )
            expect(answered).to_have_count(1)
            expect(answered).to_contain_text("Extramedullary haematopoiesis")
        expect(page.get_by_role("link", name="Open the full case page").first).to_have_attribute(
            "href", f"/cases/{slug}/"
        )
        screenshot(f"case-{position}-revealed")

        if expected_mark != "correct":
            page.select_option("#id_override", "correct")
            page.get_by_role("button", name="Save my mark").click()
            expect(page.locator(".your-override")).to_contain_text("You count it as correct")
            screenshot(f"case-{position}-overridden")

        next_step = "Next case" if position == 1 else "See your score"
        page.get_by_role("link", name=next_step).click()

    expect(page.locator("h1")).to_have_text("Your score")
    expect(page.locator(".quiz-score")).to_contain_text("2 of 2 correct")
    expect(page.locator(".quiz-table tbody tr")).to_have_count(2)
    screenshot("score")

    page.goto(f"{live_server.url}/quiz/progress/")
    expect(page.locator(".accuracy-bar").first).to_be_visible()
    screenshot("progress")
