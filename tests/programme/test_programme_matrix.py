"""The permission matrix of the programme's pages and admin models: every role against every URL.

A matrix of its own beside ``tests/site/test_permission_matrix.py`` (which leaves the programme's URLs and
models to this file), because it has roles of its own: ``resident`` is in the assignments' cohort,
``outsider`` is a resident who is not, and ``director`` is a programme director. ``faculty`` owns the
playlists except ``other_private`` (a colleague's); the rest as in the main matrix.

Outcomes use the main matrix's tokens (``200``, ``403``, ``404``, ``405``, ``L`` for the log-in page,
``A`` for the admin index, ``→/path`` and ``→/path*``). Every 200 response with a text body is checked
for leaks: never the title of a case that is not published (a playlist holds one), nor the title of a private
playlist the role may not see, nor a cohort mate's name to a resident.
"""

import contextlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import transaction
from django.urls import Resolver404, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from cases.models import Case
from programme.models import Assignment, CaseCompletion, Cohort, Conference, ConferenceAnswer, PlaylistItem
from programme.services import conference_create, playlist_add_case, playlist_create
from tests.helpers.accounts import make_user
from tests.helpers.matrix import admin_page_cells
from tests.helpers.sessions import client_as, sessions_for

# One group (`make test` runs with --dist loadgroup): the module's world is built by one worker, not by each.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("programme-matrix")]

ROLES = ["anon", "resident", "outsider", "staff", "faculty", "editor", "director", "admin"]
APP = "programme"
UNPUBLISHED_TITLE = "Adult with knee pain quokka"
PRIVATE_TITLES = {"own_private": "Private numbat list", "other_private": "Private bilby list"}
# Who may see each private playlist (its title, anywhere).
SEES = {
    "own_private": {"faculty", "editor", "director", "admin"},
    "other_private": {"editor", "director", "admin"},
}
COHORT_MATE = "resmate"
SEES_EVERY_RESIDENT = {"director", "admin"}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def build_world() -> SimpleNamespace:
    users = {
        "resident": make_user("res", "resident"),
        "outsider": make_user("res2", "resident"),
        "staff": make_user("staffer", is_staff=True),
        "faculty": make_user("fac", "faculty", is_staff=True),
        "fac2": make_user("fac2", "faculty", is_staff=True),
        "editor": make_user("edi", "editor", is_staff=True),
        "director": make_user("dir", "director", is_staff=True),
        "admin": make_user("root", is_staff=True, is_superuser=True),
    }
    w = SimpleNamespace(users=users)
    now = timezone.now()
    w.pub = Case.objects.create(
        slug="hip-pain-pangolin", title="Adult with hip pain pangolin", status="published", published_at=now
    )
    w.unpublished = Case.objects.create(slug="knee-pain-quokka", title=UNPUBLISHED_TITLE, status="draft")
    w.public = playlist_create(title="Public wallaby list", owner=users["faculty"], visibility="public")
    w.unlisted = playlist_create(title="Unlisted wallaby list", owner=users["faculty"], visibility="unlisted")
    w.own_private = playlist_create(title=PRIVATE_TITLES["own_private"], owner=users["faculty"])
    w.other_private = playlist_create(title=PRIVATE_TITLES["other_private"], owner=users["fac2"])
    w.assigned = playlist_create(title="Assigned wallaby list", owner=users["faculty"])
    for playlist in (w.public, w.unlisted, w.own_private, w.other_private, w.assigned):
        playlist_add_case(playlist=playlist, case=w.pub, note="Look at the joint space")
        # A case unpublished since it was added (the service refuses to add one now).
        PlaylistItem.objects.create(playlist=playlist, case=w.unpublished, order=2)
    w.cohort = Cohort.objects.create(name="PGY-2 matrix")
    w.cohort.residents.add(users["resident"], make_user(COHORT_MATE, "resident"))
    today = timezone.localdate()
    later = today + timezone.timedelta(days=10)
    w.study = Assignment.objects.create(playlist=w.assigned, cohort=w.cohort, opens_on=today, due_on=later)
    w.quiz = Assignment.objects.create(
        playlist=w.assigned, cohort=w.cohort, mode="quiz", opens_on=today, due_on=later
    )
    w.future = Assignment.objects.create(
        playlist=w.assigned, cohort=w.cohort, opens_on=later, due_on=later + timezone.timedelta(days=1)
    )
    w.conference = conference_create(playlist=w.public, presenter=users["faculty"])
    w.open_conference = conference_create(playlist=w.public, presenter=users["faculty"], allow_anonymous=True)
    w.assignment = w.study  # the admin rows' object
    w.playlist = w.public
    w.sessions = sessions_for(users)
    return w


