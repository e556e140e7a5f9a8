"""Quiz sessions: start from filters, N cases in a row (POST-redirect-GET), a score at the end."""

import re

import pytest
from django.test import Client

from cases.models import Case
from quiz.models import Mark, QuizAttempt
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"
ANSWERS = {
    "back-and-left-leg-pain-47f": "intraosseous hemangioma",
    "acute-back-pain-29m": "chordoma",  # wrong
    "lumbosacral-mri-and-chest-ct": "EMH",  # in the differential, not the diagnosis
}


def start(client: Client, **choices) -> str:
    response = client.post("/quiz/", {"count": 5, **choices})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert re.fullmatch(r"/quiz/session/[0-9a-f-]{36}/", response["Location"])
    return response["Location"]


def session_id(session_url: str) -> str:
    return session_url.split("/")[3]


def session_cases(client: Client, session_url: str) -> list[str]:
    """Answer nothing, only read the order of cases, by asking the session state stored for the client."""
    state = client.session["quiz_sessions"][session_id(session_url)]
    return list(Case.objects.filter(pk__in=state["case_ids"]).values_list("slug", flat=True))


def current_case(client: Client, session_url: str) -> str:
    response = client.get(session_url)
    assert response.status_code == 302
    match = re.fullmatch(r"/cases/([\w-]+)/quiz/\?session=([0-9a-f-]{36})", response["Location"])
    assert match and match.group(2) == session_id(session_url), response["Location"]
    return match.group(1)


def answer_current(client: Client, session_url: str, guess: str | None = None):
    slug = current_case(client, session_url)
    page = client.get(f"/cases/{slug}/quiz/?session={session_id(session_url)}").content.decode()
    assert f'name="session" value="{session_id(session_url)}"' in page
    response = client.post(
        f"/cases/{slug}/quiz/",
        {"guess": ANSWERS[slug] if guess is None else guess, "session": session_id(session_url)},
    )
    assert response.status_code == 200
    return slug, response


def test_a_session_runs_case_by_case_to_a_score(client, seeded, resident):
    client.force_login(resident)
    session_url = start(client, region="spine")
    assert sorted(session_cases(client, session_url)) == sorted(ANSWERS)
    seen = []
    for position in range(1, 4):
        slug, response = answer_current(client, session_url)
        seen.append(slug)
        html = response.content.decode()
        assert f"case {position} of 3" in html
        if position < 3:
            assert f'href="{session_url}">Next case' in html
        else:
            assert f'href="{session_url}score/">See your score' in html
    assert sorted(seen) == sorted(ANSWERS)
    assert client.get(session_url)["Location"] == f"{session_url}score/"
    score = client.get(f"{session_url}score/").content.decode()
    assert "1 of 3 correct</strong>, 1 in the case's differential, 1 not the diagnosis" in score
    attempts = QuizAttempt.objects.filter(user=resident)
    assert attempts.count() == 3
    assert {str(attempt.quiz_session) for attempt in attempts} == {session_id(session_url)}


def test_the_override_changes_the_score(client, seeded):
    session_url = start(client, modality="NM")
    slug, response = answer_current(client, session_url, guess="intraoseous haemangioma")
    assert slug == SACRAL
    token = re.search(r'name="attempt" value="([^"]+)"', response.content.decode()).group(1)
    assert "0 of 1 correct</strong>, 1 close" in client.get(f"{session_url}score/").content.decode()
    client.post(f"/cases/{slug}/quiz/override/", {"attempt": token, "override": "correct"})
    score = client.get(f"{session_url}score/").content.decode()
    assert "1 of 1 correct</strong>." in score and "(your mark)" in score


@pytest.mark.parametrize(
    "choices, expected",
    [
        ({"region": "spine"}, set(ANSWERS)),  # every seed case sits in a sub-region of the spine
        ({"region": "thoracic-spine"}, {"acute-back-pain-29m", "lumbosacral-mri-and-chest-ct"}),
        ({"region": "pelvis"}, {SACRAL}),
        ({"modality": "NM"}, {SACRAL}),
        ({"modality": "CT"}, {"lumbosacral-mri-and-chest-ct"}),
        ({"diagnosis": "extramedullary-haematopoiesis"}, {"acute-back-pain-29m"}),
        ({"tag": "biopsy-proven"}, {SACRAL, "lumbosacral-mri-and-chest-ct"}),
        ({"tag": "haematology", "modality": "MR"}, {"acute-back-pain-29m", "lumbosacral-mri-and-chest-ct"}),
    ],
)
def test_sessions_start_from_the_case_filters(client, seeded, choices, expected):
    assert set(session_cases(client, start(client, **choices))) == expected


def test_a_session_has_n_cases_or_fewer_if_fewer_match(client, seeded, make_case):
    for _ in range(9):
        make_case(findings=("CT",))
    cases = session_cases(client, start(client, count=5))
    assert len(cases) == len(set(cases)) == 5
    assert len(session_cases(client, start(client, count=10))) == 10
    assert len(session_cases(client, start(client, count=20))) == 12
    assert len(session_cases(client, start(client, count=5, modality="NM"))) == 1


def test_drafts_never_enter_a_session(client, seeded, make_case):
    make_case(status=Case.Status.DRAFT, findings=("NM",))
    make_case(status=Case.Status.IN_REVIEW, findings=("NM",))
    assert session_cases(client, start(client, modality="NM", count=20)) == [SACRAL]


