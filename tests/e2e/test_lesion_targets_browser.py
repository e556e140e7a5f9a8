"""Lesion targets in Chromium at 1366 by 900: a faculty author draws a polygon and a turned ellipse on
frame 2 of a 30-frame series (320 pixels wide, 240 high, shown at about twice that) for a new
question, saves, and the stored image pixels are where the mouse clicked, within two screen pixels;
then moves the polygon, deletes the ellipse, draws a triangle closed by Enter, and the case editor lists
the question."""

import math
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.services import images_ingest, series_create
from quiz.models import LocalisationQuestion
from tests.helpers.accounts import make_user
from tests.helpers.browser import admin_log_in

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREEN_TOLERANCE = 2  # screen pixels
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def cine(db):
    """A draft of the faculty member's own with one image of 30 frames, 320 by 240 (pydicom's colour
    ultrasound sample)."""
    author = make_user("target-author", "faculty", is_staff=True)
    case = Case.objects.create(
        slug="target-case", title="Target case", status=Case.Status.DRAFT, author=author
    )
    series = series_create(case=case, label="Cine loop", modality="US")
    sample = (SAMPLE_DIR / "examples_ybr_color.dcm").read_bytes()
    images_ingest(series=series, files=[InputFile("cine.dcm", sample)])
    return series.images.get()


class Screen:
    """Where an image pixel is on screen, and back, for the board as it is shown."""

    def __init__(self, box, image):
        self.box = box
        self.scale = box["width"] / image.columns  # screen pixels per image pixel
        assert box["height"] / image.rows == pytest.approx(self.scale, rel=0.01)

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.box["x"] + x * self.scale, self.box["y"] + y * self.scale

    def close(self, stored: float, clicked: float) -> bool:
        """Whether a stored image coordinate is within two screen pixels of the one clicked."""
        return abs(stored - clicked) * self.scale <= SCREEN_TOLERANCE


def wait_for_frame(page, number: int) -> None:
    expect(page.locator(".board-frame-number")).to_contain_text(f"Frame {number} of")
    page.wait_for_function(
        "() => { const i = document.querySelector('.board-image'); return i.complete && i.naturalWidth > 0; }"
    )