@dataclass(frozen=True)
class Row:
    name: str
    url: str
    outcomes: str  # eight tokens, in the order of ROLES
    method: str = "get"
    data: dict = field(default_factory=dict)
    unchanged: str = ""
    changes: str = ""

    def expected(self, role: str) -> str:
        tokens = self.outcomes.split()
        assert len(tokens) == len(ROLES), self.name
        return tokens[ROLES.index(role)]


R = Row
ALL = "200 " * 8
MEMBER_ONLY = "L 200 404 404 404 404 404 404"
REPORT = "L 200 404 404 404 404 200 200"
SESSION = " ".join(["→/quiz/session/*"] * 8)
SITE_ROWS = [
    R("home", "/", ALL),
    R("playlists", "/playlists/", ALL),
    R("public playlist", "/playlists/{w.public.slug}/", ALL),
    R("unlisted playlist", "/playlists/{w.unlisted.slug}/", ALL),
    R("own private playlist", "/playlists/{w.own_private.slug}/", "404 404 404 404 200 200 200 200"),
    R("other private playlist", "/playlists/{w.other_private.slug}/", "404 404 404 404 404 200 200 200"),
    R("no such playlist", "/playlists/no-such-list-abcdefghijkm/", "404 " * 8),
    R("study public", "/playlists/{w.public.slug}/study/1/", ALL),
    R("study past the end", "/playlists/{w.public.slug}/study/2/", "404 " * 8),
    R("study other private", "/playlists/{w.other_private.slug}/study/1/", "404 404 404 404 404 200 200 200"),
    R("quiz public", "/playlists/{w.public.slug}/quiz/", SESSION, "post", {"order": "shuffled"}),
    R("quiz public by GET", "/playlists/{w.public.slug}/quiz/", "405 " * 8),
    R(
        "quiz other private",
        "/playlists/{w.other_private.slug}/quiz/",
        "404 404 404 404 404 →/quiz/session/* →/quiz/session/* →/quiz/session/*",
        "post",
        {"order": "playlist"},
    ),
    R("assignments", "/assignments/", "L " + "200 " * 7),
    R("study assignment", "/assignments/{w.study.pk}/", REPORT),
    R("quiz assignment", "/assignments/{w.quiz.pk}/", REPORT),
    R("assignment not yet open", "/assignments/{w.future.pk}/", "L 404 404 404 404 404 200 200"),
    R("report csv", "/assignments/{w.study.pk}/report.csv", REPORT),
    R("report csv not yet open", "/assignments/{w.future.pk}/report.csv", "L 404 404 404 404 404 200 200"),
    R("study case", "/assignments/{w.study.pk}/cases/1/", MEMBER_ONLY),
    R("study case no longer published", "/assignments/{w.study.pk}/cases/2/", MEMBER_ONLY),
    R("case of an assignment not yet open", "/assignments/{w.future.pk}/cases/1/", "L " + "404 " * 7),
    R("quiz case", "/assignments/{w.quiz.pk}/cases/1/", "L →/cases/{w.pub.slug}/quiz/" + " 404" * 6),
    R(
        "mark done",
        "/assignments/{w.study.pk}/cases/1/done/",
        "L →/assignments/{w.study.pk}/cases/2/" + " 404" * 6,
        "post",
        unchanged="no completion",
        changes="resident",
    ),
    R(
        "mark done no longer published",
        "/assignments/{w.study.pk}/cases/2/done/",
        "L " + "404 " * 7,
        "post",
        unchanged="no completion",
    ),
    R("mark quiz case done", "/assignments/{w.quiz.pk}/cases/1/done/", "L " + "404 " * 7, "post"),
    R("start quiz assignment", "/assignments/{w.quiz.pk}/quiz/", "L →/quiz/session/*" + " 404" * 6, "post"),
    R("start study assignment as quiz", "/assignments/{w.study.pk}/quiz/", "L " + "404 " * 7, "post"),
]

