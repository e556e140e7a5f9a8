"""The unknown-case conference: the presenter's steps, what the audience sees at each step (leak tests),
answers and their nameless tally, joining by code, anonymous residents only when allowed."""

import importlib
import json
import re
from types import SimpleNamespace

import pytest
from django.test import Client

from cases.models import Case, DifferentialItem, Finding
from imaging.models import Image
from programme import services
from programme.models import Conference, ConferenceAnswer, Step
from tests.helpers.accounts import make_user
from tests.helpers.authoring import add_image, diagnosis_named

pytestmark = pytest.mark.django_db

# One word per step; each must appear from its step on, and never before.
HISTORY = "Historyword: pain for weeks"
IMAGES = "stack-viewer"
FINDING = "Findingword lobulated mass"
DIFFERENTIAL = "Giant cell tumour"
# The second series' label is not all technique and the image's caption is the author's: both are withheld
# (the quiz's own rule) until the case is revealed.
REVEAL = [
    "Ependymoma",
    "Discussionword",
    "Proofword",
    "Woman with zebra pain",
    "zebra-case",
    "Zebralabel after surgery",
    "Captionword",
]
BY_STEP = {
    Step.HISTORY: [HISTORY],
    Step.IMAGES: [IMAGES],
    Step.FINDINGS: [FINDING],
    Step.DIFFERENTIAL: [DIFFERENTIAL],
    Step.DIAGNOSIS: REVEAL,
}


@pytest.fixture
def unknown_case(db):
    from django.utils import timezone

    case = Case.objects.create(
        slug="zebra-case",
        title="Woman with zebra pain",
        status=Case.Status.PUBLISHED,
        published_at=timezone.now(),
        age=47,
        sex="F",
        clinical_history=HISTORY,
        final_diagnosis=diagnosis_named("Ependymoma"),
        diagnosis_certainty=Case.Certainty.HISTOLOGY,
        diagnosis_proof="Proofword biopsy.",
        discussion="Discussionword.",
    )
    Finding.objects.create(case=case, modality="MR", study="Sagittal T2", text=FINDING, order=1)
    for order, name in enumerate(["Chordoma", DIFFERENTIAL], start=1):
        DifferentialItem.objects.create(case=case, diagnosis=diagnosis_named(name), order=order)
    add_image(case)
    add_image(case, label="Zebralabel after surgery")
    Image.objects.filter(series__study__case=case).update(caption="Captionword: the mass")
    return case


