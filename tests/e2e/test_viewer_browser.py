"""The stack viewer in Chromium: scroll, presets, teaching view, arrows, linked series."""

import pytest
from playwright.sync_api import expect

from imaging.services import images_ingest, series_create
from tests.test_imaging_views import large_ct_file
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


@pytest.fixture
def large_viewer_page(live_server, page, make_case, diagnosis):
    """The viewer case with a fourth series whose 512 x 512 frame is larger than a thumbnail, opened in a
    short window, so that this viewer starts well below the screen."""
    built = build_viewer_case(make_case, diagnosis)
    large = series_create(case=built["case"], label="Axial CT large", modality="CT")
    images_ingest(series=large, files=[large_ct_file()])
    large.teaching_preset = "bone"
    large.save()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_viewport_size({"width": 900, "height": 500})
    page.goto(f"{live_server.url}/cases/viewer-case/")
    expect(viewer(page, "Axial CT large")).to_have_class("stack-viewer is-ready")
    return {**built, "large": large.images.get(), "requests": requests}


def natural_width(page, label: str) -> int:
    return viewer(page, label).locator("img.slice").evaluate("img => img.naturalWidth")


def test_a_viewer_shows_a_thumbnail_until_it_comes_into_view(page, large_viewer_page, screenshot):
    pk = large_viewer_page["large"].pk
    large = viewer(page, "Axial CT large")
    slice_image = large.locator("img.slice")
    distance = large.evaluate("root => root.getBoundingClientRect().top - window.innerHeight")
    assert distance > 300, f"the viewer is only {distance}px below the screen"
    # Near enough for the browser's lazy loading, too far for the viewer's margin: the thumbnail loads.
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=slice_image.element_handle())
    assert natural_width(page, "Axial CT large") == 160
    assert slice_image.get_attribute("src") == f"/images/{pk}/bone/0.thumb.png"
    assert f"/images/{pk}/bone/0.png" not in " ".join(large_viewer_page["requests"])
    box = slice_image.bounding_box()
    page.mouse.move(5, 5)  # away from every viewer: coming into view alone must load the full frame
    large.evaluate("root => root.scrollIntoView({block: 'center'})")
    expect(slice_image).to_have_attribute("src", f"/images/{pk}/bone/0.png")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 512", arg=slice_image.element_handle()
    )
    assert natural_width(page, "Axial CT large") == 512
    after = slice_image.bounding_box()
    assert (round(after["width"]), round(after["height"])) == (round(box["width"]), round(box["height"]))
    expect(large).to_have_attribute("data-slice", "1")  # still the teaching slice …
    expect(large).to_have_attribute("data-preset", "bone")  # … in the teaching window
    screenshot("full-frame")


def test_engaging_a_viewer_loads_its_full_frame_before_it_comes_into_view(page, large_viewer_page):
    pk = large_viewer_page["large"].pk
    large = viewer(page, "Axial CT large")
    slice_image = large.locator("img.slice")
    expect(slice_image).to_have_attribute("src", f"/images/{pk}/bone/0.thumb.png")
    large.dispatch_event("pointerenter")  # the reader engages (as a pointer over it would), off screen
    expect(slice_image).to_have_attribute("src", f"/images/{pk}/bone/0.png")
    assert large.evaluate("root => root.getBoundingClientRect().top - window.innerHeight") > 300
