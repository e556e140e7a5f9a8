"""The stack viewer in Chromium, on a desktop screen (1366 x 900) and a phone's (390 x 844, touch):
scroll, presets windowed in the page, free W/L, fit, the series strip and side-by-side view, the page's
own scrolling, the teaching view, arrows, linked series."""

import base64
import io
import re

import numpy as np
import pydicom
import pytest
from django.utils import timezone
from PIL import Image as PILImage
from playwright.sync_api import expect

from imaging.inputs import InputFile
from imaging.models import Image
from imaging.services import images_ingest, series_create
from tests.helpers.ingest import large_ct_file
from tests.helpers.screens import DESKTOP, PHONE, SCREENS
from tests.helpers.viewer import build_viewer_case, sample_file

pytestmark = pytest.mark.django_db(transaction=True)


def viewer(page, label: str):
    return page.locator(".stack-viewer", has=page.locator(".series-label", has_text=re.compile(f"^{label}$")))


def ready(page, *labels: str) -> None:
    for label in labels:
        expect(viewer(page, label)).to_have_class(re.compile(r"\bis-ready\b"))


def painted(viewer_locator) -> None:
    """Wait until the viewer shows its frame windowed from the values, in the canvas."""
    expect(viewer_locator.locator(".stage")).to_have_class(re.compile(r"\buses-canvas\b"))
    # The frame now selected, not the one painted before it.
    expect(viewer_locator).to_have_attribute("data-painted", viewer_locator.get_attribute("data-slice"))


def canvas_grey(viewer_locator) -> np.ndarray:
    """The canvas's own pixels (not a screenshot of them): one grey level per pixel."""
    data = viewer_locator.locator("canvas.slice-canvas").evaluate(
        """canvas => {
          const rgba = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          let text = "";
          for (let i = 0; i < rgba.length; i += 4) text += String.fromCharCode(rgba[i]);
          return [canvas.width, canvas.height, btoa(text)];
        }"""
    )
    width, height, grey = data
    return np.frombuffer(base64.b64decode(grey), dtype=np.uint8).reshape(height, width)


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found, "not displayed"
    return found


def into_view(locator, block: str = "center") -> None:
    """Scroll `locator` to the middle (or top) of the window, for a screenshot that shows it whole."""
    locator.evaluate("(element, block) => element.scrollIntoView({block})", block)


def open_case(page, live_server, slug: str = "viewer-case"):
    page.goto(f"{live_server.url}/cases/{slug}/")


@pytest.fixture
def viewer_case(make_case, diagnosis):
    return build_viewer_case(make_case, diagnosis)


@pytest.fixture
def viewer_page(live_server, page, viewer_case):
    open_case(page, live_server)
    ready(page, "Axial T1", "Axial T2", "Axial CT")
    return viewer_case


def show_series(page, label: str):
    """Choose a series from the strip, and return its viewer."""
    page.locator(".series-tab", has_text=label).click()
    found = viewer(page, label)
    expect(found).to_be_visible()
    return found


# -- scrolling the stack --------------------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_wheel_and_keys_scroll_the_stack(page, viewer_page, screenshot, screen):
    t1 = viewer(page, "Axial T1")
    expect(t1).to_have_attribute("data-slice", "6")  # opens at the middle slice
    t1.locator(".viewport").hover()
    painted(t1)
    before = canvas_grey(t1)
    page.mouse.wheel(0, 120)
    expect(t1).to_have_attribute("data-slice", "7")
    expect(t1.locator(".slice-counter")).to_have_text("7 / 10")
    expect(t1.locator("canvas.slice-canvas")).to_have_attribute("aria-label", "Axial T1, slice 7 of 10")
    page.wait_for_function(
        "root => root.viewer.values.get(`${root.viewer.frame.image}/0`)?.state === 'ready'",
        arg=t1.element_handle(),
    )
    assert not np.array_equal(canvas_grey(t1), before)
    into_view(t1)
    screenshot("wheel")
    t1.locator(".viewport").focus()
    page.keyboard.press("ArrowUp")
    expect(t1).to_have_attribute("data-slice", "6")
    page.keyboard.press("End")
    expect(t1).to_have_attribute("data-slice", "10")
    page.keyboard.press("Home")
    expect(t1).to_have_attribute("data-slice", "1")
    page.keyboard.press("PageDown")
    expect(t1).to_have_attribute("data-slice", "2")
    expect(t1.locator("img.slice")).to_have_attribute("alt", "Axial T1, slice 2 of 10")
    into_view(t1)
    screenshot("keys")


