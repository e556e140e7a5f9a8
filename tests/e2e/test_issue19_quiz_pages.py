"""Issue 19 in Chromium at 1366 x 900 and 390 x 844: the quiz start page offers only what published cases
have, the revealed answer reads top-down in plain words, and every case page links to its quiz.
Screenshots go to ``test-artifacts/``."""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Case, Region
from tests.helpers.screens import SCREENS, fits_the_width

pytestmark = pytest.mark.django_db(transaction=True)

HAEMANGIOMA_CASE = "back-and-left-leg-pain-47f"  # final diagnosis: intraosseous haemangioma
# Words the revealed page used to show: the server's internals rather than a reader's words.
INTERNAL_WORDS = ["server's mark", "Matched name", "Your own mark: None", "None"]


@pytest.fixture
def archive(seeded, make_case):
    """The seed cases (radiograph, nuclear medicine, MRI, CT), a published digital radiograph, and a
    draft whose ultrasound, region and tag no published case has."""
    make_case(slug="digital-radiograph", findings=("DX",), regions=[Region.objects.get(slug="chest-wall")])
    make_case(
        slug="draft-ultrasound",
        status=Case.Status.DRAFT,
        findings=("US",),
        regions=[Region.objects.get(slug="brain")],
        tags=["draft-only-tag"],
    )
    return seeded


def option_texts(page, select: str) -> list[str]:
    return [text.strip() for text in page.locator(f"{select} option").all_inner_texts()]


@pytest.mark.parametrize("screen", SCREENS)
def test_the_quiz_start_page_offers_only_what_published_cases_have(
    page, live_server, archive, screenshot, screen
):
    page.goto(f"{live_server.url}/quiz/")
    # CR (a seed case) and DX (the new case) are one choice, counted together; the draft's US is not offered.
    assert option_texts(page, "#id_modality") == [
        "Any modality",
        "Radiograph (2)",
        "CT (1)",
        "MRI (3)",
        "Nuclear medicine (1)",
    ]
    regions = option_texts(page, "#id_region")
    assert "Thoracic spine (2)" in regions and "Chest wall (1)" in regions
    assert not [region for region in regions if region.startswith(("Brain", "Cervical spine", "Abdomen"))]
    tags = option_texts(page, "#id_tag")
    assert "haematology (2)" in tags and not [tag for tag in tags if "draft-only-tag" in tag]
    for text in regions[1:] + tags[1:] + option_texts(page, "#id_diagnosis")[1:]:
        assert re.search(r" \([1-9]\d*\)$", text), text  # every choice with its count of cases
    assert fits_the_width(page)
    screenshot("start")

    # The thoracic spine's cases are MRI and CT: no radiograph among them.
    page.select_option("#id_region", "thoracic-spine")
    page.select_option("#id_modality", "CR")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Start the quiz").click()
    assert answer.value.status == 200
    expect(page.locator(".friendly-note")).to_contain_text("No published case matches these choices now")
    expect(page.locator(".error")).to_have_count(0)
    expect(page.get_by_role("button", name="Start the quiz")).to_be_visible()
    assert fits_the_width(page)
    screenshot("no-match")


def answer_the_quiz(page, live_server, guess: str, differential: str = "chordoma") -> None:
    page.goto(f"{live_server.url}/cases/{HAEMANGIOMA_CASE}/quiz/")
    page.fill("#id_guess", guess)
    page.fill("#id_differential_1", differential)
    page.get_by_role("button", name="Reveal the answer").click()
    expect(page.locator("h1")).to_have_text("Quiz case: the answer")


def check_the_revealed_page(page, guess: str, words: str) -> None:
    """The final diagnosis first, then the resident's answer in plain words, the diagnosis marked in the
    case's differential, and nothing of the server's internals."""
    final = page.locator(".final-answer")
    answered = page.locator(".your-answer")
    expect(final).to_have_text("Final diagnosis: Intraosseous haemangioma")
    expect(answered).to_contain_text(f"You answered “{guess}”: {words}")
    assert final.bounding_box()["y"] < answered.bounding_box()["y"]  # read top-down
    for differential in (page.locator(".differential-compare"), page.locator("#differential")):
        marked = differential.locator("li.is-final")
        expect(marked).to_have_count(1)
        expect(marked).to_contain_text("Intraosseous haemangioma")
        expect(marked.locator(".final-mark")).to_be_visible()
    body = page.locator("body").inner_text()
    for internal in INTERNAL_WORDS:
        assert internal not in body, internal


@pytest.mark.parametrize("screen", SCREENS)
def test_the_revealed_answer_reads_top_down_for_a_correct_and_a_close_answer(
    page, live_server, archive, screenshot, screen
):
    answer_the_quiz(page, live_server, "intraosseous haemangioma")
    check_the_revealed_page(page, "intraosseous haemangioma", "correct")
    assert fits_the_width(page)
    screenshot("correct")
    answer_the_quiz(page, live_server, "intraoseous hemangioma")  # a misspelling of the diagnosis
    check_the_revealed_page(page, "intraoseous hemangioma", "close")
    page.locator(".your-answer").scroll_into_view_if_needed()
    screenshot("close")


@pytest.mark.parametrize("screen", SCREENS)
def test_the_revealed_answer_says_a_wrong_answer_is_not_the_diagnosis(
    page, live_server, archive, screenshot, screen
):
    # The issue's own words, "not the diagnosis": this fails where the page still says "wrong" (until
    # the template change of issue 19 is merged).
    answer_the_quiz(page, live_server, "osteosarcoma")
    page.locator(".your-answer").scroll_into_view_if_needed()
    screenshot("not-the-diagnosis")
    check_the_revealed_page(page, "osteosarcoma", "not the diagnosis")


@pytest.mark.parametrize("screen", SCREENS)
def test_every_case_page_links_to_its_quiz(page, live_server, archive, screenshot, screen):
    published = Case.objects.filter(status=Case.Status.PUBLISHED).order_by("slug")
    assert published.count() == 4
    for case in published:
        page.goto(f"{live_server.url}/cases/{case.slug}/")
        link = page.get_by_role("link", name="Test yourself on this case")
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", f"/cases/{case.slug}/quiz/")
    page.goto(f"{live_server.url}/cases/{HAEMANGIOMA_CASE}/")
    link = page.get_by_role("link", name="Test yourself on this case")
    assert link.bounding_box()["y"] < page.viewport_size["height"]  # seen without scrolling
    screenshot("case-page")
    with page.expect_response(lambda response: response.url.endswith("/quiz/")) as answer:
        link.click()
    assert answer.value.status == 200
    expect(page).to_have_url(f"{live_server.url}/cases/{HAEMANGIOMA_CASE}/quiz/")
    expect(page.locator("h1")).to_have_text("Quiz case")
    expect(page.locator("#id_guess")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Intraosseous haemangioma", use_inner_text=True)
    assert fits_the_width(page)
    screenshot("quiz")
