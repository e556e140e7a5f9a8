"""Single-best-answer questions in quiz mode: asked after (or instead of) the diagnosis and before the
reveal, options shuffled per attempt, marked on the server, the rationales shown once answered; each
part of the attempt keeps its own outcome, and the review schedule takes the lowest of them."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from quiz.models import QuizAttempt, ReviewCard
from quiz.questions import askable_questions
from tests.helpers.leaks import (
    assert_quiz_page_leaks_nothing,
    fetch,
    leaks_in,
    question_secrets,
    referenced_urls,
    sentences,
)
from tests.helpers.questions import (
    OPTIONS,
    add_question,
    correct_text,
    options_shown,
    position_of,
    questions_only,
)

pytestmark = pytest.mark.django_db

WRONG = OPTIONS[1][0]


@pytest.fixture
def case(make_case, diagnosis):
    case = make_case(
        slug="sacral-mass", final_diagnosis=diagnosis("Chordoma"), clinical_history="Back pain for months."
    )
    add_question(case)
    return case


def answer_diagnosis(client, case, guess="Chordoma", **extra) -> str:
    """Post the diagnosis; returns where the server sends the resident next."""
    response = client.post(f"/cases/{case.slug}/quiz/", {"guess": guess, **extra})
    assert response.status_code == 302
    return response["Location"]


def answer_question(client, question_url: str, text: str) -> str:
    """Choose the option of that text on the question page; returns the answered page's HTML."""
    page = client.get(question_url).content.decode()
    token = re.search(r'name="attempt" value="([^"]+)"', page).group(1)
    response = client.post(question_url.split("?")[0], {"attempt": token, "choice": position_of(page, text)})
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def test_the_questions_come_after_the_diagnosis_and_before_the_reveal(client, case):
    page = client.get(f"/cases/{case.slug}/quiz/").content.decode()
    assert 'name="guess"' in page and "1 question on the case follows" in page
    question_url = answer_diagnosis(client, case)
    assert "/quiz/questions/" in question_url
    assert "Final diagnosis" not in client.get(question_url).content.decode()
    attempt = QuizAttempt  # anonymous: nothing written
    assert not attempt.objects.exists()
    answered = answer_question(client, question_url, correct_text(case.questions.get()))
    assert 'Your answer is <span class="mark mark-correct">right</span>' in answered
    assert "See the answer" in answered
    token = re.search(r"attempt=([0-9a-f-]+)", question_url).group(1)
    revealed = client.get(f"/cases/{case.slug}/quiz/?attempt={token}").content.decode()
    assert "Final diagnosis: <strong>Chordoma</strong>" in revealed
    assert "1 of 1 right" in revealed and "correct</span>" in revealed


def test_an_unanswered_question_keeps_the_reveal_away(client, case):
    question_url = answer_diagnosis(client, case)
    token = re.search(r"attempt=([0-9a-f-]+)", question_url).group(1)
    response = client.get(f"/cases/{case.slug}/quiz/?attempt={token}")
    assert response.status_code == 302 and response["Location"] == question_url


def test_questions_instead_of_the_diagnosis(client, case, resident):
    questions_only(case)
    client.force_login(resident)
    page = client.get(f"/cases/{case.slug}/quiz/").content.decode()
    assert 'name="guess"' not in page and "instead of the diagnosis" in page
    question_url = answer_diagnosis(client, case, guess="Forged guess")
    attempt = QuizAttempt.objects.get()
    assert attempt.mark == "" and attempt.guess == ""
    assert not ReviewCard.objects.exists(), "nothing answered yet: no review"
    answer_question(client, question_url, WRONG)
    revealed = client.get(f"/cases/{case.slug}/quiz/?attempt={attempt.token}").content.decode()
    assert "instead of the diagnosis" in revealed and "0 of 1 right" in revealed
    assert 'class="override-form"' not in revealed
    response = client.post(
        f"/cases/{case.slug}/quiz/override/", {"attempt": attempt.token, "override": "correct"}
    )
    assert response.status_code == 404


def test_each_part_keeps_its_outcome_and_the_schedule_takes_the_lowest(client, case, resident):
    client.force_login(resident)
    question_url = answer_diagnosis(client, case)
    attempt = QuizAttempt.objects.get()
    card = ReviewCard.objects.get()
    assert card.last_quality == 5, "the diagnosis alone, right"
    answer_question(client, question_url, WRONG)
    attempt.refresh_from_db()
    assert attempt.mark == "correct"
    assert next(iter(attempt.question_marks.values()))["correct"] is False
    card.refresh_from_db()
    assert card.last_quality == 1 and card.repetitions == 0
    assert card.due_on == timezone.localdate() + timedelta(days=1)


def test_a_right_answer_keeps_the_diagnosis_quality(client, case, resident):
    client.force_login(resident)
    answer_question(
        client, answer_diagnosis(client, case, guess="Metastasis"), correct_text(case.questions.get())
    )
    assert QuizAttempt.objects.get().mark == "wrong"
    assert ReviewCard.objects.get().last_quality == 1
    client.post(
        f"/cases/{case.slug}/quiz/override/",
        {"attempt": QuizAttempt.objects.get().token, "override": "close"},
    )
    assert ReviewCard.objects.get().last_quality == 3, (
        "close (3) is now the lowest part, the question right (5)"
    )


def test_the_first_answer_stands(client, case, resident):
    client.force_login(resident)
    question_url = answer_diagnosis(client, case)
    page = client.get(question_url).content.decode()
    answer_question(client, question_url, WRONG)
    token = QuizAttempt.objects.get().token
    right = position_of(page, correct_text(case.questions.get()))
    client.post(question_url.split("?")[0], {"attempt": token, "choice": right})
    assert next(iter(QuizAttempt.objects.get().question_marks.values()))["correct"] is False