@pytest.mark.parametrize("screen", SCREENS)
def test_the_wheel_over_a_single_image_scrolls_the_page(page, viewer_page, screenshot, screen):
    ct = show_series(page, "Axial CT")
    painted(ct)
    ct.locator(".viewport").scroll_into_view_if_needed()
    ct.locator(".viewport").hover()
    top = page.evaluate("window.scrollY")
    page.mouse.wheel(0, 200)
    page.wait_for_function("top => window.scrollY > top", arg=top)
    expect(ct).to_have_attribute("data-slice", "1")
    screenshot("page-scrolled")
    # A stack keeps the wheel for its slices: the page stays where it is.
    t2 = show_series(page, "Axial T2")
    t2.locator(".viewport").scroll_into_view_if_needed()
    t2.locator(".viewport").hover()
    top = page.evaluate("window.scrollY")
    page.mouse.wheel(0, 120)
    expect(t2).to_have_attribute("data-slice", "4")
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") == top


def swipe(page, locator, *, dy: int = 0, dx: int = 0) -> None:
    """A finger drawn across the middle of `locator`, as touch events through Chromium's input pipeline:
    the browser decides from touch-action whether the page scrolls, as it would for a real finger."""
    locator.scroll_into_view_if_needed()
    area = box(locator)
    x, y = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2
    session = page.context.new_cdp_session(page)
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 11):
        point = {"x": x + dx * step / 10, "y": y + dy * step / 10}
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        page.wait_for_timeout(16)
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


