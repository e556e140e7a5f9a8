"""Case of the week: the schedule, the page (this week's case in quiz mode, earlier weeks revealed), and who
may manage the schedule. Secrecy of the page: test_weekly_leaks.py; feeds: test_weekly_feeds.py.

Weeks are set relative to the Monday of the week the test runs in (``weekly.schedule.this_week``), so
the tests hold whatever day they run on.
"""

import datetime
import re

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from authoring.services import case_return_to_draft
from cases.models import Case
from tests.helpers.accounts import make_user
from weekly.models import WeeklyCase, week_start_of
from weekly.schedule import this_week
from weekly.services import weekly_case_schedule

pytestmark = pytest.mark.django_db

PAGE = "/case-of-the-week/"
WEEK = datetime.timedelta(days=7)
ADMIN_LIST = "/admin/weekly/weeklycase/"
ADMIN_ADD = "/admin/weekly/weeklycase/add/"


def monday(weeks_from_now: int = 0) -> datetime.date:
    return this_week() + weeks_from_now * WEEK


@pytest.fixture
def history_case(make_case, diagnosis):
    return make_case(
        slug="cough-and-weight-loss-61m",
        title="61-year-old man with cough",
        age=61,
        sex="M",
        clinical_history="Cough and weight loss for two months.",
        final_diagnosis=diagnosis("Bronchogenic carcinoma", synonyms=["lung cancer"]),
        discussion="Central masses in smokers are carcinoma until proven otherwise.",
    )


# -- The schedule ----------------------------------------------------------------------------------------


def test_week_start_of_is_the_monday_of_that_week():
    assert week_start_of(datetime.date(2026, 12, 5)) == datetime.date(2026, 11, 30)  # a Saturday
    assert week_start_of(datetime.date(2026, 11, 30)) == datetime.date(2026, 11, 30)  # a Monday
    assert week_start_of(datetime.date(2026, 12, 6)) == datetime.date(2026, 11, 30)  # a Sunday
    assert this_week().isoweekday() == 1


def test_scheduling_a_week_again_replaces_its_case(make_case):
    first, second = make_case(), make_case()
    slot = weekly_case_schedule(case=first, week_start=monday())
    again = weekly_case_schedule(case=second, week_start=monday())
    assert again.pk == slot.pk
    assert list(WeeklyCase.objects.values_list("week_start", "case_id")) == [(monday(), second.pk)]


@pytest.mark.parametrize("status", [Case.Status.DRAFT, Case.Status.IN_REVIEW])
def test_only_a_published_case_can_be_scheduled(make_case, status):
    case = make_case(status=status)
    with pytest.raises(ValidationError) as refused:
        weekly_case_schedule(case=case, week_start=monday())
    assert "case" in refused.value.message_dict
    assert not WeeklyCase.objects.exists()


def test_a_week_begins_on_a_monday_in_the_service_and_in_the_database(make_case):
    case = make_case()
    tuesday = monday() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        weekly_case_schedule(case=case, week_start=tuesday)
    assert monday().strftime("%B") in str(refused.value.message_dict["week_start"])
    with pytest.raises(IntegrityError), transaction.atomic():
        WeeklyCase.objects.create(case=case, week_start=tuesday)
    WeeklyCase.objects.create(case=case, week_start=monday())
    with pytest.raises(IntegrityError), transaction.atomic():
        WeeklyCase.objects.create(case=make_case(), week_start=monday())  # one case a week


# -- The page --------------------------------------------------------------------------------------------


def archive_links(html: str) -> list[str]:
    section = html.split('id="archive-heading"', 1)[1]
    return re.findall(r'<a href="(/cases/[^"]+/)">', section)


def test_the_page_shows_this_weeks_case_in_quiz_mode(client, history_case):
    weekly_case_schedule(case=history_case, week_start=monday())
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Case of the week" in html and "<h1>Quiz case</h1>" in html
    assert "61-year-old, male" in html and "Cough and weight loss for two months." in html
    # The answer form posts to the case's quiz page, which marks the answer and reveals it there.
    assert f'action="/cases/{history_case.slug}/quiz/"' in html and 'name="guess"' in html
    assert 'name="key"' in html
    assert "Bronchogenic carcinoma" not in html and history_case.title not in html
    assert archive_links(html) == []


