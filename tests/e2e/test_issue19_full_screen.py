"""Issue 19 in Chromium at 1366 x 900 and 390 x 844: full screen fits the frame to the screen, every frame
of a series at one size (a 128-pixel and a 512-pixel CT slice). Screenshots go to ``test-artifacts/``."""

import re

import pytest
from playwright.sync_api import expect

from imaging.services import images_ingest, series_create
from tests.helpers.ingest import large_ct_file
from tests.helpers.screens import SCREENS
from tests.helpers.viewer import sample_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sizes_case(make_case, diagnosis):
    """One CT series of a 128-pixel and a 512-pixel slice, as pydicom's samples mix them."""
    case = make_case(slug="full-screen-case", final_diagnosis=diagnosis("Chordoma"), findings=["CT"])
    series = series_create(case=case, label="CT sizes", modality="CT")
    images_ingest(series=series, files=[sample_file("CT_small.dcm"), large_ct_file()])
    return case


def shown_frame(page, canvas) -> dict:
    """The canvas's box on the screen, its own width in pixels and its viewport's inner size."""
    return canvas.evaluate(
        """c => {
          const box = c.getBoundingClientRect(), area = c.closest('.viewport');
          return {width: box.width, height: box.height, natural: c.width,
                  areaWidth: area.clientWidth, areaHeight: area.clientHeight};
        }"""
    )


@pytest.mark.parametrize("screen", SCREENS)
def test_full_screen_fits_every_frame_to_the_screen_at_one_size(
    page, live_server, sizes_case, screenshot, screen
):
    page.goto(f"{live_server.url}/cases/full-screen-case/")
    label = page.locator(".series-label", has_text=re.compile("^CT sizes$"))
    viewer = page.locator(".stack-viewer", has=label)
    expect(viewer).to_have_class(re.compile(r"\bis-ready\b"))
    viewer.get_by_role("button", name="Full screen").click()
    page.wait_for_function("() => document.fullscreenElement !== null")
    expect(viewer.locator('[data-action="fullscreen"]')).to_have_text("Exit full screen")
    canvas = viewer.locator("canvas.slice-canvas")
    window = page.evaluate("({width: innerWidth, height: innerHeight})")
    shown = {}
    for key in ("Home", "End"):
        viewer.locator(".viewport").focus()
        page.keyboard.press(key)
        expect(viewer).to_have_attribute("data-slice", "1" if key == "Home" else "2")
        expect(viewer.locator(".stage")).to_have_class(re.compile(r"\buses-canvas\b"))
        expect(viewer).to_have_attribute("data-painted", viewer.get_attribute("data-slice"))
        # The frame fills the full-screen viewport along one side (its square fits the narrower side).
        page.wait_for_function(
            """c => { const box = c.getBoundingClientRect(), area = c.closest('.viewport');
                      return Math.min(Math.abs(box.width - area.clientWidth),
                                      Math.abs(box.height - area.clientHeight)) <= 1; }""",
            arg=canvas.element_handle(),
        )
        shown[key] = shown_frame(page, canvas)
        screenshot(f"full-screen-slice-{'first' if key == 'Home' else 'last'}")
    first, last = shown["Home"], shown["End"]
    assert {first["natural"], last["natural"]} == {128, 512}
    assert round(first["width"]) == round(last["width"]) and round(first["height"]) == round(last["height"])
    # The viewport is the screen's width, and most of its height (the toolbar takes the rest).
    assert first["areaWidth"] >= window["width"] - 2, (first, window)
    assert first["areaHeight"] >= 0.6 * window["height"], (first, window)
    assert first["width"] <= first["areaWidth"] + 1 and first["height"] <= first["areaHeight"] + 1
    viewer.get_by_role("button", name="Exit full screen").click()
    page.wait_for_function("() => document.fullscreenElement === null")
    expect(viewer.locator('[data-action="fullscreen"]')).to_have_text("Full screen")