@pytest.mark.parametrize("screen", [PHONE])
def test_a_swipe_scrolls_the_page_until_a_tap_puts_the_viewer_in_stack_mode(
    page, viewer_page, screenshot, screen
):
    t1 = viewer(page, "Axial T1")
    viewport = t1.locator(".viewport")
    viewport.scroll_into_view_if_needed()
    expect(t1.locator(".touch-hint")).to_have_text("Tap the image to scroll its slices")
    screenshot("before-swipe")
    top = page.evaluate("window.scrollY")
    swipe(page, viewport, dy=-150)  # the finger moves up: the page scrolls down
    page.wait_for_function("top => window.scrollY > top + 50", arg=top)
    expect(t1).to_have_attribute("data-slice", "6")
    viewport.scroll_into_view_if_needed()
    area = box(viewport)
    page.touchscreen.tap(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    expect(t1).to_have_class(re.compile(r"\bis-stack-mode\b"))
    expect(t1.locator(".touch-hint")).to_contain_text("Stack mode")
    top = page.evaluate("window.scrollY")
    swipe(page, viewport, dy=-120)
    expect(t1).not_to_have_attribute("data-slice", "6")
    assert page.evaluate("window.scrollY") == top
    screenshot("stack-mode")
    page.touchscreen.tap(5, 5)  # a touch outside the viewer gives the swipe back to the page
    expect(t1).not_to_have_class(re.compile(r"\bis-stack-mode\b"))


# -- windowing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_a_preset_switch_repaints_without_fetching_a_png(page, viewer_page, screenshot, screen):
    ct = show_series(page, "Axial CT")
    painted(ct)
    expect(ct).to_have_attribute("data-preset", "bone")
    bone = canvas_grey(ct)
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    ct.get_by_role("button", name="Lung").click()
    expect(ct).to_have_attribute("data-preset", "lung")
    expect(ct).to_have_attribute("data-window", "-600/1500")
    assert not np.array_equal(canvas_grey(ct), bone)
    into_view(ct)
    screenshot("lung")
    ct.locator(".viewport").focus()
    page.keyboard.press("2")  # the second preset: soft tissue
    expect(ct).to_have_attribute("data-preset", "soft_tissue")
    expect(ct.get_by_role("button", name="Soft tissue")).to_have_attribute("aria-pressed", "true")
    expect(ct).to_have_attribute("data-window", "40/400")
    page.wait_for_timeout(300)
    assert [url for url in fetched if url.endswith(".png")] == []


def drag(page, locator, *, dx: int, dy: int, button: str = "left") -> None:
    locator.scroll_into_view_if_needed()
    area = box(locator)
    x, y = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down(button=button)
    for step in range(1, 6):
        page.mouse.move(x + dx * step / 5, y + dy * step / 5)
    page.mouse.up(button=button)


@pytest.mark.parametrize("screen", SCREENS)
def test_dragging_with_the_window_tool_or_the_right_button_changes_the_window(
    page, viewer_page, screenshot, screen
):
    ct = show_series(page, "Axial CT")
    painted(ct)
    viewport = ct.locator(".viewport")
    bone = canvas_grey(ct)
    if screen == "desktop":
        drag(page, viewport, dx=-80, dy=60, button="right")  # narrower, higher centre
    else:
        ct.get_by_role("button", name="Drag to change the window (W/L) instead of scrolling").click()
        swipe(page, viewport, dx=60, dy=-60)  # a touch drag: the W/L tool keeps it for the viewer
    expect(ct).to_have_attribute("data-preset", "custom")
    expect(ct).to_have_attribute("data-slice", "1")
    center, width = (int(n) for n in ct.get_attribute("data-window").split("/"))
    assert (center, width) != (400, 1800)
    assert not np.array_equal(canvas_grey(ct), bone)
    expect(ct.locator(".window-readout")).to_have_text(f"W {width} · L {center}")
    for button in ct.locator("[data-preset]").all():
        expect(button).to_have_attribute("aria-pressed", "false")
    into_view(ct)
    screenshot("custom-window")
    ct.get_by_role("button", name="Reset to the teaching view").click()
    expect(ct).to_have_attribute("data-window", "400/1800")


@pytest.fixture
def ct_presets_case(make_case, diagnosis):
    """A real 512 x 512 CT slice (pydicom's JPEG 2000 sample, with its own window), CT_small (no window:
    the server stretches it) and an MR slice (file window, and the full range)."""
    case = make_case(slug="presets-case", final_diagnosis=diagnosis("Chordoma"))
    ct = series_create(case=case, label="CT 512", modality="CT")
    images_ingest(series=ct, files=[sample_file("693_J2KI.dcm")])
    small = series_create(case=case, label="CT small", modality="CT")
    images_ingest(series=small, files=[sample_file("CT_small.dcm")])
    mr = series_create(case=case, label="MR small", modality="MR")
    images_ingest(series=mr, files=[sample_file("MR_small.dcm")])
    inverted = series_create(case=case, label="MR sigmoid", modality="MR")
    images_ingest(series=inverted, files=[inverted_sigmoid_mr()])
    return {"case": case, "CT 512": ct, "CT small": small, "MR small": mr, "MR sigmoid": inverted}


def inverted_sigmoid_mr() -> InputFile:
    """MR_small as MONOCHROME1 with a SIGMOID VOI LUT function: the other two branches of the windowing."""
    dataset = pydicom.dcmread(io.BytesIO(sample_file("MR_small.dcm").data))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.VOILUTFunction = "SIGMOID"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return InputFile("sigmoid.dcm", buffer.getvalue())


@pytest.mark.parametrize("screen", SCREENS)
def test_every_preset_windowed_in_the_page_matches_the_servers_png(
    page, live_server, ct_presets_case, screenshot, screen
):
    open_case(page, live_server, "presets-case")
    ready(page, "CT 512", "CT small", "MR small", "MR sigmoid")
    compared = 0
    for label in ("CT 512", "CT small", "MR small", "MR sigmoid"):
        found = show_series(page, label)
        painted(found)
        image = ct_presets_case[label].images.get()
        for button in found.locator("[data-preset]").all():
            preset = button.get_attribute("data-preset")
            button.click()
            expect(found).to_have_attribute("data-preset", preset)
            expect(found.locator(".stage")).to_have_class(re.compile(r"\buses-canvas\b"))
            mine = canvas_grey(found).astype(int)
            response = page.request.get(f"{live_server.url}/images/{image.pk}/{preset}/0.png")
            assert response.ok
            server = np.asarray(PILImage.open(io.BytesIO(response.body())).convert("L"), dtype=int)
            assert mine.shape == server.shape
            difference = np.abs(mine - server)
            assert difference.max() <= 1, (label, preset, difference.max())
            assert difference.mean() < 0.01, (label, preset, difference.mean())
            compared += 1
        if label == "CT 512":
            into_view(found)
            screenshot("ct-512")
    assert compared == 5 + 5 + 2 + 2


# -- fit ------------------------------------------------------------------------------------------


@pytest.fixture
def mixed_size_case(make_case, diagnosis):
    """One CT series of a 128-pixel and a 512-pixel slice (as pydicom's samples mix them), and the
    15-frame 10 x 10 dose grid."""
    case = make_case(slug="sizes-case", final_diagnosis=diagnosis("Chordoma"))
    ct = series_create(case=case, label="CT sizes", modality="CT")
    images_ingest(series=ct, files=[sample_file("CT_small.dcm"), large_ct_file()])
    dose = series_create(case=case, label="Dose grid", modality="OT")
    images_ingest(series=dose, files=[sample_file("rtdose.dcm")])
    return case


@pytest.mark.parametrize("screen", SCREENS)
def test_every_frame_of_a_series_fills_the_viewer_at_one_size(
    page, live_server, mixed_size_case, screenshot, screen
):
    open_case(page, live_server, "sizes-case")
    ready(page, "CT sizes", "Dose grid")
    ct = viewer(page, "CT sizes")
    ct.locator(".viewport").scroll_into_view_if_needed()
    viewport = box(ct.locator(".viewport"))
    sizes = {}
    for slice_number in ("1", "2"):
        ct.locator(".viewport").focus()
        page.keyboard.press("Home" if slice_number == "1" else "End")
        expect(ct).to_have_attribute("data-slice", slice_number)
        painted(ct)
        sizes[slice_number] = box(ct.locator("canvas.slice-canvas"))
        natural = ct.locator("canvas.slice-canvas").evaluate("c => c.width")
        sizes[slice_number]["natural"] = natural
        into_view(ct)
        screenshot(f"ct-slice-{slice_number}")
    assert {sizes["1"]["natural"], sizes["2"]["natural"]} == {128, 512}
    assert round(sizes["1"]["width"]) == round(sizes["2"]["width"])
    assert round(sizes["1"]["height"]) == round(sizes["2"]["height"])
    fills = min(abs(sizes["1"]["width"] - viewport["width"]), abs(sizes["1"]["height"] - viewport["height"]))
    assert fills <= 1, (sizes, viewport)
    assert viewport["width"] >= 0.8 * page.viewport_size["width"] or viewport["height"] >= 300

    dose = show_series(page, "Dose grid")
    painted(dose)
    shown = box(dose.locator("canvas.slice-canvas"))
    area = box(dose.locator(".viewport"))
    assert min(abs(shown["width"] - area["width"]), abs(shown["height"] - area["height"])) <= 1
    assert dose.locator("canvas.slice-canvas").evaluate("c => c.width") == 10
    into_view(dose)
    screenshot("dose-grid")


@pytest.mark.parametrize("screen", [DESKTOP])
def test_full_screen_fits_the_frame_to_the_screen(page, live_server, mixed_size_case, screenshot, screen):
    open_case(page, live_server, "sizes-case")
    ready(page, "CT sizes")
    ct = viewer(page, "CT sizes")
    painted(ct)
    ct.get_by_role("button", name="Full screen").click()
    page.wait_for_function("() => document.fullscreenElement !== null")
    page.wait_for_function(
        "c => Math.abs(c.getBoundingClientRect().height - c.closest('.viewport').clientHeight) <= 1"
        " && c.closest('.viewport').clientHeight > 600",
        arg=ct.locator("canvas.slice-canvas").element_handle(),
    )
    screenshot("full-screen")


# -- the series strip and the side-by-side view ---------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_the_series_strip_switches_series(page, viewer_page, screenshot, screen):
    tabs = page.locator(".series-strip .series-tab")
    expect(tabs).to_have_count(3)
    expect(page.locator(".stack-viewer:visible")).to_have_count(1)
    expect(viewer(page, "Axial T1")).to_be_visible()
    expect(tabs.first).to_have_attribute("aria-pressed", "true")
    into_view(page.locator(".series-strip"), "start")
    # Every tab and the "Side by side" button lie within the screen, on a phone too: the strip wraps.
    width = page.viewport_size["width"]
    for control in [*tabs.all(), page.get_by_role("button", name="Side by side")]:
        assert box(control)["x"] >= 0 and box(control)["x"] + box(control)["width"] <= width
    assert page.locator(".series-strip").evaluate("strip => strip.scrollWidth <= strip.clientWidth")
    screenshot("strip")
    ct = show_series(page, "Axial CT")
    expect(viewer(page, "Axial T1")).to_be_hidden()
    expect(page.locator(".stack-viewer:visible")).to_have_count(1)
    expect(page.locator(".series-tab", has_text="Axial CT")).to_have_attribute("aria-pressed", "true")
    painted(ct)
    into_view(page.locator(".series-strip"), "start")
    screenshot("strip-ct")
    # Each series keeps its place: back to T1, at the slice it was left at.
    show_series(page, "Axial T1")
    expect(viewer(page, "Axial T1")).to_have_attribute("data-slice", "6")


@pytest.mark.parametrize("screen", SCREENS)
def test_side_by_side_series_scroll_together_by_position(page, viewer_page, screenshot, screen):
    page.get_by_role("button", name="Side by side").click()
    t1, t2 = viewer(page, "Axial T1"), viewer(page, "Axial T2")
    expect(t1).to_be_visible()
    expect(t2).to_be_visible()
    if screen == "desktop":  # side by side on a wide screen, one above the other on a phone
        assert abs(box(t1)["y"] - box(t2)["y"]) < 1 and box(t1)["x"] < box(t2)["x"]
    t1.get_by_role("button", name="Link scrolling with other linked viewers").click()
    t2.get_by_role("button", name="Link scrolling with other linked viewers").click()
    t1.locator(".viewport").focus()
    page.keyboard.press("Home")  # T1 slice 1 at z=0 → T2 slice 1 at z=0
    expect(t2).to_have_attribute("data-slice", "1")
    page.keyboard.press("End")  # T1 slice 10 at z=45 → T2 slice 5 at z=40
    expect(t2).to_have_attribute("data-slice", "5")
    for _ in range(4):
        page.keyboard.press("ArrowUp")  # T1 slice 6 at z=25 → T2 at z=20 or 30 (slice 3 or 4)
    expect(t1).to_have_attribute("data-slice", "6")
    assert t2.get_attribute("data-slice") in {"3", "4"}
    painted(t1)
    painted(t2)
    into_view(page.locator(".series-strip"), "start")
    screenshot("linked")
    t2.locator(".viewport").hover()
    page.mouse.wheel(0, -120)  # T2 moves up one slice, T1 follows to the matching position
    expect(t1).to_have_attribute("data-slice", str(int(t2.get_attribute("data-slice")) * 2 - 1))
    # The strip fills the pane last used: the CT replaces T2, T1 stays.
    page.locator(".series-tab", has_text="Axial CT").click()
    expect(viewer(page, "Axial CT")).to_be_visible()
    expect(t2).to_be_hidden()
    expect(t1).to_be_visible()


# -- teaching view, arrows, cine ------------------------------------------------------------------


def test_viewer_opens_at_the_teaching_view_and_reset_returns_there(page, viewer_page, screenshot):
    ct = show_series(page, "Axial CT")
    expect(ct).to_have_attribute("data-preset", "bone")
    expect(ct).to_have_attribute("data-zoom", "2.00")
    painted(ct)
    into_view(ct)
    screenshot("teaching-view")
    ct.get_by_role("button", name="Brain").click()
    ct.get_by_role("button", name="Zoom in").click()
    expect(ct).to_have_attribute("data-zoom", "2.50")
    ct.get_by_role("button", name="Reset to the teaching view").click()
    expect(ct).to_have_attribute("data-preset", "bone")
    expect(ct).to_have_attribute("data-zoom", "2.00")


def test_arrows_show_on_their_slice_and_toggle(page, viewer_page, screenshot):
    t1 = viewer(page, "Axial T1")
    t1.locator(".viewport").focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(t1).to_have_attribute("data-slice", "4")
    arrow = t1.locator("svg.overlay line.overlay-arrow")
    expect(arrow).to_have_count(1)
    expect(t1.locator("svg.overlay")).to_be_visible()
    expect(t1.locator("svg.overlay text")).to_have_text("Lesion")
    painted(t1)
    into_view(t1)
    screenshot("arrows-on")
    t1.get_by_role("button", name="Show or hide arrows and labels").click()
    expect(t1.locator("svg.overlay")).to_be_hidden()
    t1.get_by_role("button", name="Show or hide arrows and labels").click()
    expect(t1.locator("svg.overlay")).to_be_visible()
    t1.locator(".viewport").focus()
    page.keyboard.press("ArrowDown")
    expect(t1).to_have_attribute("data-slice", "5")
    expect(arrow).to_have_count(0)  # no arrow on the next slice


def test_cine_plays_through_the_stack(page, viewer_page):
    t2 = show_series(page, "Axial T2")
    start = t2.get_attribute("data-slice")
    t2.get_by_role("button", name="Play the stack as a cine loop").click()
    expect(t2).not_to_have_attribute("data-slice", start)
    t2.get_by_role("button", name="Play the stack as a cine loop").click()
    expect(t2.get_by_role("button", name="Play the stack as a cine loop")).to_have_attribute(
        "aria-pressed", "false"
    )


# -- a preset an image lacks ----------------------------------------------------------------------


@pytest.fixture
def mixed_upload_case(make_case, diagnosis):
    """A CT series (presets from its first image) with an MR slice and a PNG in it, opened in "bone".

    The gate now refuses an MR file for a CT series; the MR slice is moved in afterwards, as a series
    mixed before it did would hold it. A PNG carries no modality and is still accepted."""
    case = make_case(slug="mixed-case", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Mixed upload", modality="CT")
    png = io.BytesIO()
    PILImage.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1)), "L").save(png, "PNG")
    images_ingest(series=series, files=[sample_file("CT_small.dcm"), InputFile("scan.png", png.getvalue())])
    elsewhere = series_create(case=case, label="MR small", modality="MR")
    images_ingest(series=elsewhere, files=[sample_file("MR_small.dcm")])
    Image.objects.filter(series=elsewhere).update(series=series)
    elsewhere.delete()
    for order, kind in enumerate(["CT", "MR", ""], start=1):  # the CT first: the series' presets are CT's
        Image.objects.filter(series=series, modality=kind).update(order=order)
    # The PNG is flagged for burned-in text on arrival (this one holds none); a flagged image is not shown.
    series.images.update(reviewed_at=timezone.now())
    series.teaching_preset, series.teaching_slice = "bone", 1
    series.save()
    return series


