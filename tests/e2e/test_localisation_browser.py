"""“Point to the lesion” in Chromium, on a desktop (1366 x 900, after zooming and panning the viewer) and
a phone (390 x 844, a tap): the browser sends the point in the image's pixels, the server marks it and
only then draws the target."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers.localisation import add_localisation, ellipse, images_of, series_with_images

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SIZE = 128  # CT_small is 128 x 128 pixels
TIMES = "\u00d7"  # the multiplication sign the status line puts between width and height
CENTRE = (90.5, 40.5)  # the target's centre, in image pixels: up and to the right


@pytest.fixture
def case(make_case, diagnosis):
    case = make_case(
        slug="localise-me", final_diagnosis=diagnosis("Chordoma"), clinical_history="Back pain for months."
    )
    series = series_with_images(case, "CT_small.dcm", "CT_small.dcm", label="Axial", modality="CT")
    # On the second slice, where the viewer opens (the middle of two); a small, rotated ellipse.
    add_localisation(case, series, ellipse(images_of(series)[1], *CENTRE, 7, 4, rotation=20))
    return case


def to_the_question(page, live_server, case):
    page.goto(f"{live_server.url}/cases/{case.slug}/quiz/")
    page.fill("#id_guess", "chordoma")
    page.get_by_role("button", name="Answer, then the questions").click()
    expect(page.locator("#question-heading")).to_have_text("Question 1 of 1")
    viewer = page.locator(".quiz-localisation .stack-viewer")
    expect(viewer).to_have_class(re.compile("is-pointing"))
    expect(viewer).to_have_attribute("data-slice", "2")
    expect(page.get_by_role("button", name="Answer", exact=True)).to_be_disabled()
    return viewer


def stage_box(viewer) -> dict:
    return viewer.locator(".stage").bounding_box()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def answer_and_see_the_target(page, screenshot):
    page.get_by_role("button", name="Answer", exact=True).click()
    expect(page.locator(".your-answer")).to_contain_text("a hit")
    expect(page.locator(".localisation-figure ellipse.lesion-target")).to_have_count(1)
    expect(page.locator(".localisation-figure circle.lesion-click-hit")).to_have_count(1)
    assert no_sideways_scroll(page)
    page.locator(".localisation-figures").scroll_into_view_if_needed()
    screenshot("answered")
    page.get_by_role("link", name="See the answer").click()
    expect(page.locator("h1")).to_have_text("Quiz case: the answer")
    expect(page.locator(".localisation-results")).to_contain_text("1 of 1 hit")


def test_a_click_after_zooming_and_panning_is_marked_in_image_pixels(page, live_server, case, screenshot):
    page.set_viewport_size(DESKTOP)
    viewer = to_the_question(page, live_server, case)
    viewer.scroll_into_view_if_needed()
    # Where the target's centre is on screen at the opening zoom (1, no pan).
    before = stage_box(viewer)
    centre_x, centre_y = before["x"] + before["width"] / 2, before["y"] + before["height"] / 2
    point_x = before["x"] + CENTRE[0] / SIZE * before["width"]
    point_y = before["y"] + CENTRE[1] / SIZE * before["height"]

    viewer.get_by_role("button", name="Zoom in").click()
    viewer.get_by_role("button", name="Zoom in").click()
    expect(viewer).to_have_attribute("data-zoom", "1.56")
    viewer.get_by_role("button", name="Drag to pan instead of scrolling").click()
    page.mouse.move(centre_x, centre_y)
    page.mouse.down()
    page.mouse.move(centre_x + 70, centre_y + 90, steps=8)
    page.mouse.up()
    # The stage scales about its centre (CSS transform-origin) and moves by the pan: the target's centre
    # is now here on screen, by the CSS transform alone, not by the page's own arithmetic.
    zoom = 1.25 * 1.25
    target_x = centre_x + 70 + (point_x - centre_x) * zoom
    target_y = centre_y + 90 + (point_y - centre_y) * zoom
    # The click a screen-coordinate page would have sent (the unzoomed spot) is now far from the target.
    assert abs(target_x - point_x) + abs(target_y - point_y) > 60
    viewer.get_by_role("button", name="Drag to pan instead of scrolling").click()  # plain clicks again

    page.mouse.click(target_x, target_y)
    expect(page.locator(".localisation-status")).to_contain_text("Point chosen on slice 2")
    x = float(page.locator("input[name=x]").input_value())
    y = float(page.locator("input[name=y]").input_value())
    assert abs(x - CENTRE[0]) < 1 and abs(y - CENTRE[1]) < 1, (x, y)
    assert page.locator("input[name=frame]").input_value() == "0"
    expect(viewer.locator(".point-marker circle")).to_have_count(1)
    # Scrolling to the other slice hides the marker; coming back shows it again.
    viewer.get_by_role("button", name="Previous slice").click()
    expect(viewer.locator(".point-marker")).to_have_class("point-marker hidden")
    viewer.get_by_role("button", name="Next slice").click()
    expect(viewer.locator(".point-marker")).to_have_class("point-marker")
    screenshot("pointed")
    answer_and_see_the_target(page, screenshot)


def test_a_tap_on_a_phone_is_marked(browser, live_server, case):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        viewer = to_the_question(page, live_server, case)
        viewer.scroll_into_view_if_needed()
        assert no_sideways_scroll(page)
        box = stage_box(viewer)
        page.touchscreen.tap(
            box["x"] + CENTRE[0] / SIZE * box["width"], box["y"] + CENTRE[1] / SIZE * box["height"]
        )
        expect(page.locator(".localisation-status")).to_contain_text("Point chosen on slice 2")
        x = float(page.locator("input[name=x]").input_value())
        y = float(page.locator("input[name=y]").input_value())
        assert abs(x - CENTRE[0]) < 1.5 and abs(y - CENTRE[1]) < 1.5, (x, y)

        def phone_shot(state: str) -> None:
            # The screenshot fixture shoots the default page; this test has a touch context of its own.
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"test_a_tap_on_a_phone_is_marked--{state}.png"))

        phone_shot("pointed")
        answer_and_see_the_target(page, phone_shot)
    finally:
        context.close()
    assert violations == []


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab (and only Tab) until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_point_is_placed_and_answered_with_the_keyboard_only(page, live_server, case, screenshot):
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/cases/{case.slug}/quiz/")
    tab_to(page, "#id_guess")
    page.keyboard.type("chordoma")
    page.keyboard.press("Enter")
    expect(page.locator("#question-heading")).to_have_text("Question 1 of 1")
    viewer = page.locator(".quiz-localisation .stack-viewer")
    expect(viewer).to_have_class(re.compile("is-pointing"))
    expect(viewer).to_have_attribute("data-slice", "2")

    # Outside keyboard pointing the arrow keys still scroll the viewer's slices.
    tab_to(page, ".quiz-localisation .viewport")
    page.keyboard.press("ArrowUp")
    expect(viewer).to_have_attribute("data-slice", "1")
    page.keyboard.press("ArrowDown")
    expect(viewer).to_have_attribute("data-slice", "2")
    expect(viewer.locator(".point-marker")).to_have_class("point-marker hidden")

    # The button is the next stop after the image; it puts a crosshair at the frame's centre.
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Place a point with the keyboard")
    expect(button).to_be_visible()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(viewer.locator(".viewport")).to_be_focused()
    status = page.locator(".localisation-status")
    expect(status).to_contain_text(f"64, 64 of 128 {TIMES} 128 pixels (50 % across, 50 % down)")
    expect(viewer.locator(".point-marker line.point-crosshair")).to_have_count(2)
    # Arrows move it by 1 % of the frame (one pixel here), with Shift by 10 % (13): not the slices.
    page.keyboard.press("Shift+ArrowUp")
    expect(status).to_contain_text(f"64, 51 of 128 {TIMES} 128 pixels")
    expect(viewer).to_have_attribute("data-slice", "2")  # the viewer would have gone to slice 1
    for key in ["Shift+ArrowRight"] * 2 + ["Shift+ArrowUp"] + ["ArrowDown"] * 2:
        page.keyboard.press(key)
    expect(viewer).to_have_attribute("data-slice", "2")
    expect(status).to_contain_text(f"90, 40 of 128 {TIMES} 128 pixels (70 % across, 31 % down)")
    assert page.locator("input[name=x]").input_value() == ""  # nothing chosen before Enter or Space
    screenshot("keyboard-crosshair")
    page.keyboard.press("Space")
    expect(status).to_contain_text(f"Point chosen on slice 2, at 90, 40 of 128 {TIMES} 128 pixels")
    assert float(page.locator("input[name=x]").input_value()) == 90.0
    assert float(page.locator("input[name=y]").input_value()) == 40.0
    assert page.locator("input[name=frame]").input_value() == "0"
    expect(viewer.locator(".point-marker circle")).to_have_count(1)
    expect(viewer.locator(".point-marker line")).to_have_count(0)
    # Out of the mode again: the arrow keys are the viewer's.
    page.keyboard.press("ArrowUp")
    expect(viewer).to_have_attribute("data-slice", "1")
    page.keyboard.press("ArrowDown")
    expect(viewer).to_have_attribute("data-slice", "2")

    tab_to(page, ".localisation-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator(".your-answer")).to_contain_text("a hit")
    expect(page.locator(".localisation-figure circle.lesion-click-hit")).to_have_count(1)
