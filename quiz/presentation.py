"""What the quiz page may know of a case before the reveal: age, sex, history and the images.

The unrevealed template is handed a ``QuizCase``, never the ``Case``, so it cannot print the title,
the diagnosis or a tag by mistake — a field it is not given cannot leak, whatever a later edit of
the template asks for.
"""

from dataclasses import dataclass

from cases.models import Case
from quiz.technique_vocabulary import is_technique_label

WITHHELD_LABEL = "Series {number}"
# A study's relative time ("After embolisation, 3 months") can name the treatment, and so the diagnosis.
WITHHELD_TIME_LABEL = "Study {number}"
INITIAL_TIME_LABEL = "Initial"


@dataclass(frozen=True)
class QuizCase:
    slug: str
    age: int | None
    sex: str
    sex_display: str
    age_sex_source: str
    source_recorded: bool
    clinical_history: str
    studies: object  # the case's prefetched studies manager: ``studies.all`` → series → images

    def get_sex_display(self) -> str:
        return self.sex_display


def quiz_case(case: Case) -> QuizCase:
    """The quiz presentation of a case loaded ``for_detail()``; a series label that is not all
    technique is withheld (``withhold_series_labels``), and so is every study's time label
    (``withhold_time_labels``).

    Changes the case's prefetched studies and series in memory: pass a case loaded for this page
    alone (every caller reads its own from the database).
    """
    withhold_series_labels(case)
    withhold_time_labels(case)
    return QuizCase(
        slug=case.slug,
        age=case.age,
        sex=case.sex,
        sex_display=case.get_sex_display(),
        age_sex_source=case.age_sex_source,
        source_recorded=case.source_recorded,
        clinical_history=case.clinical_history,
        studies=case.studies,
    )


def withhold_series_labels(case: Case) -> None:
    """Before the reveal a series label is shown only if every word of it is imaging technique
    (``quiz.technique_vocabulary``): "Sagittal T2" stays, while "Vertebral haemangioma, sagittal T1",
    "After coiling" or "IOH" become "Series N" (the series' place in the case, from 1). Labels are
    also checked when written (``imaging.services.check_series_label``), but only against the final
    diagnosis; a surname, an abbreviation or a treatment gets through that. Only the in-memory
    (prefetched) series change; the revealed page reads the case again and shows the real labels.
    """
    number = 0
    for study in case.studies.all():
        for series in study.series.all():
            number += 1
            if not is_technique_label(series.label):
                series.label = WITHHELD_LABEL.format(number=number)


def neutral_time_label(number: int, label: str) -> str:
    """What the unrevealed quiz shows for the time label of the case's ``number``-th study (from 1).

    "Initial" gives nothing away and is kept wherever it is the label: a case's CT and MRI at
    presentation are both "Initial", and calling the second "Study 2" would make it look later.
    """
    if label.strip().casefold() == INITIAL_TIME_LABEL.casefold():
        return INITIAL_TIME_LABEL
    return WITHHELD_TIME_LABEL.format(number=number)


def withhold_time_labels(case: Case) -> None:
    """A study's time label often names the treatment ("After embolisation, 3 months"), which gives
    the diagnosis away as surely as the treatment and outcome the quiz already withholds. Before the
    reveal a study labelled "Initial" keeps it, and every other study shows its place instead:
    "Study N" in display order. Only the in-memory (prefetched) studies change; the revealed page
    and the case page read the case again and show the real labels.
    """
    for number, study in enumerate(case.studies.all(), start=1):
        study.time_label = neutral_time_label(number, study.time_label)