def test_a_polygon_and_a_turned_ellipse_are_drawn_saved_in_image_pixels_moved_and_deleted(
    page, live_server, cine, screenshot
):
    image = cine
    assert (image.columns, image.rows, image.frame_count) == (320, 240, 30)
    page.set_viewport_size(DESKTOP)
    admin_log_in(page, live_server, "target-author")
    page.goto(f"{live_server.url}/admin/imaging/image/{image.pk}/change/")
    page.wait_for_load_state()
    stage = page.locator(".board-stage")
    stage.scroll_into_view_if_needed()
    # No question yet: the board draws for a new one, with the default prompt.
    expect(page.locator(".target-question")).to_have_value("")
    expect(page.locator(".target-prompt")).to_have_value("Click the abnormality")
    page.locator(".target-prompt").fill("Click the gallbladder")
    stage.focus()
    page.keyboard.press("ArrowDown")
    wait_for_frame(page, 2)
    screen = Screen(page.locator(".board-image").bounding_box(), image)
    assert screen.scale > 1.5  # the board is shown larger than the image: the conversion is tested

    # A polygon: three clicks, and a double-click on its fourth corner closes it.
    page.get_by_label("Target polygon").check()
    corners = [(60.0, 50.0), (140.0, 40.0), (150.0, 120.0), (70.0, 130.0)]
    for corner in corners[:-1]:
        page.mouse.click(*screen.at(*corner))
    expect(page.locator(".target-draft-corner")).to_have_count(2)  # after the first, each corner a dot
    page.mouse.move(*screen.at(*corners[-1]))
    screenshot("polygon-while-drawing")
    page.mouse.dblclick(*screen.at(*corners[-1]))
    expect(page.locator("polygon.target-shape")).to_have_count(1)
    expect(page.locator(".target-draft")).to_have_count(0)

    # An ellipse: a box dragged from corner to corner, then turned by its round handle to 30°.
    page.get_by_label("Target ellipse").check()
    box_from, box_to = (200.0, 150.0), (280.0, 200.0)  # centre (240, 175), radii 40 and 25
    page.mouse.move(*screen.at(*box_from))
    page.mouse.down()
    page.mouse.move(*screen.at(*box_to), steps=8)
    expect(page.locator("ellipse.target-draft")).to_have_count(1)
    page.mouse.up()
    expect(page.locator("ellipse.target-shape")).to_have_count(1)
    handle = page.locator(".target-handle.rotate")
    expect(handle).to_have_count(1)
    grip = handle.bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    centre_x, centre_y = screen.at(240, 175)
    reach = 80 * screen.scale  # any distance along the wanted direction turns it there
    turn = math.radians(30)
    page.mouse.move(centre_x + reach * math.cos(turn), centre_y + reach * math.sin(turn), steps=8)
    page.mouse.up()
    screenshot("drawn")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    question = LocalisationQuestion.objects.get()
    assert (question.prompt, question.series_id, question.case_id) == (
        "Click the gallbladder",
        image.series_id,
        image.series.study.case_id,
    )
    polygon, ellipse = question.targets.order_by("pk")
    assert (polygon.shape, polygon.frame, ellipse.shape, ellipse.frame) == ("polygon", 1, "ellipse", 1)
    assert len(polygon.points) == 4
    for (x, y), (clicked_x, clicked_y) in zip(polygon.points, corners, strict=True):
        assert screen.close(x, clicked_x) and screen.close(y, clicked_y), (polygon.points, corners)
    assert screen.close(ellipse.center_x, 240) and screen.close(ellipse.center_y, 175)
    assert screen.close(ellipse.radius_x, 40) and screen.close(ellipse.radius_y, 25)
    assert ellipse.rotation == pytest.approx(30, abs=1)

    # Reopened with the question chosen: its targets are listed on frame 2 and drawn there.
    page.goto(f"{live_server.url}/admin/imaging/image/{image.pk}/change/?question={question.pk}")
    page.wait_for_load_state()
    expect(page.locator(".target-question")).to_have_value(str(question.pk))
    expect(page.locator(".target-prompt")).to_be_hidden()  # asked only of a new question
    expect(page.locator(".target-frames")).to_contain_text("frame 2 (2)")
    page.locator(".target-frames .board-jump").click()
    wait_for_frame(page, 2)
    stage.scroll_into_view_if_needed()
    screen = Screen(page.locator(".board-image").bounding_box(), image)
    expect(page.locator(".target-shape")).to_have_count(2)
    screenshot("reopened")

    # The polygon dragged 20 pixels right and 10 down; the ellipse selected and deleted.
    page.get_by_label("Target polygon").check()
    page.mouse.move(*screen.at(100, 80))
    page.mouse.down()
    page.mouse.move(*screen.at(120, 90), steps=8)
    page.mouse.up()
    page.mouse.click(*screen.at(240, 175))
    page.get_by_role("button", name="Delete target").click()
    expect(page.locator(".target-shape")).to_have_count(1)
    # Escape drops a polygon begun; Enter closes one of three corners.
    page.mouse.click(*screen.at(20, 200))
    page.mouse.click(*screen.at(60, 200))
    expect(page.locator("polyline.target-draft")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator(".target-draft")).to_have_count(0)
    triangle = [(200.0, 30.0), (260.0, 40.0), (230.0, 90.0)]
    for corner in triangle:
        page.mouse.click(*screen.at(*corner))
    page.keyboard.press("Enter")
    expect(page.locator("polygon.target-shape")).to_have_count(2)
    screenshot("moved-deleted-and-another")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert not question.targets.filter(shape="ellipse").exists()
    moved = question.targets.get(pk=polygon.pk)
    for (x, y), (old_x, old_y) in zip(moved.points, polygon.points, strict=True):
        assert screen.close(x, old_x + 20) and screen.close(y, old_y + 10)
    added = question.targets.exclude(pk=polygon.pk).get()
    assert added.frame == 1
    for (x, y), (clicked_x, clicked_y) in zip(added.points, triangle, strict=True):
        assert screen.close(x, clicked_x) and screen.close(y, clicked_y)

    # The case editor lists the question with its target and a link back to draw.
    page.goto(f"{live_server.url}/admin/cases/case/{question.case_id}/change/")
    row = page.locator("#localisation_questions-group")
    expect(row).to_contain_text("2 targets on 1 frame")
    row.get_by_role("link", name="Draw targets").click()
    expect(page).to_have_url(
        f"{live_server.url}/admin/imaging/image/{image.pk}/change/?question={question.pk}"
    )


