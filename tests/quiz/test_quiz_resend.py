"""An answer form sent twice (a retry after a lost reply, a reload of the answer) is recorded once."""

import re

import pytest
from django.test import Client

from quiz.attempts import SESSION_KEY
from quiz.models import QuizAttempt, ReviewCard
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"
EMH = "acute-back-pain-29m"
KEY_RE = re.compile(r'name="key" value="([0-9a-f-]{36})"')
ATTEMPT_RE = re.compile(r'name="attempt" value="([0-9a-f-]{36})"')


def quiz_url(slug: str) -> str:
    return f"/cases/{slug}/quiz/"


def form_key(client: Client, slug: str) -> str:
    return KEY_RE.search(client.get(quiz_url(slug)).content.decode()).group(1)


def answer(client: Client, slug: str, guess: str, key: str | None):
    response = client.post(quiz_url(slug), {"guess": guess, **({"key": key} if key else {})})
    assert response.status_code == 200
    return response


def attempt_token(response) -> str:
    return ATTEMPT_RE.search(response.content.decode()).group(1)


@pytest.fixture
def resident():
    client = Client()
    client.force_login(make_user("reader", "resident"))
    return client


def test_every_form_shown_carries_a_new_key(client, seeded):
    assert form_key(client, SACRAL) != form_key(client, SACRAL)


def test_the_same_form_sent_twice_records_one_attempt_and_shows_it_again(resident, seeded):
    key = form_key(resident, SACRAL)
    first = answer(resident, SACRAL, "chordoma", key)
    card = ReviewCard.objects.values().get()
    again = answer(resident, SACRAL, "chordoma", key)
    assert QuizAttempt.objects.count() == 1
    attempt = QuizAttempt.objects.get()
    assert str(attempt.token) == key == attempt_token(first) == attempt_token(again)
    assert "Intraosseous haemangioma" in again.content.decode()
    assert ReviewCard.objects.values().get() == card  # the schedule counts it once


def test_an_anonymous_resident_sending_a_form_twice_keeps_one_attempt(client, seeded):
    key = form_key(client, SACRAL)
    answer(client, SACRAL, "haemangioma", key)
    answer(client, SACRAL, "haemangioma", key)
    assert list(client.session[SESSION_KEY]) == [key]
    assert QuizAttempt.objects.count() == 0  # anonymous attempts stay in the session


def test_a_form_without_a_key_records_each_time(resident, seeded):
    answer(resident, SACRAL, "chordoma", None)
    answer(resident, SACRAL, "chordoma", None)
    assert QuizAttempt.objects.count() == 2


def test_two_forms_are_two_attempts(resident, seeded):
    answer(resident, SACRAL, "chordoma", form_key(resident, SACRAL))
    answer(resident, SACRAL, "haemangioma", form_key(resident, SACRAL))
    assert sorted(QuizAttempt.objects.values_list("guess", flat=True)) == ["chordoma", "haemangioma"]


def test_a_key_taken_by_someone_else_neither_reveals_nor_changes_their_attempt(resident, seeded):
    other = Client()
    other.force_login(make_user("other", "resident"))
    key = form_key(other, SACRAL)
    answer(other, SACRAL, "a guess of their own", key)
    response = answer(resident, SACRAL, "chordoma", key)
    assert "a guess of their own" not in response.content.decode()
    theirs = QuizAttempt.objects.get(token=key)
    assert theirs.guess == "a guess of their own"
    mine = QuizAttempt.objects.exclude(pk=theirs.pk).get()
    assert mine.guess == "chordoma" and attempt_token(response) == str(mine.token) != key


@pytest.mark.parametrize("logged_in", [True, False], ids=["resident", "anonymous"])
def test_a_key_used_for_another_case_records_this_answer_afresh(resident, client, seeded, logged_in):
    who = resident if logged_in else client
    key = form_key(who, SACRAL)
    answer(who, SACRAL, "chordoma", key)
    response = answer(who, EMH, "extramedullary haematopoiesis", key)
    token = attempt_token(response)
    assert token != key
    if logged_in:
        assert QuizAttempt.objects.get(token=token).case.slug == EMH
        assert QuizAttempt.objects.get(token=key).case.slug == SACRAL
    else:
        assert set(client.session[SESSION_KEY]) == {key, token}


def test_two_copies_arriving_at_once_are_one_attempt(seeded):
    # Both copies pass the lookup before either is written: the unique token settles it.
    from cases.models import Case
    from quiz import services
    from quiz.matching import Answer, AnswerKey, grade_guess

    user = make_user("racer", "resident")
    case = Case.objects.get(slug=SACRAL)
    answer_ = Answer("chordoma", ())
    grade = grade_guess(AnswerKey.of(case), answer_.guess)
    key = "2f1c9a8e-52a4-4b43-9d7e-3f0c1d2b4a5e"
    first = services.attempt_record(user=user, case=case, answer=answer_, grade=grade, token=key)
    second = services.attempt_record(user=user, case=case, answer=answer_, grade=grade, token=key)
    assert first.pk == second.pk and QuizAttempt.objects.count() == 1
