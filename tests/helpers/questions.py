"""Single-best-answer questions for tests, and what a question page shows (this module holds no tests)."""

import re
from html import unescape

from cases.models import Case
from quiz.models import Question, QuestionOption, QuizFormat

OPTIONS = [
    ("Biopsy under CT guidance", True, "Histology decides between chordoma and its mimics before surgery."),
    ("Radiotherapy at once", False, "Treatment before a tissue diagnosis risks treating the wrong tumour."),
    ("Follow-up MRI in a year", False, "A destructive sacral mass is not watched without a diagnosis."),
    ("Bone scan only", False, "Uptake alone does not characterise the lesion further."),
]


def add_question(
    case: Case, *, stem: str = "Which is the most appropriate next step?", options=OPTIONS, order: int = 1
) -> Question:
    question = Question.objects.create(case=case, stem=stem, order=order)
    for position, (text, correct, rationale) in enumerate(options, start=1):
        QuestionOption.objects.create(
            question=question, order=position, text=text, is_correct=correct, rationale=rationale
        )
    return question


def questions_only(case: Case) -> None:
    QuizFormat.objects.create(case=case, ask_diagnosis=False)


OPTION_LABEL = re.compile(r'<input type="radio" name="choice" value="(\d+)" required> ([^<]*)</label>')


def options_shown(html: str) -> list[tuple[int, str]]:
    """(position sent, option text) of each radio button of an unanswered question page, in order."""
    return [(int(value), unescape(text).strip()) for value, text in OPTION_LABEL.findall(html)]


def position_of(html: str, text: str) -> int:
    return next(position for position, shown in options_shown(html) if shown == text)


def correct_text(question: Question) -> str:
    return question.options.get(is_correct=True).text
