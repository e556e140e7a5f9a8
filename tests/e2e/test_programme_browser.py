"""Playlists in Chromium: a faculty member reorders a playlist's cases by dragging a row in the admin
(``static/programme/playlist_order.js`` renumbers the order fields), and the saved order is the new one."""

import pytest
from playwright.sync_api import expect

from programme import services
from programme.models import PlaylistItem
from tests.e2e.conftest import ARTIFACTS
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_dragging_a_row_reorders_the_playlist(page, live_server, make_case, screenshot):
    faculty = make_user("browser-faculty", "faculty", is_staff=True)
    playlist = services.playlist_create(title="Drag me", owner=faculty)
    cases = [make_case(title=f"Adult number {n}") for n in range(1, 4)]
    for case in cases:
        services.playlist_add_case(playlist=playlist, case=case)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/programme/playlist/{playlist.pk}/change/")
    page.fill("#id_username", "browser-faculty")
    page.fill("#id_password", "pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    rows = page.locator(".playlist-items tr.has_original")
    expect(rows).to_have_count(3)
    rows.nth(2).drag_to(rows.nth(0), target_position={"x": 10, "y": 2})
    orders = page.locator(".playlist-items input[name$='-order']")
    expect(orders.nth(0)).to_have_value("1")
    screenshot("dragged")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    saved = list(
        PlaylistItem.objects.filter(playlist=playlist).order_by("order").values_list("case_id", flat=True)
    )
    assert saved == [cases[2].pk, cases[0].pk, cases[1].pk]


def site_log_in(page, live_server, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.locator("main").get_by_role("button", name="Log in").click()


def test_a_conference_with_a_presenter_and_two_audience_phones(browser, live_server, make_case, request):
    """One presenter and two audience browsers (one logged in, one anonymous who joins by the code) go
    through a whole case: each step reaches both phones by their polling, each commits an answer, the
    presenter sees the nameless tally, then reveals."""
    from tests.helpers.authoring import add_image, diagnosis_named

    faculty = make_user("browser-faculty", "faculty", is_staff=True)
    make_user("browser-resident", "resident")
    case = make_case(
        title="Woman with zebra pain",
        clinical_history="Historyword: pain for weeks.",
        final_diagnosis=diagnosis_named("Ependymoma"),
        discussion="Discussionword.",
        findings=(),
    )
    Finding = case.findings.model
    Finding.objects.create(case=case, modality="MR", study="Sagittal T2", text="Findingword mass.", order=1)
    case.differential_items.create(diagnosis=diagnosis_named("Giant cell tumour"), order=1)
    add_image(case)
    playlist = services.playlist_create(title="Friday unknowns", owner=faculty, visibility="unlisted")
    services.playlist_add_case(playlist=playlist, case=case)
    conference = services.conference_create(playlist=playlist, presenter=faculty, allow_anonymous=True)

    presenter = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    logged, anonymous = (
        browser.new_context(viewport={"width": 390, "height": 844}).new_page() for _ in range(2)
    )
    site_log_in(presenter, live_server, "browser-faculty", f"/conference/{conference.id}/present/")
    expect(presenter.locator(".join-code")).to_have_text(conference.code)
    site_log_in(logged, live_server, "browser-resident", f"/conference/{conference.id}/")
    anonymous.goto(f"{live_server.url}/conference/join/")
    anonymous.fill("#join-code", conference.code)
    anonymous.get_by_role("button", name="Join").click()
    phones = [logged, anonymous]
    for phone in phones:
        expect(phone.locator("main")).to_contain_text("Historyword")
        expect(phone.locator("main")).not_to_contain_text("Findingword")
    logged.fill("#conference-answer", "Ependymoma")
    logged.get_by_role("button", name="Commit my answer").click()
    anonymous.fill("#conference-answer", "chordoma")
    anonymous.get_by_role("button", name="Commit my answer").click()
    expect(presenter.locator(".tally li")).to_have_count(2)  # refreshed by the page's own polling
    expect(presenter.locator(".tally")).not_to_contain_text("browser-resident")
    steps = [
        (".stack-viewer", None),
        ("text=Findingword", "Giant cell tumour"),
        ("text=Giant cell tumour", "Ependymoma"),
        ("text=Discussionword", None),
    ]
    for shown, not_yet in steps:
        presenter.locator("button[name=direction][value=next]").click()
        for phone in phones:
            expect(phone.locator(shown).first).to_be_visible(timeout=5000)
            if not_yet:  # the case as shown (the resident's own answer may name anything)
                expect(phone.locator("article.case")).not_to_contain_text(not_yet)
    ARTIFACTS.mkdir(exist_ok=True)
    anonymous.screenshot(path=str(ARTIFACTS / f"{request.node.name}--revealed-on-a-phone.png"))
    presenter.screenshot(path=str(ARTIFACTS / f"{request.node.name}--revealed-on-the-projector.png"))
    for phone in phones:
        expect(phone.locator("article.case")).to_contain_text("Ependymoma")
        expect(phone.locator("#conference-answer")).to_have_count(0)
    expect(logged.locator("main")).to_contain_text("Your answer: “Ependymoma”")