@pytest.fixture
def conference(unknown_case, faculty, make_case):
    playlist = services.playlist_create(title="Friday unknowns", owner=faculty, visibility="unlisted")
    services.playlist_add_case(playlist=playlist, case=unknown_case)
    services.playlist_add_case(playlist=playlist, case=make_case(title="Second unknown"))
    return services.conference_create(playlist=playlist, presenter=faculty, allow_anonymous=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("step", list(Step))
def test_nothing_of_a_step_reaches_anyone_before_the_presenter_opens_it(conference, faculty, resident, step):
    Conference.objects.filter(pk=conference.pk).update(step=step)
    pages = {
        "audience": text(logged_in(resident).get(f"/conference/{conference.id}/")),
        "anonymous": text(Client().get(f"/conference/{conference.id}/")),
        "presenter": text(logged_in(faculty).get(f"/conference/{conference.id}/present/")),
    }
    polled = [
        text(Client().get(f"/conference/{conference.id}/state/")),
        text(logged_in(faculty).get(f"/conference/{conference.id}/present/tally/")),
    ]
    for name, page in pages.items():
        for opened, markers in BY_STEP.items():
            for marker in markers:
                if opened <= step:
                    assert marker in page, (name, step, marker)
                else:
                    assert marker not in page, (name, step, marker)
    for body in polled:
        for markers in BY_STEP.values():
            assert not any(marker in body for marker in markers)


def test_the_presenter_steps_through_the_cases_and_back(conference, faculty):
    client = logged_in(faculty)
    places = []
    for _ in range(11):
        client.post(f"/conference/{conference.id}/present/step/", {"direction": "next"})
        conference.refresh_from_db()
        places.append((conference.position, conference.step))
    assert places[:6] == [(0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1)]
    assert places[-1] == (1, 4)  # the end: it stays there
    version = conference.version
    client.post(f"/conference/{conference.id}/present/step/", {"direction": "previous"})
    conference.refresh_from_db()
    assert (conference.position, conference.step, conference.version) == (1, 3, version + 1)
    assert client.post(f"/conference/{conference.id}/present/step/", {"direction": "up"}).status_code == 400


def test_only_the_presenter_presents(conference, other_faculty, resident, editor):
    for user in (other_faculty, resident, editor):
        client = logged_in(user)
        for url in ["present/", "present/tally/"]:
            assert client.get(f"/conference/{conference.id}/{url}").status_code == 404
        for url in ["present/step/", "present/settings/"]:
            assert client.post(f"/conference/{conference.id}/{url}", {"end": "1"}).status_code == 404
    conference.refresh_from_db()
    assert (conference.step, conference.ended_at, conference.version) == (0, None, 1)


def test_faculty_make_a_conference_from_a_playlist_and_residents_cannot(conference, faculty, resident):
    playlist = conference.playlist
    page = text(logged_in(faculty).get(playlist.get_absolute_url()))
    assert "Present it as an unknown-case conference" in page
    assert "unknown-case conference" not in text(logged_in(resident).get(playlist.get_absolute_url()))
    assert logged_in(resident).post(f"/playlists/{playlist.slug}/conference/").status_code == 404
    response = logged_in(faculty).post(f"/playlists/{playlist.slug}/conference/")
    made = Conference.objects.exclude(pk=conference.pk).get()
    assert response["Location"] == f"/conference/{made.id}/present/"
    assert made.case_ids == list(playlist.items.order_by("order").values_list("case_id", flat=True))
    assert f"/conference/{made.id}/present/" in text(logged_in(faculty).get("/playlists/"))
    assert f"/conference/{made.id}/" not in text(logged_in(resident).get("/playlists/"))
    assert not made.allow_anonymous and made.code != conference.code


def test_answers_are_tallied_without_names_and_close_at_the_reveal(conference, faculty, resident):
    mate = make_user("resmate", "resident")
    anonymous = Client()
    logged_in(resident).post(f"/conference/{conference.id}/answer/", {"answer": "chordoma"})
    logged_in(resident).post(f"/conference/{conference.id}/answer/", {"answer": "Ependymoma"})  # changed
    logged_in(mate).post(f"/conference/{conference.id}/answer/", {"answer": "ependymoma "})
    anonymous.post(f"/conference/{conference.id}/answer/", {"answer": "Chordoma"})
    assert ConferenceAnswer.objects.count() == 3
    tally = json.loads(text(logged_in(faculty).get(f"/conference/{conference.id}/present/tally/")))
    assert [(row["answer"], row["count"]) for row in tally["answers"]] == [("Ependymoma", 2), ("Chordoma", 1)]
    page = text(logged_in(faculty).get(f"/conference/{conference.id}/present/"))
    assert "resmate" not in page and resident.username + "<" not in page
    assert "you may change it" in text(anonymous.get(f"/conference/{conference.id}/"))
    assert all(row["mark"] == "" for row in tally["answers"])  # no mark before the reveal
    Conference.objects.filter(pk=conference.pk).update(step=Step.DIAGNOSIS)
    tally = json.loads(text(logged_in(faculty).get(f"/conference/{conference.id}/present/tally/")))
    assert [row["mark"] for row in tally["answers"]] == ["Correct", "In the differential, not the diagnosis"]
    assert "In the differential, not the diagnosis" in text(
        logged_in(faculty).get(f"/conference/{conference.id}/present/")
    )
    logged_in(make_user("late", "resident")).post(
        f"/conference/{conference.id}/answer/", {"answer": "late one"}
    )
    assert not ConferenceAnswer.objects.filter(answer="late one").exists()
    assert 'name="answer"' not in text(logged_in(mate).get(f"/conference/{conference.id}/"))
    assert logged_in(mate).post(f"/conference/{conference.id}/answer/", {"answer": ""}).status_code == 400


def test_anonymous_residents_join_only_when_the_presenter_allows_it(conference, faculty):
    logged_in(faculty).post(f"/conference/{conference.id}/present/settings/", {})
    conference.refresh_from_db()
    assert not conference.allow_anonymous
    anonymous = Client()
    response = anonymous.get(f"/conference/{conference.id}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert anonymous.get(f"/conference/{conference.id}/state/").status_code == 403
    anonymous.post(f"/conference/{conference.id}/answer/", {"answer": "x"})
    assert not ConferenceAnswer.objects.exists()


def test_joining_by_the_code_on_the_presenters_screen(conference, faculty):
    assert conference.code in text(logged_in(faculty).get(f"/conference/{conference.id}/present/"))
    response = Client().post("/conference/join/", {"code": conference.code.upper()})
    assert response["Location"] == f"/conference/{conference.id}/"
    assert Client().post("/conference/join/", {"code": "nope42"}).status_code == 404
    logged_in(faculty).post(
        f"/conference/{conference.id}/present/settings/", {"end": "1", "allow_anonymous": "1"}
    )
    assert Client().post("/conference/join/", {"code": conference.code}).status_code == 404
    page = text(Client().get(f"/conference/{conference.id}/"))
    assert "has ended" in page and HISTORY not in page


def test_a_case_unpublished_during_the_conference_shows_nothing_of_itself(conference, unknown_case, resident):
    Case.objects.filter(pk=unknown_case.pk).update(status=Case.Status.DRAFT)
    page = text(logged_in(resident).get(f"/conference/{conference.id}/"))
    assert "A case no longer published" in page and HISTORY not in page and 'name="answer"' not in page


def test_the_audience_page_reads_a_fixed_number_of_queries(conference, django_assert_max_num_queries):
    for n in range(20):
        services.conference_answer(conference=conference, participant=f"anon:{n}", answer=f"answer {n}")
    Conference.objects.filter(pk=conference.pk).update(step=Step.DIFFERENTIAL)
    client = Client()
    client.get(f"/conference/{conference.id}/")  # the session's first save
    with django_assert_max_num_queries(13):
        text(client.get(f"/conference/{conference.id}/"))
    with django_assert_max_num_queries(2):  # the session and the conference
        text(client.get(f"/conference/{conference.id}/state/"))


@pytest.mark.parametrize("answer", ["x" * 201, "   ", "a\x00b", "<script>alert(1)</script>" * 7])
def test_hostile_answers_are_refused_or_kept_as_text(conference, resident, faculty, answer):
    response = logged_in(resident).post(f"/conference/{conference.id}/answer/", {"answer": answer})
    stored = ConferenceAnswer.objects.first()
    if response.status_code == 400:
        assert stored is None
    else:
        page = text(logged_in(faculty).get(f"/conference/{conference.id}/present/"))
        assert "<script>alert" not in page and stored.answer == answer.strip()


@pytest.mark.parametrize("code", ["' OR 1=1 --", "x" * 5000, "a\x00b", ""])
def test_hostile_join_codes_find_nothing(conference, code):
    assert Client().post("/conference/join/", {"code": code}).status_code == 404


def test_addresses_that_are_not_uuids_are_not_routed(client):
    assert client.get("/conference/1/").status_code == 404
    assert client.get("/conference/1/present/").status_code == 404


def test_answers_stay_closed_after_the_presenter_steps_back_from_the_reveal(conference, faculty, resident):
    """Residents who have seen the diagnosis cannot answer, or change their answer, when the presenter goes
    "Back" to the differential (or from the next case into this one)."""
    presenter, audience = logged_in(faculty), logged_in(resident)
    audience.post(f"/conference/{conference.id}/answer/", {"answer": "Chordoma"})
    for _ in range(4):  # history → diagnosis
        presenter.post(f"/conference/{conference.id}/present/step/", {"direction": "next"})
    conference.refresh_from_db()
    assert conference.revealed_case_ids == [conference.case_ids[0]]
    presenter.post(f"/conference/{conference.id}/present/step/", {"direction": "previous"})
    conference.refresh_from_db()
    assert conference.step == Step.DIFFERENTIAL
    page = text(audience.get(f"/conference/{conference.id}/"))
    assert 'name="answer"' not in page and "Answers to this case are closed" in page
    assert "Your answer: “Chordoma”" in page
    audience.post(f"/conference/{conference.id}/answer/", {"answer": "Ependymoma"})
    logged_in(make_user("latecomer", "resident")).post(
        f"/conference/{conference.id}/answer/", {"answer": "Ependymoma"}
    )
    assert list(ConferenceAnswer.objects.values_list("answer", flat=True)) == ["Chordoma"]
    # The presenter's tally keeps its marks: the room has seen the diagnosis.
    assert "In the differential, not the diagnosis" in text(
        presenter.get(f"/conference/{conference.id}/present/")
    )
    # On to the next case (answers open there) and back again into the revealed one: still closed.
    for _ in range(2):
        presenter.post(f"/conference/{conference.id}/present/step/", {"direction": "next"})
    assert 'name="answer"' in text(audience.get(f"/conference/{conference.id}/"))
    presenter.post(f"/conference/{conference.id}/present/step/", {"direction": "previous"})
    assert 'name="answer"' not in text(audience.get(f"/conference/{conference.id}/"))


def test_the_playlists_page_title_is_plain_text_for_a_presenter_with_running_conferences(conference, faculty):
    page = text(logged_in(faculty).get("/playlists/"))
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL).group(1)
    assert "<" not in title and "Your running conferences" not in title and title.startswith("Playlists")
    assert page.count("Your running conferences") == 1  # in the page's content, once


def test_the_projected_tally_is_hidden_until_the_presenter_shows_it(conference, faculty):
    """The presenter's page is on the projector: the answers stay folded away ("Show answers", a closed
    <details>) so that the room does not read each other's answers while still answering."""
    resident = make_user("zebramate", "resident")
    logged_in(resident).post(f"/conference/{conference.id}/answer/", {"answer": "Chordoma"})
    page = text(logged_in(faculty).get(f"/conference/{conference.id}/present/"))
    tally = re.search(r'<details class="conference-tally"[^>]*>', page).group(0)
    assert " open" not in tally and "Show answers" in page and "1</span> so far, no names" in page
    assert page.index("Show answers") < page.index("Chordoma")  # the answers are inside the folded part
    assert "zebramate" not in page
    audience = text(logged_in(resident).get(f"/conference/{conference.id}/"))
    assert "Show answers" not in audience and "tally" not in audience


def test_the_last_case_ends_with_no_next_button(conference, faculty):
    presenter = logged_in(faculty)
    Conference.objects.filter(pk=conference.pk).update(position=1, step=Step.DIFFERENTIAL)
    assert "Open: Diagnosis and discussion →" in text(presenter.get(f"/conference/{conference.id}/present/"))
    Conference.objects.filter(pk=conference.pk).update(position=0, step=Step.DIAGNOSIS)
    assert "Next case →" in text(presenter.get(f"/conference/{conference.id}/present/"))
    Conference.objects.filter(pk=conference.pk).update(position=1, step=Step.DIAGNOSIS)
    page = text(presenter.get(f"/conference/{conference.id}/present/"))
    assert "Next case" not in page and 'value="next"' not in page and "End of conference" in page


def test_wrong_join_codes_are_limited_per_address_in_each_minute(conference, monkeypatch):
    """After JOIN_TRY_LIMIT wrong codes in a minute of the clock an address is refused (a right code too)
    with a 429 page naming the seconds left of that minute; another address is not; the next minute starts
    again."""
    from programme import join_throttling

    now = [1_800_000_000.0 + 15]  # 15 s into a minute: 45 s left of it
    monkeypatch.setattr(join_throttling, "time", SimpleNamespace(time=lambda: now[0]))
    guesser = Client(REMOTE_ADDR="192.0.2.7")
    for n in range(join_throttling.JOIN_TRY_LIMIT):
        assert guesser.post("/conference/join/", {"code": f"zz{n:04d}"}).status_code == 404
    refused = guesser.post("/conference/join/", {"code": conference.code})
    assert refused.status_code == 429 and refused["Retry-After"] == "45"
    assert re.search(r"please wait 45 seconds before trying again", refused.content.decode())
    other = Client(REMOTE_ADDR="192.0.2.8").post("/conference/join/", {"code": conference.code})
    assert other["Location"] == f"/conference/{conference.id}/"
    now[0] += 45
    assert guesser.post("/conference/join/", {"code": conference.code}).status_code == 302


def test_right_join_codes_do_not_count_against_an_address(conference, monkeypatch):
    """Residents behind one address join together: only wrong codes use up its tries."""
    from programme import join_throttling

    monkeypatch.setattr(join_throttling, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    ward = Client(REMOTE_ADDR="192.0.2.9")
    for _ in range(3 * join_throttling.JOIN_TRY_LIMIT):
        assert ward.post("/conference/join/", {"code": conference.code}).status_code == 302
    for n in range(join_throttling.JOIN_TRY_LIMIT):
        assert ward.post("/conference/join/", {"code": f"zz{n:04d}"}).status_code == 404
    assert ward.post("/conference/join/", {"code": "zz9999"}).status_code == 429


@pytest.mark.parametrize(
    ("position", "step", "answered", "revealed"),
    [
        (0, Step.FINDINGS, [], 0),  # nothing shown yet
        (1, Step.IMAGES, [1], 1),  # the first case was passed on the way
        (1, Step.DIAGNOSIS, [1], 2),  # the current case's diagnosis is open
        (0, Step.DIFFERENTIAL, [0, 1], 2),  # back from the second case, which had answers
    ],
)
def test_the_backfill_closes_every_case_a_running_conference_may_have_revealed(
    conference, position, step, answered, revealed
):
    from django.apps import apps

    backfill = importlib.import_module("programme.migrations.0005_conference_revealed_cases").backfill
    Conference.objects.filter(pk=conference.pk).update(position=position, step=step, revealed_case_ids=[])
    for index in answered:
        ConferenceAnswer.objects.create(
            conference=conference, case_id=conference.case_ids[index], participant="p", answer="a guess"
        )
    backfill(apps, None)
    conference.refresh_from_db()
    assert conference.revealed_case_ids == conference.case_ids[:revealed]
