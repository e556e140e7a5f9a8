"""The admin's drawing board in Chromium: a faculty author opens it from the case editor's list of
images, draws an arrow on frame 2 of a 15-frame series, sees it while dragging, moves its head, labels
it, saves, finds it again and deletes it, and places a label."""

import io

import pytest
from PIL import Image as PILImage
from playwright.sync_api import expect

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Annotation
from imaging.services import images_ingest, series_create
from tests.helpers.accounts import make_user
from tests.helpers.browser import admin_log_in

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def dose_grid(db):
    """A draft of the faculty member's own with one image of 15 frames (pydicom's RT dose grid)."""
    author = make_user("board-author", "faculty", is_staff=True)
    case = Case.objects.create(slug="board-case", title="Board case", status=Case.Status.DRAFT, author=author)
    series = series_create(case=case, label="Dose grid", modality="OT")
    images_ingest(series=series, files=[InputFile("rtdose.dcm", (SAMPLE_DIR / "rtdose.dcm").read_bytes())])
    # A PNG comes in flagged for a burned-in text review: the case editor's list marks it.
    key_image = series_create(case=case, label="Key image", modality="OT")
    buffer = io.BytesIO()
    PILImage.linear_gradient("L").resize((64, 64)).save(buffer, format="PNG")
    images_ingest(series=key_image, files=[InputFile("key.png", buffer.getvalue())])
    assert key_image.images.get().is_flagged
    return series.images.get()


def at(box, fx: float, fy: float) -> tuple[float, float]:
    """The page coordinates of a point given as fractions of an element's box."""
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


class Pointer:
    """The mouse on the desktop; on the phone a finger (touch events sent through Chromium's DevTools
    protocol, as a touch screen sends them)."""

    def __init__(self, page, touch: bool):
        self.page, self.at = page, None
        self.cdp = page.context.new_cdp_session(page) if touch else None
        if self.cdp:
            self.cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})

    def touch(self, kind: str, points: list) -> None:
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def down(self, x: float, y: float) -> None:
        self.at = (x, y)
        if self.cdp:
            self.touch("touchStart", [{"x": x, "y": y}])
        else:
            self.page.mouse.move(x, y)
            self.page.mouse.down()

    def move(self, x: float, y: float, steps: int = 8) -> None:
        if not self.cdp:
            self.page.mouse.move(x, y, steps=steps)
            return
        (x0, y0) = self.at
        for step in range(1, steps + 1):
            fraction = step / steps
            self.touch("touchMove", [{"x": x0 + (x - x0) * fraction, "y": y0 + (y - y0) * fraction}])
        self.at = (x, y)

    def up(self) -> None:
        if self.cdp:
            self.touch("touchEnd", [])
        else:
            self.page.mouse.up()

    def drag(self, start, end) -> None:
        self.down(*start)
        self.move(*end)
        self.up()

    def tap(self, x: float, y: float) -> None:
        self.down(x, y)
        self.up()


