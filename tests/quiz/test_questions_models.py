"""The database holds what it can of a question's shape: options in positions 1 to 6 (so six at most),
each position once, one correct option at most. What it cannot hold (at least three, exactly one correct)
decides whether a question is asked at all."""

import pytest
from django.db import IntegrityError, transaction

from quiz.models import QuestionOption
from quiz.questions import askable_questions, is_askable
from tests.helpers.questions import OPTIONS, add_question

pytestmark = pytest.mark.django_db


def option(question, order, correct=False):
    return QuestionOption.objects.create(
        question=question, order=order, text=f"Option {order}", is_correct=correct, rationale="Because."
    )


def test_a_seventh_option_has_no_position_left(make_case):
    question = add_question(make_case(), options=[(f"O{n}", n == 1, "R") for n in range(1, 7)])
    for order in (0, 7):
        with pytest.raises(IntegrityError), transaction.atomic():
            option(question, order)
    with pytest.raises(IntegrityError), transaction.atomic():
        option(question, 3)  # taken
    assert question.options.count() == 6


def test_a_question_has_one_correct_option_at_most(make_case):
    question = add_question(make_case())
    with pytest.raises(IntegrityError), transaction.atomic():
        QuestionOption.objects.filter(question=question, is_correct=False).update(is_correct=True)
    assert question.options.filter(is_correct=True).count() == 1


def test_only_complete_questions_are_asked(make_case):
    case = make_case()
    complete = add_question(case, order=1)
    two_options = add_question(case, options=OPTIONS[:2], order=2)
    none_correct = add_question(case, options=[(text, False, why) for text, _, why in OPTIONS], order=3)
    assert [is_askable(q) for q in (complete, two_options, none_correct)] == [True, False, False]
    assert askable_questions(case) == [complete]


def test_questions_are_asked_in_their_order(make_case):
    case = make_case()
    second = add_question(case, stem="Second?", order=2)
    first = add_question(case, stem="First?", order=1)
    assert askable_questions(case) == [first, second]