PRESENTER = "404 404 404 404 {} 404 404 404"
TO_CONFERENCE = "→/conference/{w.conference.id}/"
SITE_ROWS += [
    R(
        "make a conference",
        "/playlists/{w.public.slug}/conference/",
        "404 404 404 404 →/conference/* →/conference/* 404 →/conference/*",
        "post",
        unchanged="two conferences",
        changes="faculty editor admin",
    ),
    R("join page", "/conference/join/", ALL),
    R(
        "join by code",
        "/conference/join/",
        " ".join([TO_CONFERENCE] * 8),
        "post",
        {"code": "{w.conference.code}"},
    ),
    R("join by a wrong code", "/conference/join/", "404 " * 8, "post", {"code": "zzzzzz"}),
    R("audience", "/conference/{w.conference.id}/", "L " + "200 " * 7),
    R("audience open to anonymous", "/conference/{w.open_conference.id}/", ALL),
    R("audience state", "/conference/{w.conference.id}/state/", "403 " + "200 " * 7),
    R("audience state open to anonymous", "/conference/{w.open_conference.id}/state/", ALL),
    R(
        "answer",
        "/conference/{w.conference.id}/answer/",
        # Not allowed anonymously: the log-in page, and back to the conference (not to the POST's URL).
        "→/accounts/login/* " + " ".join([TO_CONFERENCE] * 7),
        "post",
        {"answer": "osteoid osteoma"},
        unchanged="no answer",
        changes="resident outsider staff faculty editor director admin",
    ),
    R("present", "/conference/{w.conference.id}/present/", PRESENTER.format("200")),
    R("tally", "/conference/{w.conference.id}/present/tally/", PRESENTER.format("200")),
    R(
        "step",
        "/conference/{w.conference.id}/present/step/",
        PRESENTER.format("→/conference/{w.conference.id}/present/"),
        "post",
        {"direction": "next"},
        unchanged="conference where it was",
        changes="faculty",
    ),
    R(
        "end",
        "/conference/{w.conference.id}/present/settings/",
        PRESENTER.format("→/conference/{w.conference.id}/present/"),
        "post",
        {"end": "1"},
        unchanged="conference where it was",
        changes="faculty",
    ),
]

NO_ADMIN = "L L L "
ADMIN_ROWS = [
    R("admin app", "/admin/programme/", NO_ADMIN + "404 200 200 200 200"),
    R(
        "autocomplete playlist case",
        "/admin/autocomplete/?term=&app_label=programme&model_name=playlistitem&field_name=case",
        NO_ADMIN + "403 200 200 403 200",
    ),
    R(
        "autocomplete assignment playlist",
        "/admin/autocomplete/?term=&app_label=programme&model_name=assignment&field_name=playlist",
        NO_ADMIN + "403 200 200 200 200",
    ),
    R(
        "autocomplete assignment cohort",
        "/admin/autocomplete/?term=&app_label=programme&model_name=assignment&field_name=cohort",
        NO_ADMIN + "403 403 403 200 200",
    ),
]

DIRECTORS = NO_ADMIN + "403 403 403 200 200"
ADMIN_MODELS = {
    # (change, delete, history) per object
    "programme.Playlist": {
        "changelist": NO_ADMIN + "403 200 200 200 200",
        "add": NO_ADMIN + "403 200 200 403 200",
        "objects": {
            "public": (
                NO_ADMIN + "403 200 200 200 200",
                NO_ADMIN + "403 200 200 403 200",
                NO_ADMIN + "A 200 200 200 200",
            ),
            "other_private": (
                NO_ADMIN + "403 A 200 200 200",
                NO_ADMIN + "403 A 200 403 200",
                NO_ADMIN + "A A 200 200 200",
            ),
        },
    },
    "programme.Cohort": {"changelist": DIRECTORS, "add": DIRECTORS, "objects": {"cohort": (DIRECTORS,) * 3}},
    "programme.Assignment": {
        "changelist": DIRECTORS,
        "add": DIRECTORS,
        "objects": {"assignment": (DIRECTORS,) * 3},
    },
}


