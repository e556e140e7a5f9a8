"""Single-best-answer questions as a resident meets them: which of a case's questions are asked, in
what order each attempt shows their options, and the server's mark of a choice.

The browser never sees an option's id or its authored position: it sends the position it was shown,
and the server maps that back through the same shuffle. The shuffle is seeded by the attempt's token
and the question, keyed with the site's secret, so a token shown in the page predicts nothing.
"""

import random
from dataclasses import dataclass

from django.utils.crypto import salted_hmac

from cases.models import Case
from quiz.models import MAX_OPTIONS, MIN_OPTIONS, Question, QuestionOption, QuizFormat

SHUFFLE_SALT = "quiz.questions.shuffle"


def is_askable(question: Question) -> bool:
    """A question is asked once it is complete: 3 to 6 options, exactly one of them correct (its
    options prefetched). The database holds at most six and one correct; the rest is the admin form's."""
    options = question.options.all()
    return MIN_OPTIONS <= len(options) <= MAX_OPTIONS and sum(option.is_correct for option in options) == 1


def askable_questions(case: Case) -> list[Question]:
    questions = Question.objects.filter(case=case).prefetch_related("options").order_by("order", "pk")
    return [question for question in questions if is_askable(question)]


def asks_diagnosis(case: Case, questions: list[Question]) -> bool:
    """The free-text diagnosis is asked unless the author chose questions only, and there are some."""
    quiz_format = QuizFormat.objects.filter(case=case).first()
    return quiz_format is None or quiz_format.ask_diagnosis or not questions


def shuffled_options(question: Question, token) -> list[QuestionOption]:
    """The question's options in the order this attempt shows them: the same on every request."""
    options = sorted(question.options.all(), key=lambda option: option.pk)
    seed = salted_hmac(SHUFFLE_SALT, f"{token}:{question.pk}").digest()
    random.Random(seed).shuffle(options)
    return options


@dataclass(frozen=True)
class QuestionMark:
    option: QuestionOption
    correct: bool


def mark_choice(question: Question, token, position: int) -> QuestionMark | None:
    """The option shown at `position` (1-based) to this attempt, and whether it is the correct one."""
    options = shuffled_options(question, token)
    if not 1 <= position <= len(options):
        return None
    option = options[position - 1]
    return QuestionMark(option, option.is_correct)


def next_question(questions: list[Question], question_marks: dict) -> Question | None:
    return next((question for question in questions if str(question.pk) not in question_marks), None)