@pytest.mark.parametrize("screen", SCREENS)
def test_a_preset_a_frame_lacks_shows_its_default_window(
    page, live_server, mixed_upload_case, screenshot, screen
):
    statuses = {}
    page.on("response", lambda response: statuses.__setitem__(response.url, response.status))
    open_case(page, live_server, "mixed-case")
    ready(page, "Mixed upload")
    found = viewer(page, "Mixed upload")
    ct, mr, png = mixed_upload_case.images.order_by("order")
    assert (ct.modality, mr.modality, png.kind) == ("CT", "MR", "raster")
    painted(found)
    expect(found).to_have_attribute("data-window", "400/1800")  # the CT slice in "bone"
    found.locator(".viewport").focus()
    for slice_number, image in (("2", mr), ("3", png)):
        page.keyboard.press("ArrowDown")
        expect(found).to_have_attribute("data-slice", slice_number)
        if image.kind == "raster":  # no values: the PNG of "bone", which falls back to the default window
            slice_image = found.locator("img.slice")
            expect(slice_image).to_have_attribute("src", f"/images/{image.pk}/bone/0.png")
            page.wait_for_function(
                "img => img.complete && img.naturalWidth === 64", arg=slice_image.element_handle()
            )
            assert statuses[f"{live_server.url}/images/{image.pk}/bone/0.png"] == 200
            into_view(found)
            screenshot("png-in-bone")
        else:  # values: windowed in the page with the MR slice's own default window
            painted(found)
            expect(found).to_have_attribute("data-window", "600/1600")
            into_view(found)
            screenshot("mr-in-bone")
    assert [url for url, status in statuses.items() if status >= 400 and "favicon" not in url] == []


