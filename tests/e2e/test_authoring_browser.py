"""Authoring in Chromium: a faculty member writes a case from nothing in the admin and submits it, an
editor publishes it, and a resident finds and opens it. The strict CSP is on throughout (conftest)."""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Case, Diagnosis
from imaging.demo import SAMPLE_DIR
from tests.helpers.accounts import make_user
from tests.helpers.browser import admin_log_in

pytestmark = pytest.mark.django_db(transaction=True)

TITLE = "52-year-old man with sacral pain"
SLUG = "52-year-old-man-with-sacral-pain"


@pytest.fixture
def people(db):
    Diagnosis.objects.create(name="Chordoma", slug="chordoma", synonyms=["notochordal tumour"])
    return {
        "faculty": make_user("browser-faculty", "faculty", is_staff=True),
        "editor": make_user("browser-editor", "editor", is_staff=True),
        "resident": make_user("browser-resident", "resident"),
    }


def choose(page, field_id: str, typed: str, option: str) -> None:
    """Pick an option in an autocomplete (select2) field by typing part of its name."""
    page.locator(f'.select2-selection[aria-labelledby="select2-{field_id}-container"]').click()
    page.locator(".select2-container--open .select2-search__field").fill(typed)
    page.locator(".select2-results__option", has_text=option).click()
    expect(page.locator(f"#select2-{field_id}-container")).to_have_text(re.compile(option))


def test_a_case_goes_from_nothing_to_published_and_a_resident_reads_it(page, live_server, people, screenshot):
    # Faculty: write the case.
    admin_log_in(page, live_server, "browser-faculty")
    page.goto(f"{live_server.url}/admin/cases/case/add/")
    page.fill("#id_title", TITLE)
    page.press("#id_title", "Tab")  # the admin's prepopulate script listens for change and key-up
    expect(page.locator("#id_slug")).to_have_value(SLUG)  # prepopulated by the admin's script
    page.fill("#id_age", "52")
    page.select_option("#id_sex", "M")
    page.fill("#id_clinical_history", "Sacral pain for three months, worse at night.")
    choose(page, "id_final_diagnosis", "chor", "Chordoma")
    page.select_option("#id_diagnosis_certainty", "histology")
    page.fill("#id_diagnosis_proof", "CT-guided biopsy.")

    page.get_by_role("button", name="Add another Finding").click()
    page.select_option("#id_findings-0-modality", "MR")
    page.fill("#id_findings-0-study", "Sagittal T2")
    page.fill("#id_findings-0-text", "A lobulated **high T2** mass destroying the lower sacrum.")

    page.get_by_role("button", name="Add another Differential item").click()
    choose(page, "id_differential_items-0-diagnosis", "chor", "Chordoma")
    page.get_by_role("button", name="Add another Differential item").click()
    # A diagnosis the archive does not know yet: created in the "+" pop-up beside the autocomplete.
    # The conftest watches this page for CSP violations; the pop-up is another page of the context.
    violations = []
    page.context.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else None)
    with page.expect_popup() as popup_info:
        page.locator("#add_id_differential_items-1-diagnosis").click()
    popup = popup_info.value
    popup.fill("#id_name", "Giant cell tumour")
    popup.press("#id_name", "Tab")
    expect(popup.locator("#id_slug")).to_have_value("giant-cell-tumour")
    with popup.expect_event("close"):  # listening before the click: the pop-up may close at once
        popup.get_by_role("button", name="Save", exact=True).click()
    assert violations == []
    expect(page.locator("#select2-id_differential_items-1-diagnosis-container")).to_have_text(
        re.compile("Giant cell tumour")
    )
    page.fill("#id_differential_items-1-rationale", "Also expansile and lytic in the sacrum.")

    page.get_by_role("button", name="Add another Study").click()
    page.select_option("#id_studies-0-modality", "MR")
    screenshot("faculty-writes")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    case = Case.objects.get(slug=SLUG)
    assert case.author.username == "browser-faculty" and case.status == Case.Status.DRAFT
    expect(page.locator(".publish-blockers")).to_contain_text("missing at least one image")

    # Faculty: a series with a real DICOM file, from the case page's link.
    page.get_by_role("link", name="Add series").click()
    page.fill("#id_label", "Sagittal T2")
    page.set_input_files("#id_upload", str(SAMPLE_DIR / "MR_small.dcm"))
    page.locator("input[name=_save]").click()
    # The upload's page: the tests' task backend has run the ingest by the time it is shown.
    expect(page.locator(".messagelist")).to_contain_text("1 file(s) queued (1 MR_small.dcm)")
    expect(page.locator(".upload-counts")).to_have_text("1 of 1 file(s) done: 1 accepted, 0 rejected.")
    screenshot("faculty-upload-done")
    page.goto(f"{live_server.url}/admin/cases/case/{case.pk}/change/")
    expect(page.locator(".publish-ready")).to_have_text("Nothing is missing for publication.")
    expect(page.locator("#images-tree")).to_contain_text("Sagittal T2 — 1 image")
    screenshot("faculty-complete")

    # Faculty: preview, then submit for review.
    page.get_by_role("link", name="Preview", exact=True).click()
    expect(page.locator(".preview-banner")).to_contain_text("Preview — not published")
    expect(page.locator("h1")).to_have_text(TITLE)
    screenshot("faculty-preview")
    page.go_back()
    page.get_by_role("link", name="Submit for review").click()
    page.fill("#id_note", "Ready for review.")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messagelist")).to_contain_text("was submitted for review")
    expect(page.locator("#workflow-heading")).to_have_text("Status: In review")
    expect(page.locator("input[name=_save]")).to_have_count(0)  # frozen for its author now
    screenshot("faculty-submitted")

    # Editor: publish.
    admin_log_in(page, live_server, "browser-editor")
    page.goto(f"{live_server.url}/admin/cases/case/?status__exact=review")
    page.get_by_role("link", name=TITLE).click()
    page.get_by_role("link", name="Publish").click()
    page.fill("#id_note", "Clear and complete.")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#workflow-heading")).to_have_text("Status: Published")
    screenshot("editor-published")
    case.refresh_from_db()
    assert case.status == Case.Status.PUBLISHED
    assert [t.note for t in case.transitions.all()] == ["Ready for review.", "Clear and complete."]

    # Resident: find it in the list and read it.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/?next=/cases/")
    page.fill("#id_username", "browser-resident")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    expect(page).to_have_url(f"{live_server.url}/cases/")
    page.get_by_role("link", name=TITLE).first.click()
    expect(page).to_have_url(f"{live_server.url}/cases/{SLUG}/")
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator(".final-diagnosis")).to_have_text("Chordoma")
    expect(page.locator("#findings strong")).to_have_text("high T2")
    expect(page.locator(".differential li")).to_have_count(2)
    expect(page.locator(".stack-viewer")).to_have_class(re.compile("is-ready"))
    slice_image = page.locator(".stack-viewer img.slice")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=slice_image.element_handle())
    expect(page.locator(".preview-banner")).to_have_count(0)
    screenshot("resident-reads")
    assert page.goto(f"{live_server.url}/cases/{SLUG}/preview/").status == 404
