"""Cohorts and assignments: what a resident sees (open, due soon, done, own marks, also on the home
page), study cases marked done, quiz cases done when answered, the director's report and its CSV,
and a case unpublished after it was assigned."""

import csv
import datetime
import io

import pytest
from django.test import Client
from django.utils import timezone

from cases.models import Case
from programme import services
from programme.models import Assignment, CaseCompletion, Cohort, Playlist
from quiz.models import Mark, QuizAttempt
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def director(db):
    return make_user("dir", "director", is_staff=True)


@pytest.fixture
def cohort(resident):
    cohort = Cohort.objects.create(name="PGY-2 2026-27")
    cohort.residents.add(resident, make_user("res-b", "resident"))
    return cohort


@pytest.fixture
def playlist(make_case, faculty):
    playlist = services.playlist_create(title="Back pain unknowns", owner=faculty)
    for n in range(3):
        services.playlist_add_case(
            playlist=playlist,
            case=make_case(title=f"Adult with back pain number {n}"),
            note=f"Study note {n}",
        )
    return playlist


@pytest.fixture
def assign(playlist, cohort, director):
    def factory(*, mode=Assignment.Mode.STUDY, opens_on=TODAY, due_on=TODAY + 30 * DAY, to=None, of=None):
        return Assignment.objects.create(
            playlist=of or playlist,
            cohort=to or cohort,
            mode=mode,
            opens_on=opens_on,
            due_on=due_on,
            created_by=director,
        )

    return factory


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cases_of(playlist: Playlist) -> list[Case]:
    return [item.case for item in playlist.items.order_by("order")]


def test_a_resident_sees_open_and_due_soon_assignments_and_on_the_home_page(
    resident, assign, make_case, faculty
):
    soon = assign(due_on=TODAY + 2 * DAY)
    later_list = services.playlist_create(title="Chest later", owner=faculty)
    services.playlist_add_case(playlist=later_list, case=make_case())
    assign(of=later_list, due_on=TODAY + 60 * DAY)
    not_yet_list = services.playlist_create(title="Not yet open", owner=faculty)
    assign(of=not_yet_list, opens_on=TODAY + DAY, due_on=TODAY + 9 * DAY)
    client = logged_in(resident)
    page = client.get("/assignments/").content.decode()
    due_soon, rest = page.split("<h2>Open</h2>")
    assert "Back pain unknowns" in due_soon and "0 of 3" in due_soon
    assert "Chest later" in rest.split("<h2>Done</h2>")[0]
    assert "Not yet open" not in page
    home = client.get("/").content.decode()
    assert "Your assignments" in home and "Back pain unknowns" in home and soon.get_absolute_url() in home
    assert "Your assignments" not in Client().get("/").content.decode()
    Assignment.objects.filter(pk=soon.pk).update(opens_on=TODAY - 9 * DAY, due_on=TODAY - DAY)
    assert "(overdue)" in client.get("/").content.decode()


def test_someone_outside_the_cohort_sees_none_of_it(assign):
    assignment = assign()
    outsider = logged_in(make_user("outsider", "resident"))
    assert "Back pain unknowns" not in outsider.get("/assignments/").content.decode()
    for url in [
        assignment.get_absolute_url(),
        f"/assignments/{assignment.pk}/report.csv",
        f"/assignments/{assignment.pk}/cases/1/",
    ]:
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(f"/assignments/{assignment.pk}/cases/1/done/").status_code == 404
    assert not CaseCompletion.objects.exists()


def test_a_study_assignment_is_worked_through_by_marking_cases_done(resident, assign, playlist):
    assignment = assign()
    first = cases_of(playlist)[0]
    client = logged_in(resident)
    page = client.get(f"/assignments/{assignment.pk}/cases/1/").content.decode()
    assert first.title in page and "Study note 0" in page and "Mark this case done" in page
    assert "Hide diagnoses" in page  # the switch of the playlist's study page (and the browsing pages)
    client.post("/preferences/hide-diagnoses/", {"hide": "1", "next": "/"})
    page = client.get(f"/assignments/{assignment.pk}/cases/1/").content.decode()
    assert '<body class="hide-diagnoses">' in page and "Show diagnoses" in page
    response = client.post(f"/assignments/{assignment.pk}/cases/1/done/")
    assert response["Location"] == f"/assignments/{assignment.pk}/cases/2/"
    client.post(f"/assignments/{assignment.pk}/cases/1/done/")  # twice: still one completion
    assert CaseCompletion.objects.filter(resident=resident, case=first).count() == 1
    client.post(f"/assignments/{assignment.pk}/cases/2/done/")
    response = client.post(f"/assignments/{assignment.pk}/cases/3/done/")
    assert response["Location"] == assignment.get_absolute_url()
    done = client.get("/assignments/").content.decode().split("<h2>Done</h2>")[1]
    assert "Back pain unknowns" in done and "3 of 3" in done


