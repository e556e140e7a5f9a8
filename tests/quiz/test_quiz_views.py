"""The quiz page, the reveal (a POST with CSRF), the override, drafts, and anonymous residents."""

import html
import re

import pytest
from django.test import Client

from cases.models import Case
from quiz.models import Mark, QuizAttempt, ReviewCard
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"
EMH = "acute-back-pain-29m"
AML = "lumbosacral-mri-and-chest-ct"


def quiz_url(slug: str) -> str:
    return f"/cases/{slug}/quiz/"


def reveal(client: Client, slug: str, guess: str = "", **fields):
    return client.post(quiz_url(slug), {"guess": guess, **fields})


def text_of(response) -> str:
    """The page's visible text, tags removed and white space collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_quiz_page_offers_the_answer_form_and_a_csrf_protected_reveal(client, seeded):
    html = client.get(quiz_url(SACRAL)).content.decode()
    assert f'method="post" action="/cases/{SACRAL}/quiz/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    for field in ["guess", "differential_1", "differential_2", "differential_3"]:
        assert f'name="{field}"' in html
    assert "Intraosseous haemangioma" not in html


def test_reveal_without_a_csrf_token_is_refused(seeded):
    client = Client(enforce_csrf_checks=True)
    assert client.post(quiz_url(SACRAL), {"guess": "chordoma"}).status_code == 403
    assert QuizAttempt.objects.count() == 0


def test_reveal_with_the_csrf_token_shows_the_answer_in_place(seeded):
    client = Client(enforce_csrf_checks=True)
    html = client.get(quiz_url(SACRAL)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(quiz_url(SACRAL), {"guess": "chordoma", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "Intraosseous haemangioma" in response.content.decode()


def test_revealed_page_teaches_the_whole_case(client, seeded):
    from imaging.demo import demo_images_ensure
    from imaging.models import Image

    demo_images_ensure()
    Image.objects.filter(series__study__case__slug=EMH).update(
        caption="Sample axial slice, caption shown after reveal"
    )
    response = reveal(
        client, EMH, "extramedullary hematopoiesis", differential_1="TB", differential_2="lymphoma"
    )
    assert response.status_code == 200
    page = text_of(response)
    case = Case.objects.get(slug=EMH)
    for expected in [
        "Extramedullary haematopoiesis",  # the final diagnosis
        "Clinical and imaging correlation",  # its certainty
        case.diagnosis_proof,  # how it was proven
        "MRI",  # findings grouped by modality
        "Marrow signal is reduced in every vertebral body.",
        "Tuberculous spondylitis",  # the differential …
        "Editors' addition (not in the source)",  # … with its rationale
        "Added by the archive's editors, not in the source",  # … and the editors' label
        "Involvement of the chest is less frequent",  # discussion
        "should bring extramedullary haematopoiesis to mind",  # teaching points
        "Sample axial slice, caption shown after reveal",  # image captions
        "Open the full case page",
    ]:
        assert expected in page, expected
    assert f'href="/cases/{EMH}/"' in response.content.decode()


def test_revealed_page_compares_the_answer_with_the_case(client, seeded):
    page = text_of(reveal(client, AML, "chloroma", differential_1="EMH", differential_2="osteomyelitis"))
    # Top-down, in plain words: the diagnosis, then what the resident answered and how it was marked.
    answered = page.index("You answered “chloroma”: close")
    assert page.index("Final diagnosis: Leukaemic infiltration") < answered
    assert "the source cannot tell it apart from the final diagnosis" in page
    for jargon in ("server's mark", "Matched name", "Your own mark", "None"):
        assert jargon not in page, jargon
    assert "EMH — in the case's differential (Extramedullary haematopoiesis)" in page
    assert "osteomyelitis — not in the case's differential" in page
    assert "Extramedullary haematopoiesis you listed it" in page


def test_a_wrong_answer_reads_not_the_diagnosis(client, seeded):
    response = reveal(client, SACRAL, "osteosarcoma")
    # The chip is followed by the full stop itself, with no space between them.
    assert "not the diagnosis</span>. " in response.content.decode()
    page = text_of(response)
    assert "You answered “osteosarcoma”: not the diagnosis" in page
    assert "wrong" not in page.lower()


def differential_section(response) -> str:
    html = response.content.decode()
    return text_of_html(html[html.index('id="differential"') :])


def text_of_html(html_text: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text)))


@pytest.mark.parametrize(
    ("slug", "guess", "marked"),
    [
        (SACRAL, "haemangioma", "Intraosseous haemangioma Final diagnosis Your answer"),  # an accepted answer
        (SACRAL, "chordoma", "Chordoma Your answer"),
        (AML, "chloroma", "Your answer"),  # close: cannot be told apart, marked where it is
    ],
)
def test_the_residents_answer_is_marked_in_the_cases_differential(client, seeded, slug, guess, marked):
    section = differential_section(reveal(client, slug, guess))
    assert marked in section
    assert section.count("Your answer") == 1


def test_an_answer_outside_the_differential_marks_no_item(client, seeded):
    assert "Your answer" not in differential_section(reveal(client, SACRAL, "osteosarcoma"))


def test_logged_in_attempt_keeps_guess_differential_mark_and_matched_name(client, seeded, resident):
    client.force_login(resident)
    reveal(client, SACRAL, "chordoma", differential_1="haemangioma", differential_2="GCT")
    attempt = QuizAttempt.objects.get()
    assert (attempt.user, attempt.case.slug, attempt.guess) == (resident, SACRAL, "chordoma")
    assert attempt.differential == ["haemangioma", "GCT"]
    assert (attempt.mark, attempt.override, attempt.matched_name) == (Mark.DIFFERENTIAL, "", "Chordoma")
    assert attempt.created_at is not None
    assert ReviewCard.objects.filter(user=resident, case=attempt.case).exists()


def test_the_browser_cannot_tell_the_server_it_was_right(client, seeded, resident):
    client.force_login(resident)
    reveal(client, SACRAL, "osteosarcoma", mark="correct", override="correct", matched_name="x")
    attempt = QuizAttempt.objects.get()
    assert (attempt.mark, attempt.override, attempt.matched_name) == (Mark.WRONG, "", "")


def test_override_is_kept_beside_the_servers_mark(client, seeded, resident):
    client.force_login(resident)
    reveal(client, SACRAL, "intraoseous haemangioma")
    attempt = QuizAttempt.objects.get()
    assert attempt.mark == Mark.CLOSE
    response = client.post(f"{quiz_url(SACRAL)}override/", {"attempt": attempt.token, "override": "correct"})
    assert response.status_code == 302
    assert response["Location"] == f"{quiz_url(SACRAL)}?attempt={attempt.token}"
    attempt.refresh_from_db()
    assert (attempt.mark, attempt.override, attempt.effective_mark) == (
        Mark.CLOSE,
        Mark.CORRECT,
        Mark.CORRECT,
    )
    page = text_of(client.get(response["Location"]))
    assert "You answered “intraoseous haemangioma”: close" in page and "You count it as correct" in page
    client.post(f"{quiz_url(SACRAL)}override/", {"attempt": attempt.token, "override": ""})
    attempt.refresh_from_db()
    assert (attempt.mark, attempt.override) == (Mark.CLOSE, "")


def test_nobody_can_override_or_reopen_someone_elses_attempt(client, seeded, resident):
    client.force_login(resident)
    reveal(client, SACRAL, "chordoma")
    attempt = QuizAttempt.objects.get()
    other = Client()
    other.force_login(make_user("other", "resident"))
    response = other.post(f"{quiz_url(SACRAL)}override/", {"attempt": attempt.token, "override": "correct"})
    assert response.status_code == 404
    attempt.refresh_from_db()
    assert attempt.override == ""
    reopened = other.get(f"{quiz_url(SACRAL)}?attempt={attempt.token}").content.decode()
    assert "Intraosseous haemangioma" not in reopened and 'name="guess"' in reopened
    # Nor through another case's URL.
    own = client.get(f"{quiz_url(EMH)}?attempt={attempt.token}").content.decode()
    assert "Extramedullary haematopoiesis" not in own


def test_an_invalid_answer_is_refused_without_revealing(client, seeded):
    response = reveal(client, SACRAL, "x" * 201)
    assert response.status_code == 400
    assert "Intraosseous haemangioma" not in response.content.decode()


@pytest.mark.parametrize("status", [Case.Status.DRAFT, Case.Status.IN_REVIEW])
def test_a_case_that_is_not_published_answers_404_to_everyone(client, seeded, editor, status):
    case = Case.objects.get(slug=SACRAL)
    Case.objects.filter(pk=case.pk).update(status=status, author=editor)
    for user in [None, make_user("r2", "resident"), make_user("f2", "faculty"), editor]:
        client.logout()
        if user:
            client.force_login(user)
        assert client.get(quiz_url(SACRAL)).status_code == 404
        assert reveal(client, SACRAL, "haemangioma").status_code == 404
    assert client.get(f"/cases/{SACRAL}/").status_code == 200  # the editor still sees the case page
    assert QuizAttempt.objects.count() == 0


def test_an_attempt_at_a_case_unpublished_since_cannot_be_reopened(client, seeded, resident):
    client.force_login(resident)
    reveal(client, SACRAL, "chordoma")
    token = QuizAttempt.objects.get().token
    Case.objects.filter(slug=SACRAL).update(status=Case.Status.DRAFT)
    assert client.get(f"{quiz_url(SACRAL)}?attempt={token}").status_code == 404
    response = client.post(f"{quiz_url(SACRAL)}override/", {"attempt": token, "override": "correct"})
    assert response.status_code == 404


def test_anonymous_residents_quiz_without_leaving_rows_in_the_database(client, seeded):
    response = reveal(client, SACRAL, "intraoseous haemangioma", differential_1="chordoma")
    assert response.status_code == 200
    page = text_of(response)
    assert "”: close" in page and "kept in this browser session only" in page
    token = re.search(r'name="attempt" value="([^"]+)"', response.content.decode()).group(1)
    redirect = client.post(f"{quiz_url(SACRAL)}override/", {"attempt": token, "override": "correct"})
    page = text_of(client.get(redirect["Location"]))
    assert "”: close" in page and "You count it as correct" in page
    started = client.post("/quiz/", {"count": 5})
    client.get(client.get(started["Location"])["Location"])
    assert QuizAttempt.objects.count() == 0
    assert ReviewCard.objects.count() == 0
    # … and their attempt is theirs alone.
    stranger = Client().get(redirect["Location"]).content.decode()
    assert "Intraosseous haemangioma" not in stranger


def test_a_plain_get_is_always_unrevealed_even_after_an_attempt(client, seeded, resident):
    client.force_login(resident)
    reveal(client, SACRAL, "chordoma")
    html = client.get(quiz_url(SACRAL)).content.decode()
    assert 'name="guess"' in html and "Intraosseous haemangioma" not in html


def test_every_quiz_page_says_it_is_for_education_only(client, seeded, resident):
    disclaimer = "For education only — not for decisions about the care of any patient."
    anonymous_pages = [quiz_url(SACRAL), "/quiz/"]
    assert all(disclaimer in client.get(url).content.decode() for url in anonymous_pages)
    assert disclaimer in reveal(client, SACRAL, "x").content.decode()
    client.force_login(resident)
    assert all(disclaimer in client.get(url).content.decode() for url in ["/quiz/review/", "/quiz/progress/"])


def test_the_nav_links_to_the_quiz(client, seeded):
    assert '<a href="/quiz/">Quiz</a>' in client.get("/").content.decode()


def test_a_recorded_answer_needs_no_further_query_to_be_shown(seeded):
    """After the attempt is written, the revealed page is built from what was read before: a connection
    lost just after the commit must not turn a stored answer into an error page (bench/faults.py)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(make_user("reader", "resident"))
    with CaptureQueriesContext(connection) as queries:
        response = reveal(client, SACRAL, "chordoma")
    assert response.status_code == 200
    statements = [query["sql"] for query in queries.captured_queries]
    insert = 'INSERT INTO "quiz_quizattempt"'
    first_write = next(i for i, sql in enumerate(statements) if sql.startswith(insert))
    allowed = ('"quiz_quizattempt"', '"quiz_reviewcard"', '"django_session"', "SAVEPOINT")
    later = [sql for sql in statements[first_write:] if not any(name in sql for name in allowed)]
    assert later == []