# -- loading: a thumbnail first, values when the viewer comes into view ---------------------------


@pytest.fixture
def large_viewer_page(live_server, page, make_case, diagnosis):
    """A case whose one series is a 512 x 512 CT frame (larger than a thumbnail), below a long history,
    opened in a short window: the viewer starts well below the screen."""
    case = make_case(
        slug="large-case",
        final_diagnosis=diagnosis("Chordoma"),
        clinical_history="Back pain for three months, worse at night, not relieved by rest. " * 40,
    )
    large = series_create(case=case, label="Axial CT large", modality="CT")
    images_ingest(series=large, files=[large_ct_file()])
    large.teaching_preset = "bone"
    large.save()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_viewport_size({"width": 900, "height": 500})
    page.goto(f"{live_server.url}/cases/large-case/")
    ready(page, "Axial CT large")
    return {"large": large.images.get(), "requests": requests}


def test_a_viewer_shows_a_thumbnail_until_it_comes_into_view(page, large_viewer_page, screenshot):
    pk = large_viewer_page["large"].pk
    large = viewer(page, "Axial CT large")
    slice_image = large.locator("img.slice")
    distance = large.evaluate("root => root.getBoundingClientRect().top - window.innerHeight")
    assert distance > 300, f"the viewer is only {distance}px below the screen"
    large.evaluate("root => root.scrollIntoView({block: 'center'})")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=slice_image.element_handle())
    painted(large)
    assert large.locator("canvas.slice-canvas").evaluate("c => c.width") == 512
    assert f"/images/{pk}/values/0.raw" in " ".join(large_viewer_page["requests"])
    assert f"/images/{pk}/bone/0.png" not in " ".join(large_viewer_page["requests"])
    expect(large).to_have_attribute("data-slice", "1")  # still the teaching slice …
    expect(large).to_have_attribute("data-window", "400/1800")  # … in the teaching window
    into_view(large)
    screenshot("full-frame")


