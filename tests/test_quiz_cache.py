"""The unrevealed quiz page's case part is cached under the archive version (``quiz.presentation``).

A warm GET reads no case row; an edit of the case, a new image or an unpublished case shows at once;
the CSRF token, the quiz session's position and every revealed page stay per request and per
resident; nothing of the answer is ever in the cache.
"""

import pickle
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext

from authoring.services import case_return_to_draft
from cases.caching import archive_changed
from cases.models import Case
from imaging.demo import demo_images_ensure
from imaging.inputs import InputFile
from imaging.services import images_ingest, series_create
from quiz.presentation import QUIZ_PAGE_MISSING, QuizPage, quiz_page_key
from tests.conftest import make_user
from tests.test_quiz_leaks import answer_strings, leaks_in, png_bytes, tempting_case  # noqa: F401

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"
HISTORY = "Severe pain in the back and the left leg for seven weeks."
# Tables of the archive: a warm quiz page must read none of them.
ARCHIVE_TABLES = ('"cases_', '"imaging_', '"taggit_')
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def quiz_url(slug: str = SACRAL) -> str:
    return f"/cases/{slug}/quiz/"


def get_counting(client: Client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [query["sql"] for query in queries.captured_queries]


def archive_reads(statements: list[str]) -> list[str]:
    return [sql for sql in statements if any(table in sql for table in ARCHIVE_TABLES)]


def cached_entry(slug: str = SACRAL):
    return cache.get(quiz_page_key(slug))


def every_cached_value() -> bytes:
    """Every entry in the (local-memory) cache, pickled: what any later request could be served."""
    store = cache._cache  # LocMemCache: key → pickled value
    assert store, "the cache is empty"
    return b"\n".join(store.values())


@pytest.fixture
def with_images(seeded):
    demo_images_ensure()
    return seeded


def test_a_warm_quiz_page_reads_nothing_from_the_database(client, with_images):
    cold, cold_statements = get_counting(client, quiz_url())
    warm, warm_statements = get_counting(client, quiz_url())
    assert cold.status_code == warm.status_code == 200
    assert archive_reads(cold_statements), "the cold page read no case"
    # Anonymous, no Django session yet: nothing at all.
    assert len(warm_statements) == 0
    assert warm.content.decode().count(HISTORY) == cold.content.decode().count(HISTORY) == 1
    assert isinstance(cached_entry(), QuizPage)


def test_a_warm_quiz_page_costs_a_logged_in_resident_only_their_session_and_user(client, with_images):
    client.force_login(make_user("warm-reader", "resident"))
    _cold, cold_statements = get_counting(client, quiz_url())
    warm, warm_statements = get_counting(client, quiz_url())
    assert warm.status_code == 200
    assert len(warm_statements) == 2, warm_statements  # the Django session and the user row
    assert archive_reads(warm_statements) == []
    assert len(warm_statements) < len(cold_statements)


def test_an_unknown_slug_is_404_cold_and_warm_without_reading_the_case_again(client, with_images):
    assert client.get(quiz_url("no-such-case")).status_code == 404
    assert cached_entry("no-such-case") == QUIZ_PAGE_MISSING
    response, statements = get_counting(client, quiz_url("no-such-case"))
    assert response.status_code == 404 and statements == []


def test_an_edit_of_the_history_shows_at_once(client, with_images):
    assert HISTORY in client.get(quiz_url()).content.decode()
    case = Case.objects.get(slug=SACRAL)
    case.clinical_history = "Edited history: pain for eight weeks."
    case.save()
    html = client.get(quiz_url()).content.decode()
    assert "Edited history: pain for eight weeks." in html and HISTORY not in html


def test_a_new_image_shows_at_once(client, with_images):
    before = client.get(quiz_url()).content.decode()
    assert "Coronal STIR" not in before
    case = Case.objects.get(slug=SACRAL)
    series = series_create(case=case, label="Coronal STIR", modality="MR")
    result = images_ingest(series=series, files=[InputFile("coronal.png", png_bytes())])
    assert not result.rejected
    after = client.get(quiz_url()).content.decode()
    assert "Coronal STIR" in after
    assert after.count('class="stack-viewer"') == before.count('class="stack-viewer"') + 1


def test_a_case_returned_to_draft_leaves_the_quiz_at_once_and_comes_back_when_published(
    client, with_images, editor
):
    case = Case.objects.get(slug=SACRAL)
    assert client.get(quiz_url()).status_code == 200
    assert client.get(quiz_url()).status_code == 200  # warm
    case_return_to_draft(case=case, by=editor)
    assert client.get(quiz_url()).status_code == 404
    assert client.post(quiz_url(), {"guess": "haemangioma"}).status_code == 404
    Case.objects.filter(pk=case.pk).update(status=Case.Status.PUBLISHED)  # bypasses signals …
    assert client.get(quiz_url()).status_code == 404  # … so the cached answer (404) stands
    archive_changed()  # what a bulk write must call
    assert client.get(quiz_url()).status_code == 200


def test_each_client_gets_its_own_csrf_token_and_the_reveal_works_after_a_cached_get(with_images):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first_page = first.get(quiz_url())  # fills the cache
    second_page, statements = get_counting(second, quiz_url())
    assert archive_reads(statements) == [], "the second page did not come from the cache"
    tokens = []
    for client, page in [(first, first_page), (second, second_page)]:
        html = page.content.decode()
        token = TOKEN.search(html).group(1)
        # The form's token is this client's own secret, as its CSRF cookie holds it.
        assert _unmask_cipher_token(token) == client.cookies["csrftoken"].value
        tokens.append(token)
    assert _unmask_cipher_token(tokens[0]) != _unmask_cipher_token(tokens[1])
    entry = cached_entry()
    assert "csrfmiddlewaretoken" not in entry.body
    assert not any(token in entry.body for token in tokens)
    # The second client reveals with its own token; the first one's token is no good to it.
    refused = second.post(quiz_url(), {"guess": "haemangioma", "csrfmiddlewaretoken": tokens[0]})
    assert refused.status_code == 403
    revealed = second.post(quiz_url(), {"guess": "haemangioma", "csrfmiddlewaretoken": tokens[1]})
    assert revealed.status_code == 200
    assert "Intraosseous haemangioma" in revealed.content.decode()


def test_no_answer_is_ever_in_the_cache(client, tempting_case):  # noqa: F811
    strings = answer_strings(tempting_case)
    url = quiz_url(tempting_case.slug)
    html = client.get(url).content.decode()
    entry = cached_entry(tempting_case.slug)
    assert isinstance(entry, QuizPage) and entry.body in html
    assert leaks_in(pickle.dumps(entry), strings) == []
    assert leaks_in(entry.body.encode(), strings) == []
    # The reveal, and reopening it by its attempt token, leave nothing of the answer in the cache.
    revealed = client.post(url, {"guess": "schwannoma"})
    assert "Chordoma" in leaks_in(revealed.content, strings), "the checker is blind"
    token = re.search(r'name="attempt" value="([^"]+)"', revealed.content.decode()).group(1)
    reopened = client.get(f"{url}?attempt={token}")
    assert "Chordoma" in leaks_in(reopened.content, strings)
    assert leaks_in(every_cached_value(), strings) == []
    # And the cached page still shows the withheld label, not the one naming a differential item.
    assert "Series 2" in entry.body and "Schwannoma protocol" not in entry.body


def test_a_quiz_session_position_stays_with_its_resident(with_images):
    resident = Client()
    started = resident.post("/quiz/", {"region": "spine", "count": 5})
    session_id = started["Location"].split("/")[3]
    case_url = resident.get(started["Location"])["Location"]
    slug = case_url.split("/")[2]
    other = Client()
    assert "quiz-position" not in other.get(quiz_url(slug)).content.decode()  # fills the cache
    html, statements = get_counting(resident, case_url)
    assert archive_reads(statements) == []
    page = html.content.decode()
    assert "Quiz session · case 1 of 3" in page
    assert f'name="session" value="{session_id}"' in page
    # Nobody else gets the position or the session's id in the form, not even at the session's
    # address (which the page's log-in link repeats, as it repeats any address).
    for response in [other.get(quiz_url(slug)), other.get(case_url)]:
        assert "quiz-position" not in response.content.decode()
        assert f'value="{session_id}"' not in response.content.decode()
    assert session_id not in cached_entry(slug).body


def test_a_refused_answer_is_shown_again_as_typed_after_a_cached_blank_form(client, with_images):
    blank = client.get(quiz_url()).content.decode()
    assert 'name="guess"' in blank and "value=" not in blank.split('name="guess"')[1].split(">")[0]
    typed = "y" * 201
    refused = client.post(quiz_url(), {"guess": typed, "differential_1": "chordoma"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert f'value="{typed}"' in html and 'value="chordoma"' in html
    assert HISTORY in html
    again = client.get(quiz_url()).content.decode()
    assert typed not in again and 'value="chordoma"' not in again


def test_the_staff_preview_is_not_cached_and_opens_no_draft_to_the_quiz(client, with_images, editor):
    case = Case.objects.get(slug=SACRAL)
    case_return_to_draft(case=case, by=editor)
    client.force_login(editor)
    assert client.get(f"{quiz_url()}preview/").status_code == 200
    assert cached_entry() is None
    assert client.get(quiz_url()).status_code == 404