def answer(client: Client, case: Case, guess: str):
    response = client.post(f"/cases/{case.slug}/quiz/", {"guess": guess})
    assert response.status_code == 200


def test_a_quiz_assignment_case_is_done_when_answered(
    resident, assign, playlist, diagnosis, django_capture_on_commit_callbacks
):
    first, second, third = cases_of(playlist)
    Case.objects.filter(pk=first.pk).update(final_diagnosis=diagnosis("Chordoma"))
    assignment = assign(mode=Assignment.Mode.QUIZ)
    study = assign(mode=Assignment.Mode.STUDY)
    client = logged_in(resident)
    page = client.get(assignment.get_absolute_url()).content.decode()
    assert first.title not in page  # a quiz lists its cases without their titles
    response = client.post(f"/assignments/{assignment.pk}/quiz/")
    session_id = response["Location"].split("/")[3]
    assert client.session["quiz_sessions"][session_id]["case_ids"] == [first.pk, second.pk, third.pk]
    assert client.get(f"/assignments/{assignment.pk}/cases/2/")["Location"] == f"/cases/{second.slug}/quiz/"
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, first, "chordoma")
        answer(client, second, "osteoma")
    completions = CaseCompletion.objects.filter(assignment=assignment, resident=resident)
    assert {completion.case_id for completion in completions} == {first.pk, second.pk}
    assert not CaseCompletion.objects.filter(assignment=study).exists()  # study cases are marked done
    rows = client.get(assignment.get_absolute_url()).context["rows"]
    assert [(row.done, row.total, row.answered, row.correct, row.accuracy) for row in rows] == [
        (2, 3, 2, 1, 50)
    ]
    # The resident's own mark counts, read from the attempt when the report is made.
    QuizAttempt.objects.filter(case=second).update(override=Mark.CORRECT)
    assert client.get(assignment.get_absolute_url()).context["rows"][0].accuracy == 100
    # What is left to quiz: only the case not yet answered.
    response = client.post(f"/assignments/{assignment.pk}/quiz/")
    assert client.session["quiz_sessions"][response["Location"].split("/")[3]]["case_ids"] == [third.pk]