def test_an_answer_sent_from_the_page_is_marked_and_revealed_on_the_quiz_page(client, history_case):
    weekly_case_schedule(case=history_case, week_start=monday())
    html = client.get(PAGE).content.decode()
    action = re.search(r'<form method="post" action="([^"]+)" class="quiz-form">', html).group(1)
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)
    revealed = client.post(action, {"guess": "lung cancer", "key": key}).content.decode()
    assert "Bronchogenic carcinoma" in revealed and "Correct" in revealed


def test_earlier_weeks_form_the_archive_with_links_to_their_revealed_pages(client, make_case, history_case):
    last_week, long_ago, next_week = make_case(), make_case(), make_case()
    weekly_case_schedule(case=history_case, week_start=monday())
    weekly_case_schedule(case=last_week, week_start=monday(-1))
    weekly_case_schedule(case=long_ago, week_start=monday(-5))
    weekly_case_schedule(case=next_week, week_start=monday(1))
    html = client.get(PAGE).content.decode()
    assert history_case.slug in html  # this week's, in quiz mode
    assert archive_links(html) == [f"/cases/{last_week.slug}/", f"/cases/{long_ago.slug}/"]
    assert next_week.slug not in html  # a week that has not begun is not shown
    assert f'id="week-{monday(-1):%Y-%m-%d}"' in html


def test_a_week_without_a_case_shows_the_archive_alone(client, make_case):
    earlier = make_case()
    weekly_case_schedule(case=earlier, week_start=monday(-2))
    response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "No case of the week this week" in html and 'name="guess"' not in html
    assert archive_links(html) == [f"/cases/{earlier.slug}/"]


def test_a_scheduled_case_since_unpublished_is_never_shown(client, make_case, history_case, editor):
    earlier, kept = make_case(), make_case()
    weekly_case_schedule(case=history_case, week_start=monday())
    weekly_case_schedule(case=earlier, week_start=monday(-1))
    weekly_case_schedule(case=kept, week_start=monday(-2))
    for case in [history_case, earlier]:
        case_return_to_draft(case=case, by=editor, note="unpublished after scheduling")
    html = client.get(PAGE).content.decode()
    assert "No case of the week this week" in html
    assert history_case.slug not in html and earlier.slug not in html
    assert archive_links(html) == [f"/cases/{kept.slug}/"]
    for feed in ["/feeds/case-of-the-week.atom", "/feeds/cases.atom"]:
        body = client.get(feed).content.decode()
        assert history_case.slug not in body and earlier.slug not in body
    assert WeeklyCase.objects.count() == 3  # skipped when read, not deleted: republishing shows it again
    client.force_login(editor)
    schedule = client.get(ADMIN_LIST).content.decode()
    assert schedule.count('alt="False"') == 2 and schedule.count('alt="True"') == 1  # shown or not


def test_the_page_reads_a_fixed_number_of_queries_however_long_the_archive(
    client, make_case, history_case, region_tree, django_assert_max_num_queries
):
    weekly_case_schedule(case=history_case, week_start=monday())
    for weeks_ago in range(1, 9):
        case = make_case(findings=("MR", "CT"), regions=[region_tree["sacrum"]])
        weekly_case_schedule(case=case, week_start=monday(-weeks_ago))
    # The archive with its findings; this week's case with the rows its quiz page shows (findings,
    # differential, references, tags, regions, the image tree).
    with django_assert_max_num_queries(9):
        html = client.get(PAGE).content.decode()
    assert len(archive_links(html)) == 8
    assert html.count("Age not stated, sex not stated · MRI, CT") == 8  # neutral: no title ("Test case N")
    assert "Test case" not in html


# -- Who may do what -------------------------------------------------------------------------------------


@pytest.fixture
def scheduled(history_case):
    return weekly_case_schedule(case=history_case, week_start=monday())


