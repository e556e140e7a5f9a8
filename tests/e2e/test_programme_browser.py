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
    # Refreshed by the page's own polling (once a second; a loaded machine may take several rounds).
    expect(presenter.locator(".tally li")).to_have_count(2, timeout=15_000)
    expect(presenter.locator(".tally-total")).to_have_text("2")
    # The projected tally stays folded until the presenter shows it.
    expect(presenter.locator(".tally")).to_be_hidden()
    presenter.get_by_text("Show answers").click()
    expect(presenter.locator(".tally")).to_be_visible()
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


def conference_of_two_cases(make_case):
    from tests.helpers.authoring import add_image

    faculty = make_user("browser-faculty", "faculty", is_staff=True)
    first = make_case(title="Man with a limp", clinical_history="Historyword one.", findings=())
    first.findings.model.objects.create(case=first, modality="MR", text="Findingword one.", order=1)
    add_image(first)
    second = make_case(title="Woman with a cough", clinical_history="Historyword two.")
    playlist = services.playlist_create(title="Projector unknowns", owner=faculty, visibility="unlisted")
    for case in (first, second):
        services.playlist_add_case(playlist=playlist, case=case)
    return services.conference_create(playlist=playlist, presenter=faculty)


def test_the_presenter_steps_with_the_keys_and_stays_in_full_screen(page, live_server, make_case, screenshot):
    """A step is taken without a page load (the live region is swapped), so the stage's full screen stays on,
    with the step buttons inside it, and the new step's images get their viewer."""
    conference = conference_of_two_cases(make_case)
    site_log_in(page, live_server, "browser-faculty", f"/conference/{conference.id}/present/")
    expect(page.locator("article.case")).to_contain_text("Historyword one")
    page.evaluate("window.sameDocument = true")
    page.get_by_role("button", name="Present in full screen").click()
    in_full_screen = "document.fullscreenElement?.classList.contains('conference-screen') === true"
    page.wait_for_function(in_full_screen)
    expect(page.get_by_role("button", name="Exit full screen")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".stack-viewer.is-ready")).to_be_visible()  # the swapped-in viewer was started
    expect(page.locator(".quiz-position")).to_contain_text("Images")
    # The viewer's own full screen opens over the stage's, and leaving it returns to the stage.
    page.locator(".stack-viewer button[data-action=fullscreen]").click()
    page.wait_for_function("document.fullscreenElement?.classList.contains('stack-viewer') === true")
    page.locator(".stack-viewer button[data-action=fullscreen]").click()
    page.wait_for_function(in_full_screen)
    page.get_by_role("button", name="Exit full screen").focus()
    page.keyboard.press("PageDown")
    expect(page.locator("article.case")).to_contain_text("Findingword one")
    assert page.evaluate(in_full_screen) and page.evaluate("window.sameDocument === true")
    expect(page.locator(".conference-screen button[value=next]")).to_be_visible()  # reachable in full screen
    screenshot("stepped-in-full-screen")
    page.keyboard.press("ArrowLeft")
    expect(page.locator(".quiz-position")).to_contain_text("Images")
    expect(page.locator("article.case")).not_to_contain_text("Findingword one")
    conference.refresh_from_db()
    assert (conference.position, conference.step) == (0, 1)
    page.keyboard.press("PageUp")
    expect(page.locator(".quiz-position")).to_contain_text("History")
    assert page.evaluate(in_full_screen) and page.evaluate("window.sameDocument === true")


def test_the_presenter_tears_down_the_viewers_it_steps_away_from(page, live_server, make_case):
    """Each step swaps the live region: the old step's viewers let go of their document listeners, their
    observer and their caches (``viewers:teardown``), or every step's viewers stay in the projector's
    memory."""
    conference = conference_of_two_cases(make_case)
    site_log_in(page, live_server, "browser-faculty", f"/conference/{conference.id}/present/")
    expect(page.get_by_role("button", name="Present in full screen")).to_be_visible()  # conference.js is on
    page.keyboard.press("ArrowRight")
    expect(page.locator(".quiz-position")).to_contain_text("Images")
    viewer = page.locator(".stack-viewer.is-ready")
    viewer.hover()  # engaged: it preloads, so its caches hold something to let go of
    page.wait_for_function("document.querySelector('.stack-viewer').viewer.values.size > 0")
    page.evaluate("window.oldViewer = document.querySelector('.stack-viewer').viewer")
    live_viewers = "document.documentElement.dataset.liveViewers"
    for label in ("Findings", "Differential", "Diagnosis and discussion"):
        page.keyboard.press("ArrowRight")
        expect(page.locator(".quiz-position")).to_contain_text(label)
        expect(viewer).to_have_count(1)
        assert page.evaluate(live_viewers) == "1"  # the one on the page, none of the swapped-out ones
    # The first step's viewer: its caches emptied and its document listener gone (a pointer down outside a
    # viewer in stack mode would otherwise still reach it and leave stack mode).
    assert page.evaluate("oldViewer.values.size + oldViewer.cache.size") == 0
    page.evaluate("oldViewer.setStackMode(true)")
    page.locator(".quiz-position").click()
    assert page.evaluate("oldViewer.stackMode") is True