def test_an_answer_before_the_assignment_opens_does_not_count(
    resident, assign, playlist, django_capture_on_commit_callbacks
):
    assign(mode=Assignment.Mode.QUIZ, opens_on=TODAY + DAY, due_on=TODAY + 5 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        answer(logged_in(resident), cases_of(playlist)[0], "anything")
    assert not CaseCompletion.objects.exists()


def test_a_case_unpublished_after_assignment_shows_without_title_and_does_not_count(
    resident, assign, playlist
):
    assignment = assign()
    gone = cases_of(playlist)[1]
    client = logged_in(resident)
    client.post(f"/assignments/{assignment.pk}/cases/2/done/")
    Case.objects.filter(pk=gone.pk).update(status=Case.Status.DRAFT)
    page = client.get(assignment.get_absolute_url()).content.decode()
    assert "A case no longer published" in page and gone.title not in page and gone.slug not in page
    assert client.get(assignment.get_absolute_url()).context["rows"][0].total == 2
    assert client.get(assignment.get_absolute_url()).context["rows"][0].done == 0
    response = client.get(f"/assignments/{assignment.pk}/cases/2/")
    body = response.content.decode()
    assert response.status_code == 200 and "A case no longer published" in body
    assert gone.title not in body and gone.slug not in body and "Study note 1" not in body
    assert client.post(f"/assignments/{assignment.pk}/cases/2/done/").status_code == 404


def test_the_director_sees_every_resident_sorted_and_residents_only_their_own_row(
    resident, director, assign, cohort
):
    assignment = assign()
    client = logged_in(resident)
    client.post(f"/assignments/{assignment.pk}/cases/1/done/")
    client.post(f"/assignments/{assignment.pk}/cases/2/done/")
    own = client.get(assignment.get_absolute_url())
    assert [row.resident for row in own.context["rows"]] == [resident]
    assert "res-b" not in own.content.decode()
    boss = logged_in(director)
    rows = boss.get(assignment.get_absolute_url(), {"sort": "-completion"}).context["rows"]
    assert [(row.resident.username, row.completion) for row in rows] == [("res", 67), ("res-b", 0)]
    rows = boss.get(assignment.get_absolute_url(), {"sort": "completion"}).context["rows"]
    assert [row.resident.username for row in rows] == ["res-b", "res"]
    rows = boss.get(assignment.get_absolute_url(), {"sort": "-last_activity"}).context["rows"]
    assert [row.resident.username for row in rows] == ["res", "res-b"]
    assert "Back pain unknowns" in boss.get("/assignments/").content.decode().split("<h2>Reports</h2>")[1]


def read_csv(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_report_as_csv(resident, director, assign, cohort):
    assignment = assign()
    logged_in(resident).post(f"/assignments/{assignment.pk}/cases/1/done/")
    rows = read_csv(logged_in(director).get(f"/assignments/{assignment.pk}/report.csv"))
    assert [(row["resident"], row["cases done"], row["cases"], row["completion %"]) for row in rows] == [
        ("res", "1", "3", "33"),
        ("res-b", "0", "3", "0"),
    ]
    assert rows[0]["last activity"] and not rows[1]["last activity"]
    assert [
        row["resident"]
        for row in read_csv(logged_in(resident).get(f"/assignments/{assignment.pk}/report.csv"))
    ] == ["res"]
    response = Client().get(f"/assignments/{assignment.pk}/report.csv")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_csv_gives_the_residents_full_name_beside_the_username(resident, director, assign, cohort):
    resident.first_name, resident.last_name = "Ada", "Okafor"
    resident.save()
    rows = read_csv(logged_in(director).get(f"/assignments/{assign().pk}/report.csv"))
    assert [(row["resident"], row["name"]) for row in rows] == [("res", "Ada Okafor"), ("res-b", "")]


def test_the_report_has_a_sort_by_form_for_phones(director, assign, cohort):
    page = logged_in(director).get(assign().get_absolute_url(), {"sort": "-accuracy"}).content.decode()
    form = page.split('<form class="report-sort" method="get">', 1)[1].split("</form>", 1)[0]
    assert '<option value="-accuracy" selected>Accuracy, highest first</option>' in form
    assert form.count("<option") == 8


def test_a_csv_cell_is_never_a_formula(director, assign, cohort):
    cohort.residents.add(make_user("=HYPERLINK(1)", "resident"))
    rows = read_csv(logged_in(director).get(f"/assignments/{assign().pk}/report.csv"))
    assert "'=HYPERLINK(1)" in [row["resident"] for row in rows]


def test_pages_read_a_fixed_number_of_queries(
    resident, director, assign, make_case, faculty, cohort, django_assert_max_num_queries
):
    for n in range(4):
        playlist = services.playlist_create(title=f"Extra {n}", owner=faculty)
        for _ in range(3):
            services.playlist_add_case(playlist=playlist, case=make_case())
        assign(of=playlist)
    for n in range(5):
        cohort.residents.add(make_user(f"extra-{n}", "resident"))
    assignment = assign()
    client, boss = logged_in(resident), logged_in(director)
    with django_assert_max_num_queries(7):
        assert client.get("/assignments/").status_code == 200
    with django_assert_max_num_queries(9):
        assert boss.get(assignment.get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(8):
        assert boss.get(f"/assignments/{assignment.pk}/report.csv").status_code == 200


def test_a_director_makes_a_cohort_and_an_assignment_in_the_admin(director, resident, playlist, faculty):
    client = logged_in(director)
    page = client.get("/admin/programme/cohort/add/").content.decode()
    assert f'value="{resident.pk}"' in page and f'value="{faculty.pk}"' not in page  # residents only
    response = client.post(
        "/admin/programme/cohort/add/", {"name": "PGY-3 2026-27", "residents": [resident.pk]}
    )
    assert response.status_code == 302
    cohort = Cohort.objects.get(name="PGY-3 2026-27")
    assert list(cohort.residents.all()) == [resident]
    data = {
        "playlist": playlist.pk,
        "cohort": cohort.pk,
        "mode": "quiz",
        "opens_on": str(TODAY),
        "due_on": str(TODAY - DAY),
    }
    response = client.post("/admin/programme/assignment/add/", data)
    assert response.status_code == 200 and not Assignment.objects.exists()  # due before it opens
    response = client.post("/admin/programme/assignment/add/", {**data, "due_on": str(TODAY + 7 * DAY)})
    assert response.status_code == 302
    assignment = Assignment.objects.get()
    assert assignment.created_by == director and assignment.mode == Assignment.Mode.QUIZ
    assert "Back pain unknowns" in logged_in(resident).get("/assignments/").content.decode()


def test_the_programme_demo_loads_once(seeded):
    from django.core.management import call_command

    make_user("resident", "resident")
    out = io.StringIO()
    call_command("load_programme_demo", "--allow-without-debug", stdout=out)
    assert "director log-in" in out.getvalue()
    assignment = Assignment.objects.get()
    assert assignment.playlist.items.count() == Case.objects.published().count() > 0
    assert list(assignment.cohort.residents.values_list("username", flat=True)) == ["resident"]
    out = io.StringIO()
    call_command("load_programme_demo", "--allow-without-debug", stdout=out)
    assert "already" in out.getvalue() and Assignment.objects.count() == 1