def test_the_thumbnail_comes_first_and_the_box_does_not_move(page, large_viewer_page):
    pk = large_viewer_page["large"].pk
    large = viewer(page, "Axial CT large")
    slice_image = large.locator("img.slice")
    expect(slice_image).to_have_attribute("src", f"/images/{pk}/bone/0.thumb.png")
    assert f"/images/{pk}/values/0.raw" not in " ".join(large_viewer_page["requests"])
    before = large.locator(".stage").evaluate("s => [s.offsetWidth, s.offsetHeight]")
    large.dispatch_event("pointerenter")  # the reader engages (as a pointer over it would), off screen
    painted(large)
    assert f"/images/{pk}/values/0.raw" in " ".join(large_viewer_page["requests"])
    assert large.evaluate("root => root.getBoundingClientRect().top - window.innerHeight") > 300
    assert large.locator(".stage").evaluate("s => [s.offsetWidth, s.offsetHeight]") == before


# -- quiz secrecy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_the_quiz_pages_strip_shows_only_the_labels_the_quiz_shows(
    page, live_server, request, screenshot, screen
):
    """The strip is built in the page from what the quiz page already holds: the withheld series labels
    ("Series 2" for "Schwannoma protocol, axial"), the withheld study labels, no caption."""
    case = request.getfixturevalue("tempting_case")
    page.goto(f"{live_server.url}/cases/{case.slug}/quiz/")
    expect(page.locator(".series-tab")).to_have_count(3)
    strip = page.locator(".series-strip").inner_text()
    assert "Sagittal T2" in strip and "Series 2" in strip and "Series 3" in strip
    for withheld in ("Schwannoma", "sacrectomy", "Chordoma", "Giant cell", "proton"):
        assert withheld.lower() not in strip.lower(), withheld
    tab = page.locator(".series-tab", has_text="Series 3")
    tab.click()
    shown = page.locator(".stack-viewer:visible")
    expect(shown).to_have_count(1)
    expect(shown.locator(".series-label")).to_have_text("Series 3")
    painted(shown)
    expect(shown.locator(".viewer-image-caption")).to_have_text("")
    into_view(page.locator(".series-strip"), "start")
    screenshot("quiz-strip")
