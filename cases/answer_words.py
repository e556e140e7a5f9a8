"""What gives a case's answer away: its final diagnosis and every name it goes by, and a treatment.

Used wherever author-supplied text is shown before the answer (series labels, and quiz mode).
"""

from itertools import pairwise

from cases.models import Case
from cases.spelling import normalise

# Words (as `normalise` spells them: American) that name a treatment or a procedure on the lesion.
# A series label such as "Post-embolisation angiogram" or "After sacrectomy, sagittal T1" tells a
# resident what was done, and so what it was; imaging words ("post contrast") are not among them.
_TREATMENT_WORDS_TEXT = """
    embolization embolized surgery surgical resection resected excision excised curettage biopsy
    radiotherapy radiosurgery brachytherapy radiation irradiation irradiated chemotherapy chemo
    chemoradiotherapy chemoradiation immunotherapy therapy treatment treated transfusion transfusions
    transfused ablation ablated stent stented stenting amputation fixation decompression postoperative
    postop preoperative transplant transplantation hydroxyurea
"""
TREATMENT_WORDS = frozenset(_TREATMENT_WORDS_TEXT.split())
# Operations named by their ending: sacrectomy, laminectomy, vertebroplasty, osteotomy, colostomy.
TREATMENT_ENDINGS = ("ectomy", "plasty", "otomy", "ostomy")


def answer_phrases(case: Case) -> list[str]:
    diagnosis = case.final_diagnosis
    if diagnosis is None:
        return []
    return [diagnosis.name, *diagnosis.synonyms]


def names_a_treatment(text: str) -> bool:
    """Whether `text` names a treatment or procedure ("Post-op sagittal T2", "After chemo, axial")."""
    words = normalise(text).split()
    if any(word in TREATMENT_WORDS or word.endswith(TREATMENT_ENDINGS) for word in words):
        return True
    return any(pair in (("post", "op"), ("pre", "op")) for pair in pairwise(words))
