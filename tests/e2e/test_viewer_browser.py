"""The stack viewer in Chromium: scroll, presets, teaching view, arrows, linked series."""

import pytest
from playwright.sync_api import expect

from tests.viewer_fixtures import build_viewer_case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def viewer_page(live_server, page, make_case, diagnosis):
    built = build_viewer_case(make_case, diagnosis)
    page.goto(f"{live_server.url}/cases/viewer-case/")
    for label in ("Axial T1", "Axial T2", "Axial CT"):
        expect(viewer(page, label)).to_have_class("stack-viewer is-ready")
    return built


def viewer(page, label: str):
    return page.locator(".stack-viewer", has=page.locator(".series-label", has_text=label))


def image_bytes(page, label: str) -> bytes:
    slice_image = viewer(page, label).locator("img.slice")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=slice_image.element_handle())
    return slice_image.screenshot()


def test_wheel_and_keys_scroll_the_stack(page, viewer_page, screenshot):
    t1 = viewer(page, "Axial T1")
    expect(t1).to_have_attribute("data-slice", "6")  # opens at the middle slice
    before = image_bytes(page, "Axial T1")
    t1.locator(".viewport").hover()
    page.mouse.wheel(0, 120)
    expect(t1).to_have_attribute("data-slice", "7")
    expect(t1.locator(".slice-counter")).to_have_text("7 / 10")
    assert image_bytes(page, "Axial T1") != before
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
    screenshot("keys")


def test_switching_a_preset_changes_the_image(page, viewer_page, screenshot):
    ct = viewer(page, "Axial CT")
    bone = image_bytes(page, "Axial CT")
    ct.get_by_role("button", name="Lung").click()
    expect(ct).to_have_attribute("data-preset", "lung")
    expect(ct.locator("img.slice")).to_have_attribute(
        "src", f"/images/{viewer_page['ct'].images.get().pk}/lung/0.png"
    )
    assert image_bytes(page, "Axial CT") != bone
    screenshot("lung")
    ct.locator(".viewport").focus()
    page.keyboard.press("2")  # the second preset: soft tissue
    expect(ct).to_have_attribute("data-preset", "soft_tissue")
    expect(ct.get_by_role("button", name="Soft tissue")).to_have_attribute("aria-pressed", "true")


def test_viewer_opens_at_the_teaching_view_and_reset_returns_there(page, viewer_page, screenshot):
    ct = viewer(page, "Axial CT")
    expect(ct).to_have_attribute("data-preset", "bone")
    expect(ct).to_have_attribute("data-zoom", "2.00")
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
    screenshot("arrows-on")
    t1.get_by_role("button", name="Show or hide arrows and labels").click()
    expect(t1.locator("svg.overlay")).to_be_hidden()
    screenshot("arrows-off")
    t1.get_by_role("button", name="Show or hide arrows and labels").click()
    expect(t1.locator("svg.overlay")).to_be_visible()
    t1.locator(".viewport").focus()
    page.keyboard.press("ArrowDown")
    expect(t1).to_have_attribute("data-slice", "5")
    expect(arrow).to_have_count(0)  # no arrow on the next slice


def test_linked_series_scroll_together_by_position(page, viewer_page, screenshot):
    t1, t2 = viewer(page, "Axial T1"), viewer(page, "Axial T2")
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
    screenshot("linked")
    t2.locator(".viewport").hover()
    page.mouse.wheel(0, -120)  # T2 moves up one slice, T1 follows to the matching position
    expect(t1).to_have_attribute("data-slice", str(int(t2.get_attribute("data-slice")) * 2 - 1))


def test_cine_plays_through_the_stack(page, viewer_page):
    t2 = viewer(page, "Axial T2")
    start = t2.get_attribute("data-slice")
    t2.get_by_role("button", name="Play the stack as a cine loop").click()
    expect(t2).not_to_have_attribute("data-slice", start)
    t2.get_by_role("button", name="Play the stack as a cine loop").click()
    expect(t2.get_by_role("button", name="Play the stack as a cine loop")).to_have_attribute(
        "aria-pressed", "false"
    )
