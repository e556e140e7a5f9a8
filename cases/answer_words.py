"""The phrases that give a case's answer away: its final diagnosis and every name it goes by.

Used wherever author-supplied text is shown before the answer (series labels now; quiz mode later).
"""

from cases.models import Case


def answer_phrases(case: Case) -> list[str]:
    diagnosis = case.final_diagnosis
    if diagnosis is None:
        return []
    return [diagnosis.name, *diagnosis.synonyms]