PUBLIC = ["/case-of-the-week/", "/feeds/cases.atom", "/feeds/case-of-the-week.atom"]


@pytest.mark.parametrize("role", [None, "resident", "faculty", "editor"])
@pytest.mark.parametrize("url", PUBLIC)
def test_anyone_may_read_the_page_and_the_feeds(client, scheduled, role, url):
    if role:
        client.force_login(make_user(f"{role}-reader", role, is_staff=role != "resident"))
    assert client.get(url).status_code == 200


def test_only_editors_hold_the_schedules_permissions():
    codenames = {"add_weeklycase", "change_weeklycase", "delete_weeklycase", "view_weeklycase"}
    for group in Group.objects.all():
        held = set(
            group.permissions.filter(content_type__app_label="weekly").values_list("codename", flat=True)
        )
        assert held == (codenames if group.name == "editor" else set()), group.name


# (role, is_staff) → outcome of the schedule's admin pages: L (to the admin's log-in), 403 or 200.
ADMIN_OUTCOMES = [
    (None, False, "L"),
    ("resident", False, "L"),
    (None, True, 403),  # staff without a role: permissions decide, never is_staff
    ("faculty", True, 403),
    ("editor", True, 200),
]


@pytest.mark.parametrize(("role", "staff", "outcome"), ADMIN_OUTCOMES)
@pytest.mark.parametrize("page", ["list", "add", "change", "delete"])
def test_only_editors_manage_the_schedule_in_the_admin(client, scheduled, role, staff, outcome, page):
    if role or staff:
        client.force_login(make_user("someone", role, is_staff=staff))
    url = {
        "list": ADMIN_LIST,
        "add": ADMIN_ADD,
        "change": f"{ADMIN_LIST}{scheduled.pk}/change/",
        "delete": f"{ADMIN_LIST}{scheduled.pk}/delete/",
    }[page]
    response = client.get(url)
    if outcome == "L":
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    else:
        assert response.status_code == outcome


@pytest.mark.parametrize(("role", "staff", "outcome"), ADMIN_OUTCOMES[:-1])
def test_nobody_but_an_editor_can_schedule_or_unschedule_by_posting(
    client, scheduled, make_case, role, staff, outcome
):
    if role or staff:
        client.force_login(make_user("someone", role, is_staff=staff))
    other = make_case()
    responses = [
        client.post(ADMIN_ADD, {"week_start": monday(1).isoformat(), "case": other.pk}),
        client.post(
            f"{ADMIN_LIST}{scheduled.pk}/change/", {"week_start": monday().isoformat(), "case": other.pk}
        ),
        client.post(f"{ADMIN_LIST}{scheduled.pk}/delete/", {"post": "yes"}),
    ]
    for response in responses:
        assert response.status_code == (302 if outcome == "L" else outcome)
    assert list(WeeklyCase.objects.values_list("week_start", "case_id")) == [(monday(), scheduled.case_id)]


def test_an_editor_schedules_a_published_case_in_the_admin_and_never_a_draft(client, editor, make_case):
    client.force_login(editor)
    published, draft = make_case(), make_case(status=Case.Status.DRAFT)
    form = client.get(ADMIN_ADD).content.decode()
    assert f'value="{published.pk}"' in form and f'value="{draft.pk}"' not in form
    refused = client.post(ADMIN_ADD, {"week_start": monday(1).isoformat(), "case": draft.pk})
    assert refused.status_code == 200 and not WeeklyCase.objects.exists()
    tuesday = client.post(ADMIN_ADD, {"week_start": (monday(1) + WEEK / 7).isoformat(), "case": published.pk})
    assert tuesday.status_code == 200 and "A week begins on a Monday" in tuesday.content.decode()
    done = client.post(ADMIN_ADD, {"week_start": monday(1).isoformat(), "case": published.pk})
    assert done.status_code == 302
    assert list(WeeklyCase.objects.values_list("week_start", "case_id")) == [(monday(1), published.pk)]
    taken = client.post(ADMIN_ADD, {"week_start": monday(1).isoformat(), "case": published.pk})
    assert taken.status_code == 200 and WeeklyCase.objects.count() == 1
