"""Issue 19 in Chromium at 1366 x 900 and 390 x 844: the admin's pickers and lists name the case, so two
cases' "CT — Initial" studies and "Axial CT #1" images read apart. Screenshots go to
``test-artifacts/``."""

import pytest
from playwright.sync_api import expect

from imaging.services import images_ingest, series_create
from tests.helpers.accounts import make_user
from tests.helpers.browser import admin_log_in
from tests.helpers.screens import SCREENS
from tests.helpers.viewer import sample_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def look_alike_cases(make_case):
    """Two cases, each with a CT study "Initial" holding a series "Axial CT" of one image."""
    make_user("picker-editor", "editor", is_staff=True)
    cases = [
        make_case(slug=f"look-alike-{n.lower()}", title=f"Look-alike {n}", findings=["CT"]) for n in "AB"
    ]
    for case in cases:
        series = series_create(case=case, label="Axial CT", modality="CT")
        images_ingest(series=series, files=[sample_file("CT_small.dcm")])
    bone = series_create(case=cases[0], label="Axial CT, bone", modality="CT")
    images_ingest(series=bone, files=[sample_file("CT_small.dcm")])
    return cases


def check_distinct_and_named(labels: list[str], cases) -> None:
    assert len(labels) == len(cases), labels
    assert len(set(labels)) == len(labels), labels  # no two entries are the same
    for case in cases:  # by its title, which an editor recognises
        assert len([label for label in labels if case.title in label]) == 1, (case.title, labels)


@pytest.mark.parametrize("screen", SCREENS)
def test_admin_pickers_and_lists_name_the_case(page, live_server, look_alike_cases, screenshot, screen):
    admin_log_in(page, live_server, "picker-editor")

    # A new series' study picker.
    page.goto(f"{live_server.url}/admin/imaging/series/add/")
    studies = page.locator("#id_study option:not([value=''])")
    labels = studies.all_inner_texts()
    check_distinct_and_named(labels, look_alike_cases)
    assert all("CT — Initial" in label for label in labels)
    # Unfolded for the screenshot: a closed menu shows one entry.
    page.locator("#id_study").evaluate(
        "select => { select.size = select.options.length; select.style.height = 'auto'; }"
    )
    page.locator("#id_study").scroll_into_view_if_needed()
    screenshot("study-picker")

    # The lists of series and of images, where an editor picks one to open.
    for model, state in (("series", "series-list"), ("image", "image-list")):
        page.goto(f"{live_server.url}/admin/imaging/{model}/")
        rows = page.locator("#result_list tbody tr th a")
        expect(rows).to_have_count(3)
        # The two look-alikes, each named with its case (the first case's bone series aside).
        labels = [label for label in rows.all_inner_texts() if "bone" not in label]
        check_distinct_and_named(labels, look_alike_cases)
        screenshot(state)

    # A "point to the lesion" question's series picker in the case editor: this case's series only.
    first = look_alike_cases[0]
    page.goto(f"{live_server.url}/admin/cases/case/{first.pk}/change/")
    add = page.locator(".add-row a", has_text="lesion")
    add.scroll_into_view_if_needed()
    add.click()
    picker = page.locator("select[name$='-series']:not([name*='__prefix__'])")
    expect(picker).to_have_count(1)
    labels = picker.locator("option:not([value=''])").all_inner_texts()
    assert sorted(labels) == ["CT · Axial CT", "CT · Axial CT, bone"], labels
    picker.scroll_into_view_if_needed()
    screenshot("question-series-picker")
