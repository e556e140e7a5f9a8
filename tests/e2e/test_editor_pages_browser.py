"""The editor's and the author's pages in Chromium, on a desktop and a phone: the review queue on the admin's
home, the publish page's summary, synonyms typed as a list, pickers that name the case, and the author
credited on the published case."""

import pytest
from playwright.sync_api import expect

from cases.models import Case
from imaging.models import Series, Study
from tests.helpers.accounts import make_user
from tests.helpers.authoring import complete_case
from tests.helpers.browser import admin_log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCREENS = [
    pytest.param(
        {"width": 1366, "height": 900},
        marks=pytest.mark.browser_context_args(viewport={"width": 1366, "height": 900}),
        id="1366x900",
    ),
    pytest.param(
        {"width": 390, "height": 844},
        marks=pytest.mark.browser_context_args(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=1
        ),
        id="390x844",
    ),
]


def box_right(locator) -> float:
    box = locator.bounding_box()
    return box["x"] + box["width"]


def tables_cut_off(page) -> list[str]:
    """Tables whose right edge passes the screen's edge with nothing to scroll them into view: each table
    must end within the viewport, or sit in a box that scrolls sideways and ends within it."""
    return page.evaluate(
        """() => [...document.querySelectorAll("#content table")].filter(table => {
          const width = document.documentElement.clientWidth;
          if (!table.offsetParent) return false;
          if (table.getBoundingClientRect().right <= width + 1) return false;
          for (let box = table.parentElement; box; box = box.parentElement) {
            const overflow = getComputedStyle(box).overflowX;
            const scrolls = overflow === "auto" || overflow === "scroll";
            if (scrolls) return box.getBoundingClientRect().right > width + 1;
          }
          return true;
        }).map(table => table.closest("[id]")?.id || table.className)"""
    )


@pytest.mark.parametrize("viewport", SCREENS)
def test_an_editor_reviews_publishes_and_the_author_is_credited(page, live_server, screenshot, viewport):
    author = make_user("page-author", "faculty", is_staff=True, first_name="Ada", last_name="Lovelace")
    make_user("page-editor", "editor", is_staff=True)
    case = complete_case(slug="hip-pain-52m", title="52-year-old man with hip pain", author=author)
    case.status = Case.Status.IN_REVIEW
    case.save()
    admin_log_in(page, live_server, "page-editor")

    # The admin's home: the review queue, with the author and what is missing.
    queue = page.locator("#review-queue")
    expect(queue).to_contain_text("52-year-old man with hip pain")
    expect(queue).to_contain_text("Ada Lovelace")
    expect(queue).to_contain_text("ready")
    title = queue.get_by_role("link", name="52-year-old man with hip pain")
    assert title.bounding_box()["width"] > 100  # a title, not a column of letters
    box = queue.bounding_box()
    assert box["x"] + box["width"] <= viewport["width"]
    screenshot("review-queue")
    # "Preview · Publish…" stays on one line, its dot with them, on a phone too.
    preview, publish = queue.get_by_role("link", name="Preview"), queue.get_by_role("link", name="Publish…")
    assert abs(preview.bounding_box()["y"] - publish.bounding_box()["y"]) < 2

    # The publish page summarises the case and links to its preview.
    queue.get_by_role("link", name="Publish…").click()
    summary = page.locator(".case-summary")
    expect(summary).to_contain_text("52-year-old man with hip pain")
    certainty = "confirmed by histology (biopsy or surgery)"
    expect(summary).to_contain_text(f"{case.final_diagnosis.name} — {certainty}")
    assert "((" not in summary.inner_text() and "))" not in summary.inner_text()
    expect(page.get_by_role("link", name="Preview").first).to_be_visible()
    screenshot("publish-page")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".messagelist")).to_be_visible()
    assert Case.objects.get(pk=case.pk).status == Case.Status.PUBLISHED

    # Synonyms are typed one per line, not as JSON.
    diagnosis = case.final_diagnosis
    page.goto(f"{live_server.url}/admin/cases/diagnosis/{diagnosis.pk}/change/")
    synonyms = page.locator("textarea[name=synonyms]")
    expect(synonyms).to_have_value("notochordal tumour")
    synonyms.fill("notochordal tumour\nchordoma of the sacrum")
    screenshot("synonyms")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_be_visible()
    diagnosis.refresh_from_db()
    assert diagnosis.synonyms == ["notochordal tumour", "chordoma of the sacrum"]

    # The case editor and a series' page fit the screen: a wide table scrolls inside its own box.
    page.goto(f"{live_server.url}/admin/cases/case/{case.pk}/change/")
    assert tables_cut_off(page) == []
    page.locator("#differential_items-group").scroll_into_view_if_needed()
    screenshot("case-editor-differential")
    page.goto(f"{live_server.url}/admin/imaging/series/{Series.objects.get(study__case=case).pk}/change/")
    assert tables_cut_off(page) == []
    # A series' images are seen whole, not scrolled to: on a phone each image is a block of named fields.
    images = page.locator("#images-group")
    images.scroll_into_view_if_needed()
    for cell in images.locator("tbody td:visible").all():
        assert box_right(cell) <= viewport["width"]
    if viewport["width"] < 768:
        caption = images.locator("td.field-caption").first
        label = caption.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == '"Caption"'
    screenshot("series-images")

    # Pickers name the case: the series form's study list.
    study = Study.objects.get(case=case)
    page.goto(f"{live_server.url}/admin/imaging/series/add/")
    option = page.locator("select[name=study] option", has_text=f"(case {case.pk}) ·")
    expect(option).to_have_count(1)
    assert option.text_content() == str(study)
    screenshot("study-picker")

    # The published case credits its author, in "Cite this case" too.
    page.goto(f"{live_server.url}/cases/{case.slug}/")
    cite = page.locator("#cite")
    expect(cite).to_contain_text("Ada Lovelace")
    cite.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot("author-credited")
