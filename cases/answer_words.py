"""What gives a case's answer away: its final diagnosis and every name it goes by.

Used to check author-supplied text that is shown before the answer (a series label as it is written,
a case's title and slug). The quiz itself shows a series label only if it is all imaging technique
(``quiz.technique_vocabulary``), whatever it names.
"""

from cases.models import Case


def answer_phrases(case: Case) -> list[str]:
    diagnosis = case.final_diagnosis
    if diagnosis is None:
        return []
    return [diagnosis.name, *diagnosis.synonyms]