def admin_model_rows() -> list[Row]:
    cells = admin_page_cells(ADMIN_MODELS, include=lambda app: app == APP, missing="MISSING " * len(ROLES))
    return [R(*cell) for cell in cells]


ALL_ROWS = SITE_ROWS + ADMIN_ROWS + admin_model_rows()
CELLS = [(row, role) for row in ALL_ROWS for role in ROLES]

UNCHANGED = {
    "no completion": lambda w: not CaseCompletion.objects.exists(),
    "two conferences": lambda w: Conference.objects.count() == 2,
    "no answer": lambda w: not ConferenceAnswer.objects.exists(),
    "conference where it was": lambda w: Conference.objects.filter(
        pk=w.conference.pk, step=0, version=1, ended_at=None
    ).exists(),
}


def url_of(row: Row, w) -> str:
    if row.url.startswith("admin:"):
        name, _, attribute = row.url.partition(":")[2].partition(":")
        return reverse(f"admin:{name}", args=[getattr(w, attribute).pk] if attribute else [])
    return row.url.format(w=w)


def assert_outcome(response, expected: str, url: str, w) -> None:
    status = response.status_code
    if expected.isdigit():
        assert status == int(expected), f"{status} (Location {response.get('Location')})"
        return
    assert status == 302, f"{status}, expected a redirect ({expected})"
    location = urlsplit(response["Location"])
    if expected == "L":
        login = reverse("admin:login") if url.startswith("/admin/") else reverse("login")
        assert location.path == login and parse_qs(location.query) == {"next": [url]}, response["Location"]
    elif expected == "A":
        assert response["Location"] == reverse("admin:index")
    elif expected.startswith("→"):
        target = expected[1:].format(w=w)
        if target.endswith("*"):
            assert location.path.startswith(target[:-1]), response["Location"]
        else:
            assert location.path == target, response["Location"]
    else:
        pytest.fail(f"unknown outcome {expected!r}")


def assert_no_leak(response, role: str, row: Row) -> None:
    if response.status_code != 200 or not response["Content-Type"].startswith(
        ("text/html", "text/csv", "application/json")
    ):
        return
    body = response.content.decode()
    if row.name != "home":  # the archive's own home page lists drafts to editors, as it should
        assert UNPUBLISHED_TITLE not in body, f"{role} sees the unpublished case at {row.name}"
    for key, title in PRIVATE_TITLES.items():
        if role not in SEES[key]:
            assert title not in body, f"{role} sees {key} at {row.name}"
    if role not in SEES_EVERY_RESIDENT:
        assert COHORT_MATE not in body, f"{role} sees a cohort mate at {row.name}"


@pytest.mark.parametrize(("row", "role"), CELLS, ids=[f"{row.name}-{role}" for row, role in CELLS])
def test_matrix(world, role, row):
    client = client_as(world.sessions.get(role))
    url = url_of(row, world)
    data = {key: value.format(w=world) for key, value in row.data.items()}
    response = client.post(url, data) if row.method == "post" else client.get(url)
    assert_outcome(response, row.expected(role), url, world)
    assert_no_leak(response, role, row)
    if row.unchanged and role not in row.changes.split():
        assert UNCHANGED[row.unchanged](world), row.unchanged


def test_every_programme_admin_model_is_in_the_matrix():
    registered = {
        model._meta.label
        for model in apps.get_models()
        if admin.site.is_registered(model) and model._meta.app_label == APP
    }
    assert registered == set(ADMIN_MODELS)


def programme_patterns(resolver, namespace: str = ""):
    """Named URL patterns of the programme: its own views and the admin pages of its models."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from programme_patterns(pattern, inner)
        elif pattern.name:
            name = f"{namespace}{pattern.name}"
            if pattern.callback.__module__.startswith(f"{APP}.") or name.startswith(f"admin:{APP}_"):
                yield name


def test_every_programme_url_pattern_has_a_row(world):
    reached = set()
    for row in ALL_ROWS:
        if "MISSING" not in row.outcomes:
            with contextlib.suppress(Resolver404):
                reached.add(resolve(urlsplit(url_of(row, world)).path).view_name)
    missing = set(programme_patterns(get_resolver())) - reached
    assert missing == set()
    assert len(reached) > 10  # the walk found the programme's patterns at all
