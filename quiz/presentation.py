"""What the quiz page may know of a case before the reveal: age, sex, history and the images.

The unrevealed template is handed a ``QuizCase``, never the ``Case``, so it cannot print the title,
the diagnosis or a tag by mistake — a field it is not given cannot leak, whatever a later edit of
the template asks for.
"""

from dataclasses import dataclass

from cases.models import Case
from quiz.matching import AnswerKey, normalise_name

WITHHELD_LABEL = "Series {number}"


@dataclass(frozen=True)
class QuizCase:
    slug: str
    age: int | None
    sex: str
    sex_display: str
    clinical_history: str
    studies: object  # the case's prefetched studies manager: ``studies.all`` → series → images

    def get_sex_display(self) -> str:
        return self.sex_display


def quiz_case(case: Case) -> QuizCase:
    """The quiz presentation of a case loaded ``for_detail()``; labels naming an answer are withheld."""
    withhold_answer_labels(case)
    return QuizCase(
        slug=case.slug,
        age=case.age,
        sex=case.sex,
        sex_display=case.get_sex_display(),
        clinical_history=case.clinical_history,
        studies=case.studies,
    )


def answer_forms(case: Case) -> list[str]:
    """Normalised names of the final diagnosis and of every differential item, synonyms included."""
    key = AnswerKey.of(case)
    names = [*([key.final] if key.final else []), *key.differential]
    return [form for diagnosis in names for form in diagnosis.forms]


def withhold_answer_labels(case: Case) -> None:
    """Series labels are checked when written (``imaging.services.check_series_label``), but an
    admin edit or a differential item added later can still make one name an answer: the quiz
    then shows a neutral label in its place. Only the in-memory (prefetched) series change.
    """
    forms = answer_forms(case)
    number = 0
    for study in case.studies.all():
        for series in study.series.all():
            number += 1
            label = f" {normalise_name(series.label)} "
            if any(f" {form} " in label for form in forms):
                series.label = WITHHELD_LABEL.format(number=number)
