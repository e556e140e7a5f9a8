"""The unrevealed quiz page: an edit of the case, a new image or an unpublished case shows at once;
the CSRF token and the quiz session's position stay per request and per resident.
"""

import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from authoring.services import case_return_to_draft
from cases.models import Case
from imaging.demo import demo_images_ensure
from imaging.inputs import InputFile
from imaging.services import images_ingest, series_create
from tests.helpers.leaks import png_bytes

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"
HISTORY = "Severe pain in the back and the left leg for seven weeks."
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def quiz_url(slug: str = SACRAL) -> str:
    return f"/cases/{slug}/quiz/"


@pytest.fixture
def with_images(seeded):
    demo_images_ensure()
    return seeded


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
    case_return_to_draft(case=case, by=editor)
    assert client.get(quiz_url()).status_code == 404
    assert client.post(quiz_url(), {"guess": "haemangioma"}).status_code == 404
    Case.objects.filter(pk=case.pk).update(status=Case.Status.PUBLISHED)
    assert client.get(quiz_url()).status_code == 200


def test_each_client_gets_its_own_csrf_token_and_the_reveal_works(with_images):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first_page, second_page = first.get(quiz_url()), second.get(quiz_url())
    tokens = []
    for client, page in [(first, first_page), (second, second_page)]:
        html = page.content.decode()
        token = TOKEN.search(html).group(1)
        # The form's token is this client's own secret, as its CSRF cookie holds it.
        assert _unmask_cipher_token(token) == client.cookies["csrftoken"].value
        tokens.append(token)
    assert _unmask_cipher_token(tokens[0]) != _unmask_cipher_token(tokens[1])
    # The second client reveals with its own token; the first one's token is no good to it.
    refused = second.post(quiz_url(), {"guess": "haemangioma", "csrfmiddlewaretoken": tokens[0]})
    assert refused.status_code == 403
    revealed = second.post(quiz_url(), {"guess": "haemangioma", "csrfmiddlewaretoken": tokens[1]})
    assert revealed.status_code == 200
    assert "Intraosseous haemangioma" in revealed.content.decode()


def test_a_quiz_session_position_stays_with_its_resident(with_images):
    resident = Client()
    started = resident.post("/quiz/", {"region": "spine", "count": 5})
    session_id = started["Location"].split("/")[3]
    case_url = resident.get(started["Location"])["Location"]
    slug = case_url.split("/")[2]
    other = Client()
    assert "quiz-position" not in other.get(quiz_url(slug)).content.decode()
    page = resident.get(case_url).content.decode()
    assert "Quiz session · case 1 of 3" in page
    assert f'name="session" value="{session_id}"' in page
    # Nobody else gets the position or the session's id in the form, not even at the session's
    # address (which the page's log-in link repeats, as it repeats any address).
    for response in [other.get(quiz_url(slug)), other.get(case_url)]:
        assert "quiz-position" not in response.content.decode()
        assert f'value="{session_id}"' not in response.content.decode()


def test_a_refused_answer_is_shown_again_as_typed_after_a_blank_form(client, with_images):
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


def test_the_staff_preview_opens_no_draft_to_the_quiz(client, with_images, editor):
    case = Case.objects.get(slug=SACRAL)
    case_return_to_draft(case=case, by=editor)
    client.force_login(editor)
    assert client.get(f"{quiz_url()}preview/").status_code == 200
    assert client.get(quiz_url()).status_code == 404