def test_only_cases_not_yet_seen(client, seeded, resident):
    client.force_login(resident)
    client.post(f"/cases/{SACRAL}/quiz/", {"guess": "chordoma"})
    unseen = set(session_cases(client, start(client, unseen="on")))
    assert unseen == set(ANSWERS) - {SACRAL}
    response = client.post("/quiz/", {"count": 5, "unseen": "on", "modality": "NM"})
    assert response.status_code == 200  # a friendly message, not an error
    assert "No published case matches these choices now" in response.content.decode()
    # Another resident has seen nothing yet.
    other = Client()
    other.force_login(make_user("fresh", "resident"))
    assert set(session_cases(other, start(other, unseen="on"))) == set(ANSWERS)


def test_only_cases_not_yet_seen_works_for_anonymous_residents_too(client, seeded):
    client.post(f"/cases/{SACRAL}/quiz/", {"guess": "chordoma"})
    assert set(session_cases(client, start(client, unseen="on"))) == set(ANSWERS) - {SACRAL}


def test_a_resubmitted_reveal_records_no_second_attempt(client, seeded, resident):
    client.force_login(resident)
    session_url = start(client, modality="NM")
    slug, _ = answer_current(client, session_url, guess="chordoma")
    again = client.post(
        f"/cases/{slug}/quiz/", {"guess": "intraosseous haemangioma", "session": session_id(session_url)}
    )
    assert 'class="your-answer"' in again.content.decode()
    assert QuizAttempt.objects.get().mark == Mark.DIFFERENTIAL
    # Reloading the case inside the session shows the answer given, not a fresh question.
    reloaded = client.get(f"/cases/{slug}/quiz/?session={session_id(session_url)}").content.decode()
    assert "Intraosseous haemangioma" in reloaded and 'name="guess"' not in reloaded


def test_a_session_is_its_owners_alone(client, seeded):
    session_url = start(client, modality="NM")
    slug, _ = answer_current(client, session_url, guess="chordoma")
    stranger = Client()
    assert stranger.get(session_url).status_code == 404
    assert stranger.get(f"{session_url}score/").status_code == 404
    page = stranger.get(f"/cases/{slug}/quiz/?session={session_id(session_url)}").content.decode()
    assert "Intraosseous haemangioma" not in page and 'name="guess"' in page


def test_unknown_sessions_answer_404(client, seeded):
    assert client.get("/quiz/session/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/quiz/session/not-a-uuid/").status_code == 404


def test_the_score_page_does_not_reveal_cases_not_yet_answered(client, seeded):
    session_url = start(client, region="spine")
    answered, _ = answer_current(client, session_url, guess="x")
    score = client.get(f"{session_url}score/").content.decode()
    assert "0 of 3 correct" in score and "1 of 3 answered so far" in score
    final_names = dict(Case.objects.values_list("slug", "final_diagnosis__name"))
    for slug, name in final_names.items():
        assert (name in score) == (slug == answered), slug
    assert "Not answered yet" in score


def test_a_case_unpublished_during_a_session_is_skipped(client, seeded):
    session_url = start(client, region="spine")
    first = current_case(client, session_url)
    Case.objects.filter(slug=first).update(status=Case.Status.DRAFT)
    assert current_case(client, session_url) != first
    assert len(client.session["quiz_sessions"][session_id(session_url)]["case_ids"]) == 2


def test_start_page_offers_the_filters(client, seeded):
    html = client.get("/quiz/").content.decode()
    for name in ["region", "modality", "diagnosis", "tag", "unseen", "count"]:
        assert f'name="{name}"' in html
    assert '<option value="thoracic-spine">' in html
    assert '<option value="intraosseous-haemangioma">' in html
    assert "Log in</a> to keep a history" in html


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    texts = re.findall(r"<option[^>]*>([^<]*)</option>", select)
    return [re.sub(r"[ \t\n]+", " ", text).strip(" \n") for text in texts]  # keeps the em-space indent


def test_the_start_page_offers_only_what_published_cases_have_with_counts(client, seeded, make_case):
    make_case(status=Case.Status.DRAFT, findings=("US",), tags=["draft-only"])
    make_case(findings=("CR",))
    make_case(findings=("DX",))
    html = client.get("/quiz/").content.decode()
    modalities = options(html, "modality")
    assert modalities[0] == "Any modality"
    # CR and DX are one choice; ultrasound (only in a draft) and mammography (in no case) are not offered.
    assert "Radiograph (3)" in modalities and not any("digital" in m for m in modalities)
    assert "MRI (3)" in modalities and "CT (1)" in modalities
    assert not any(m.startswith(("Ultrasound", "Mammography")) for m in modalities)
    regions = options(html, "region")
    assert "Spine (3)" in regions and "\u2003Sacrum and coccyx (2)" in regions
    assert not any(r.strip().startswith(("Abdomen", "Brain")) for r in regions)
    assert not any("draft-only" in tag for tag in options(html, "tag"))
    assert "Leukaemic infiltration (1)" in options(html, "diagnosis")


def test_a_choice_no_published_case_has_is_a_friendly_message(client, seeded):
    for choices in ({"modality": "US"}, {"tag": "no-such-tag"}, {"region": "abdomen"}):
        response = client.post("/quiz/", {"count": 5, **choices})
        assert response.status_code == 200, choices
        assert "No published case matches these choices now" in response.content.decode()