def test_the_next_image_of_the_series_opens_with_the_question_chosen(page, live_server):
    author = make_user("walker", "faculty", is_staff=True)
    case = Case.objects.create(slug="walk-case", title="Walk case", status=Case.Status.DRAFT, author=author)
    series = series_create(case=case, label="Axial T1", modality="MR")
    mr = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
    images_ingest(series=series, files=[InputFile(f"{n}.dcm", mr) for n in range(2)])
    first, second = series.images.order_by("order")
    question = LocalisationQuestion.objects.create(case=case, series=series, prompt="Click the lesion")
    admin_log_in(page, live_server, "walker")
    page.goto(f"{live_server.url}/admin/imaging/image/{first.pk}/change/?question={question.pk}")
    page.wait_for_load_state()
    expect(page.locator(".target-question")).to_have_value(str(question.pk))
    page.locator(".board-stage").focus()
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(
        f"{live_server.url}/admin/imaging/image/{second.pk}/change/?question={question.pk}"
    )
    page.wait_for_load_state()
    expect(page.locator(".target-question")).to_have_value(str(question.pk))
    page.locator(".target-question").select_option("")  # a new question: the links carry none
    expect(page.locator(".board-previous-image")).to_have_attribute(
        "href", f"/admin/imaging/image/{first.pk}/change/"
    )


def touch_drag(page, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
    """One finger pressed at ``start``, moved to ``end`` and lifted: real touch input through the
    DevTools protocol (Playwright's touchscreen only taps)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]}
    )
    for step in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * step / steps
        y = start[1] + (end[1] - start[1]) * step / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    # The finger rests before it lifts, as a hand does: a lift while moving is a fling, and the browser
    # spends the next tap on stopping that fling instead of clicking.
    page.wait_for_timeout(200)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": end[0], "y": end[1]}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_on_a_phone_a_polygon_is_closed_by_its_button_and_an_ellipse_drawn_by_touch(
    browser, live_server, cine
):
    image = cine
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    try:
        admin_log_in(page, live_server, "target-author")
        page.goto(f"{live_server.url}/admin/imaging/image/{image.pk}/change/")
        page.wait_for_load_state()
        close = page.get_by_role("button", name="Close shape")
        expect(close).to_be_hidden()  # no polygon open
        page.get_by_label("Target polygon").tap()
        stage = page.locator(".board-stage")
        stage.scroll_into_view_if_needed()
        screen = Screen(page.locator(".board-image").bounding_box(), image)
        corners = [(40.0, 40.0), (150.0, 30.0), (160.0, 120.0), (50.0, 130.0)]
        for corner in corners[:2]:
            page.touchscreen.tap(*screen.at(*corner))
        expect(close).to_be_visible()
        expect(close).to_be_disabled()  # two corners are no shape yet
        for corner in corners[2:]:
            page.touchscreen.tap(*screen.at(*corner))
        expect(close).to_be_enabled()
        expect(page.locator(".target-draft-corner")).to_have_count(3)
        close.tap()
        expect(page.locator("polygon.target-shape")).to_have_count(1)
        expect(page.locator(".target-draft")).to_have_count(0)
        expect(close).to_be_hidden()

        page.get_by_label("Target ellipse").tap()
        stage.scroll_into_view_if_needed()
        screen = Screen(page.locator(".board-image").bounding_box(), image)
        touch_drag(page, screen.at(180.0, 140.0), screen.at(300.0, 220.0))  # centre (240, 180), radii 60, 40
        expect(page.locator("ellipse.target-shape")).to_have_count(1)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_lesion_targets_on_a_phone--drawn.png"))
        page.locator("input[name=_continue]").tap()
        expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    finally:
        context.close()

    polygon, ellipse = LocalisationQuestion.objects.get().targets.order_by("pk")
    assert (polygon.shape, ellipse.shape) == ("polygon", "ellipse")
    assert len(polygon.points) == 4
    for (x, y), (tapped_x, tapped_y) in zip(polygon.points, corners, strict=True):
        assert screen.close(x, tapped_x) and screen.close(y, tapped_y), (polygon.points, corners)
    assert screen.close(ellipse.center_x, 240) and screen.close(ellipse.center_y, 180)
    assert screen.close(ellipse.radius_x, 60) and screen.close(ellipse.radius_y, 40)