def test_a_choice_out_of_range_is_refused(client, case):
    question_url = answer_diagnosis(client, case)
    token = re.search(r"attempt=([0-9a-f-]+)", question_url).group(1)
    for choice in ["0", "5", "x", ""]:
        response = client.post(question_url.split("?")[0], {"attempt": token, "choice": choice})
        assert response.status_code == 400


def test_a_question_is_only_for_its_own_attempt(client, case, make_case):
    question_url = answer_diagnosis(client, case)
    other = make_case(slug="other-case")
    add_question(other)
    other_question = other.questions.get()
    token = re.search(r"attempt=([0-9a-f-]+)", question_url).group(1)
    assert (
        client.get(f"/cases/{other.slug}/quiz/questions/{other_question.pk}/?attempt={token}").status_code
        == 404
    )
    assert client.get(question_url.replace(token, "6d9f4c4e-0000-4000-8000-000000000000")).status_code == 404
    stranger = client.__class__()
    assert stranger.get(question_url).status_code == 404, "a token is no key to someone else's attempt"


def test_options_are_shuffled_per_attempt_and_kept_within_one(client, case):
    orders = set()
    for _ in range(12):
        question_url = answer_diagnosis(client, case)
        shown = [text for _, text in options_shown(client.get(question_url).content.decode())]
        assert sorted(shown) == sorted(text for text, _, _ in OPTIONS)
        again = [text for _, text in options_shown(client.get(question_url).content.decode())]
        assert again == shown, "one attempt always shows the same order"
        orders.add(tuple(shown))
    assert len(orders) > 1
    positions = {order.index(OPTIONS[0][0]) for order in orders}
    assert len(positions) > 1, "the correct option moves between attempts"


def test_the_question_page_keeps_the_answer_back_until_answered(client, case):
    question_url = answer_diagnosis(client, case)
    response = client.get(question_url)
    html = response.content.decode()
    rationales = {sentence for _, _, why in OPTIONS for sentence in sentences(why)}
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items()).encode()
    fetched = [(question_url, response.content, True), ("headers", headers, True)]
    fetched += [(url, *fetch(client, url)) for url in referenced_urls(html)]
    for url, content, is_text in fetched:
        assert leaks_in(content, rationales, text=is_text) == [], f"{url} gives a rationale away"
    # The options are told apart by their text alone: the same markup, positions for values, no ids.
    rows = re.findall(r'<li class="question-option">(.*?)</li>', html)
    assert len(rows) == 4
    assert len({re.sub(r'value="\d"|> [^<]*</label>', "", row) for row in rows}) == 1
    assert sorted(value for value, _ in options_shown(html)) == [1, 2, 3, 4]
    assert "is-correct" not in html and "correct" not in re.sub(r"<style.*?</style>", "", html).lower()
    answered = answer_question(client, question_url, WRONG)
    assert leaks_in(answered.encode(), rationales) == sorted(rationales), (
        "the checker finds them once answered"
    )


def test_the_diagnosis_page_gives_no_question_away(client, tempting_case):
    add_question(tempting_case)
    strings = question_secrets(tempting_case)
    assert OPTIONS[0][0] in strings and len(strings) == 5
    assert_quiz_page_leaks_nothing(client, tempting_case)
    questions_only(tempting_case)
    assert_quiz_page_leaks_nothing(client, tempting_case)


def test_a_quiz_session_asks_the_questions_before_the_next_case(client, case, make_case):
    second = make_case(slug="second-case")  # no questions
    session_url = client.post("/quiz/", {"count": 5})["Location"]
    session_id = session_url.split("/")[3]
    first_url = client.get(session_url)["Location"]
    if second.slug in first_url:
        revealed = client.post(f"/cases/{second.slug}/quiz/", {"guess": "x", "session": session_id})
        assert revealed.status_code == 200 and "Next case" in revealed.content.decode()
        assert case.slug in client.get(session_url)["Location"]
    question_url = answer_diagnosis(client, case, session=session_id)
    assert "/quiz/questions/" in question_url
    # Back to the session before answering: it goes on with this case's question, not the next case.
    reopened = client.get(session_url)["Location"]
    assert client.get(reopened)["Location"] == question_url
    answered = answer_question(client, question_url, WRONG)
    assert "Quiz session · case" in answered
    next_url = re.search(r'href="([^"]+)">See the answer', answered).group(1).replace("&amp;", "&")
    html = client.get(next_url).content.decode()
    assert "Final diagnosis" in html and "0 of 1 right" in html
    assert ("See your score" in html) == (second.slug in first_url)
    score = client.get(f"/quiz/session/{session_id}/score/").content.decode()
    assert "questions: 0 of 1 right" in score


def test_progress_counts_questions_as_a_dimension(client, case, resident):
    client.force_login(resident)
    answer_question(client, answer_diagnosis(client, case), WRONG)
    page = client.get("/quiz/progress/").content.decode()
    assert "Single-best-answer questions: 0 of 1 right (0%)" in page


def test_the_quiz_pages_read_questions_in_a_fixed_number_of_queries(
    client, case, django_assert_max_num_queries
):
    for order in range(2, 6):
        add_question(case, order=order)
    assert len(askable_questions(case)) == 5
    question_url = answer_diagnosis(client, case)
    with django_assert_max_num_queries(12):
        client.get(question_url)