def field(page, name: str):
    return page.locator(f'#annotations-group tr.form-row:not(.empty-form) [name$="-{name}"]').first


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_arrow_is_drawn_moved_labelled_saved_and_deleted(
    page, live_server, dose_grid, screenshot, viewport
):
    image = dose_grid
    assert image.frame_count == 15
    page.set_viewport_size(viewport)
    admin_log_in(page, live_server, "board-author")

    # The case editor lists the image, with its thumbnail and a link to draw on it.
    page.goto(f"{live_server.url}/admin/cases/case/{image.series.study.case_id}/change/")
    tree = page.locator("#images-tree")
    expect(tree).to_contain_text("Dose grid — 1 image")
    expect(tree).to_contain_text("Image 1, 15 frames")
    expect(tree.locator(".tree-image.is-flagged")).to_contain_text("Needs review")
    tree.scroll_into_view_if_needed()  # the thumbnails load lazily
    for thumbnail in tree.locator("img.tree-thumb").all():
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    screenshot("case-editor")
    tree.get_by_role("link", name="Draw arrows").first.click()
    expect(page).to_have_url(f"{live_server.url}/admin/imaging/image/{image.pk}/change/")
    stage = page.locator(".board-stage")
    stage.scroll_into_view_if_needed()
    expect(page.locator(".board-frame-number")).to_have_text("Frame 1 of 15")

    # Frame 2, by the wheel over the image (the keys and the slider do the same).
    page.mouse.move(*at(stage.bounding_box(), 0.5, 0.5))
    page.mouse.wheel(0, 100)
    expect(page.locator(".board-frame-number")).to_have_text("Frame 2 of 15")
    expect(page.locator(".board-slider")).to_have_value("2")
    page.keyboard.press("Escape")
    stage.focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator(".board-frame-number")).to_have_text("Frame 3 of 15")
    page.keyboard.press("ArrowUp")
    expect(page.locator(".board-frame-number")).to_have_text("Frame 2 of 15")

    # Drag from the tail to the tip: the arrow is drawn while the button is down.
    pointer = Pointer(page, touch=viewport is PHONE)
    box = stage.bounding_box()
    pointer.down(*at(box, 0.2, 0.8))
    pointer.move(*at(box, 0.5, 0.4))
    expect(page.locator(".board-draft")).to_have_count(1)
    screenshot("while-dragging")
    pointer.up()
    expect(page.locator(".board-draft")).to_have_count(0)
    expect(page.locator(".board-note .board-arrow")).to_have_count(1)
    expect(field(page, "frame")).to_have_value("2")  # frames count from 1 in the form
    expect(field(page, "kind")).to_have_value("arrow")
    assert float(field(page, "tail_x").input_value()) == pytest.approx(0.2, abs=0.02)
    assert float(field(page, "y").input_value()) == pytest.approx(0.4, abs=0.02)

    # Move its head by its handle, then type its label beside it.
    pointer.drag(at(box, 0.5, 0.4), at(box, 0.7, 0.3))
    assert float(field(page, "x").input_value()) == pytest.approx(0.7, abs=0.02)
    assert float(field(page, "y").input_value()) == pytest.approx(0.3, abs=0.02)
    assert float(field(page, "tail_x").input_value()) == pytest.approx(0.2, abs=0.02)  # the tail stayed
    label = page.locator(".board-label-text")
    expect(label).to_be_visible()
    label.fill("Hot spot")
    expect(field(page, "text")).to_have_value("Hot spot")
    screenshot("moved-and-labelled")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    note = Annotation.objects.get(image=image)
    assert (note.frame, note.kind, note.text) == (1, "arrow", "Hot spot")  # stored from 0
    assert (note.x, note.y) == (pytest.approx(0.7, abs=0.02), pytest.approx(0.3, abs=0.02))

    # Reopened: frame 1 has no arrow, frame 2 has it, with its label drawn.
    page.goto(f"{live_server.url}/admin/imaging/image/{image.pk}/change/")
    stage.scroll_into_view_if_needed()
    expect(page.locator(".board-frames-with-notes")).to_contain_text("frame 2 (1)")
    expect(page.locator(".board-note")).to_have_count(0)
    page.locator(".board-jump", has_text="frame 2").click()
    expect(page.locator(".board-frame-number")).to_have_text("Frame 2 of 15")
    expect(page.locator(".board-note .board-arrow")).to_have_count(1)
    expect(page.locator(".board-text")).to_have_text("Hot spot")
    stage.scroll_into_view_if_needed()
    screenshot("reopened")

    # Select it by its shaft and delete it; place a label instead. Saved: the arrow is gone.
    box = stage.bounding_box()
    pointer = Pointer(page, touch=viewport is PHONE)  # a new page: a new session
    pointer.tap(*at(box, 0.45, 0.55))
    expect(page.locator(".board-handle")).to_have_count(2)
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(".board-note")).to_have_count(0)
    screenshot("deleted")
    page.get_by_label("Label (click where the text goes)").check()
    box = stage.bounding_box()  # checking the tool may have scrolled it into view, and the image with it
    pointer.tap(*at(box, 0.3, 0.6))
    expect(page.get_by_label("Text of the label")).to_be_focused()
    page.keyboard.type("Dose peak")
    expect(page.locator(".board-note")).to_have_count(1)
    screenshot("label-placed")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    label = Annotation.objects.get(image=image)
    assert (label.kind, label.frame, label.text, label.tail_x) == ("label", 1, "Dose peak", None)
    assert (label.x, label.y) == (pytest.approx(0.3, abs=0.02), pytest.approx(0.6, abs=0.02))


def test_the_keys_walk_a_series_of_single_frame_images_image_by_image(page, live_server):
    """Past the last frame of an image, the next image of the series opens; before the first, the one
    before it: a series of single-frame slices is walked as one stack."""
    author = make_user("walker", "faculty", is_staff=True)
    case = Case.objects.create(slug="walk-case", title="Walk case", status=Case.Status.DRAFT, author=author)
    series = series_create(case=case, label="Axial T1", modality="MR")
    mr = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
    images_ingest(series=series, files=[InputFile(f"{n}.dcm", mr) for n in range(2)])
    first, second = series.images.order_by("order")
    admin_log_in(page, live_server, "walker")
    page.goto(f"{live_server.url}/admin/imaging/image/{first.pk}/change/")
    expect(page.locator(".board-series")).to_contain_text("Image 1 of 2")
    page.locator(".board-stage").focus()
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(f"{live_server.url}/admin/imaging/image/{second.pk}/change/")
    page.wait_for_load_state()  # the board's script is bound once the page has loaded
    expect(page.locator(".board-series")).to_contain_text("Image 2 of 2")
    page.locator(".board-stage").focus()
    page.keyboard.press("ArrowUp")
    expect(page).to_have_url(f"{live_server.url}/admin/imaging/image/{first.pk}/change/")