def test_a_tally_asked_for_before_a_step_is_not_shown_after_it(page, live_server, make_case):
    """The tally poll can be under way while the presenter steps: its answer, for the version before the step,
    is dropped rather than written into the new step's tally."""
    conference = conference_of_two_cases(make_case)
    site_log_in(page, live_server, "browser-faculty", f"/conference/{conference.id}/present/")
    expect(page.get_by_role("button", name="Present in full screen")).to_be_visible()  # conference.js is on
    held = []
    page.route("**/present/tally/", lambda route: held.append(route))  # requests wait here until let go
    with page.expect_request("**/present/tally/"):
        pass
    page.keyboard.press("ArrowRight")
    expect(page.locator(".quiz-position")).to_contain_text("Images")
    stale = {"version": conference.version, "answers": [{"answer": "Stale answer", "count": 3, "mark": ""}]}
    with page.expect_request("**/present/tally/"):  # sent only once the stale one has been handled
        held[0].fulfill(json=stale)
    expect(page.locator(".tally")).not_to_contain_text("Stale answer")
    expect(page.locator(".tally-total")).to_have_text("0")
    # Tallies of the new version are still shown.
    conference.refresh_from_db()
    services.conference_answer(conference=conference, participant="anon:someone", answer="Fresh answer")
    page.unroute("**/present/tally/")  # lets the held request go on to the server
    expect(page.locator(".tally")).to_contain_text("Fresh answer")
    expect(page.locator(".tally-total")).to_have_text("1")


def test_the_presenter_page_on_a_phone_does_not_overflow(browser, live_server, make_case, request):
    conference = conference_of_two_cases(make_case)
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    site_log_in(phone, live_server, "browser-faculty", f"/conference/{conference.id}/present/")
    expect(phone.locator(".join-code")).to_have_text(conference.code)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    code_size = phone.evaluate("parseFloat(getComputedStyle(document.querySelector('.join-code')).fontSize)")
    assert code_size >= 2 * phone.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / f"{request.node.name}--presenter-at-390.png"))


def test_the_directors_report_sorts_on_a_phone(browser, live_server, make_case, request):
    """At 390 px the report's table stacks and its header (the sort links) is hidden: a "Sort by" form
    above the table sorts it instead."""
    import datetime

    from django.utils import timezone

    from programme.models import Assignment, Cohort

    faculty = make_user("browser-faculty", "faculty", is_staff=True)
    make_user("browser-director", "director", is_staff=True)
    playlist = services.playlist_create(title="Phone report", owner=faculty)
    cases = [make_case(title=f"Adult number {n}") for n in range(2)]
    for case in cases:
        services.playlist_add_case(playlist=playlist, case=case)
    cohort = Cohort.objects.create(name="PGY-1")
    slow = make_user("aaron", "resident", first_name="Aaron", last_name="Slow")
    quick = make_user("zoe", "resident", first_name="Zoe", last_name="Quick")
    cohort.residents.add(slow, quick)
    today = timezone.localdate()
    assignment = Assignment.objects.create(
        playlist=playlist, cohort=cohort, opens_on=today, due_on=today + datetime.timedelta(days=7)
    )
    for case in cases:
        services.case_mark_done(assignment=assignment, resident=quick, case=case)
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    site_log_in(phone, live_server, "browser-director", f"/assignments/{assignment.pk}/")
    rows = phone.locator("table.report tbody tr")
    expect(rows.first).to_contain_text("Aaron Slow")
    expect(phone.locator("table.report thead")).to_be_hidden()
    phone.get_by_label("Sort by").select_option("-completion")
    phone.get_by_role("button", name="Sort").click()
    expect(rows.first).to_contain_text("Zoe Quick")
    expect(phone.get_by_label("Sort by")).to_have_value("-completion")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / f"{request.node.name}--sorted-at-390.png"))
