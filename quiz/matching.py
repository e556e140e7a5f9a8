"""Marking a resident's guess against a case, decided here, on the server.

Names are compared in the form search uses (``cases.spelling.normalise``: case, accents and British
spelling folded, so "Hæmangioma" = "hemangioma"), with common shorthand expanded on both sides
("mets" = "metastases"). A guess is

- correct when it is the final diagnosis under one of its names (``Diagnosis.synonyms``, which
  include abbreviations such as EMH, ``Diagnosis.accepted_answers`` such as "haemangioma" for
  intraosseous haemangioma, or the initials of a name of three or more words, e.g. GCT);
- close when it is a near spelling of one of those names, or a part of one that carries most of it
  ("bone haemangioma" for "intraosseous haemangioma"), or when it names a differential item the source
  cannot tell apart from the final diagnosis (``DifferentialItem.indistinguishable``);
- in the differential when it names (or nearly names) another item of the case's differential: a
  reasonable alternative, but not the diagnosis, so it counts as not correct;
- wrong otherwise, and when empty.

A near spelling is a typo only if it is not itself the name of another diagnosis the archive knows:
"osteoblastoma" is one letter from "osteoclastoma" (a synonym of giant cell tumour) but another tumour.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from django.db.models import Exists, OuterRef

from cases.models import Case, Diagnosis, DifferentialItem
from cases.spelling import normalise
from quiz.models import Mark

# difflib's ratio on the normalised strings: 0.85 lets one or two slips through in a long name
# ("haemangiona", "extramedulary hematopoiesis") but keeps "chondroma" (0.82) apart from "chordoma".
NEAR_SPELLING_RATIO = 0.85
# Below this many letters a name is an abbreviation, and abbreviations one letter apart are other words.
MIN_FUZZY_LENGTH = 5
# A guess that is part of a name (or contains one) is close when the shorter holds this share of the longer.
MIN_PARTIAL_SHARE = 0.6
MIN_ACRONYM_WORDS = 3
IGNORED_WORDS = frozenset({"a", "an", "the"})
ACRONYM_SKIPPED_WORDS = frozenset({"of", "the", "and", "in", "with"})

# Shorthand residents write, in normalised (American) spelling. Only tokens that are not English
# words themselves: "all" (the leukaemia) would swallow the word "all".
ABBREVIATIONS = {
    "mets": "metastases",
    "met": "metastasis",
    "tb": "tuberculous",
    "ca": "carcinoma",
    "aml": "acute myeloid leukemia",
    "cml": "chronic myeloid leukemia",
    "cll": "chronic lymphocytic leukemia",
    "nhl": "non hodgkin lymphoma",
    "mm": "multiple myeloma",
    "avn": "avascular necrosis",
    "abc": "aneurysmal bone cyst",
    "ubc": "unicameral bone cyst",
    "lch": "langerhans cell histiocytosis",
    "ms": "multiple sclerosis",
    "dish": "diffuse idiopathic skeletal hyperostosis",
}


def normalise_name(text: str) -> str:
    words = []
    for word in normalise(text).split():
        if word not in IGNORED_WORDS:
            words.extend(ABBREVIATIONS.get(word, word).split())
    return " ".join(words)


def _acronym(form: str) -> str | None:
    words = [word for word in form.split() if word not in ACRONYM_SKIPPED_WORDS]
    if len(words) < MIN_ACRONYM_WORDS:
        return None
    return "".join(word[0] for word in words)


@dataclass(frozen=True)
class DiagnosisNames:
    """A diagnosis and every name it goes by, keyed by normalised form."""

    name: str
    forms: dict[str, str]

    @classmethod
    def of(cls, diagnosis: Diagnosis) -> "DiagnosisNames":
        forms: dict[str, str] = {}
        for written in [diagnosis.name, *diagnosis.synonyms, *diagnosis.accepted_answers]:
            form = normalise_name(written)
            if form:
                forms.setdefault(form, written)
        for form, written in list(forms.items()):
            acronym = _acronym(form)
            if acronym:
                forms.setdefault(acronym, written)
        return cls(diagnosis.name, forms)

    def exact(self, guess_form: str) -> str | None:
        return self.forms.get(guess_form)

    def near(self, guess_form: str) -> str | None:
        for form, written in self.forms.items():
            if _near(guess_form, form):
                return written
        return None


def _near(guess: str, name: str) -> bool:
    if min(len(guess), len(name)) < MIN_FUZZY_LENGTH:
        return False
    if SequenceMatcher(None, guess, name).ratio() >= NEAR_SPELLING_RATIO:
        return True
    shorter, longer = sorted((guess, name), key=len)
    return len(shorter) >= MIN_PARTIAL_SHARE * len(longer) and f" {shorter} " in f" {longer} "


@dataclass(frozen=True)
class AnswerKey:
    """What a guess is compared with; built on the server and never sent before the reveal."""

    final: DiagnosisNames | None
    differential: tuple[DiagnosisNames, ...]
    # Normalised names of every other diagnosis in the archive: a guess that is one of them is no typo.
    other_diagnoses: frozenset[str] = frozenset()
    # Differential items the source cannot tell apart from the final diagnosis, by name.
    indistinguishable: frozenset[str] = frozenset()

    @classmethod
    def of(cls, case: Case) -> "AnswerKey":
        final = DiagnosisNames.of(case.final_diagnosis) if case.final_diagnosis_id else None
        items = [
            item for item in case.differential_items.all() if item.diagnosis_id != case.final_diagnosis_id
        ]
        differential = tuple(DiagnosisNames.of(item.diagnosis) for item in items)
        indistinguishable = frozenset(item.diagnosis.name for item in items if item.indistinguishable)
        own_ids = {case.final_diagnosis_id, *(item.diagnosis_id for item in items)}
        # Only diagnoses that published cases name: the mark must not hint that a draft's diagnosis exists.
        # Two EXISTS, not joins: joining both relations multiplies a diagnosis' cases by its differential
        # items before DISTINCT, which took seconds per answer at 10,000 cases (bench/cluster.py).
        published = Case.Status.PUBLISHED
        named_in_public = Exists(
            Case.objects.filter(final_diagnosis=OuterRef("pk"), status=published)
        ) | Exists(DifferentialItem.objects.filter(diagnosis=OuterRef("pk"), case__status=published))
        others = (
            Diagnosis.objects.filter(named_in_public)
            .exclude(pk__in=[pk for pk in own_ids if pk])
            .values_list("name", "synonyms", "accepted_answers")
        )
        other_forms = frozenset(
            normalise_name(written)
            for name, synonyms, accepted in others
            for written in [name, *synonyms, *accepted]
        )
        return cls(final, differential, other_forms, indistinguishable)

    def exact_final(self, guess_form: str) -> str | None:
        return self.final.exact(guess_form) if self.final else None

    def near_final(self, guess_form: str) -> str | None:
        if self.final is None or guess_form in self.other_diagnoses:
            return None
        return self.final.near(guess_form)

    def in_differential(self, guess_form: str) -> DiagnosisNames | None:
        for names in self.differential:
            if names.exact(guess_form):
                return names
        if guess_form in self.other_diagnoses:
            return None
        for names in self.differential:
            if names.near(guess_form):
                return names
        return None


@dataclass(frozen=True)
class Answer:
    """What the resident typed before the reveal: a diagnosis and an optional ranked differential."""

    guess: str
    differential: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grade:
    mark: str
    matched_name: str = ""


def grade_guess(key: AnswerKey, guess: str) -> Grade:
    form = normalise_name(guess)
    if not form:
        return Grade(Mark.WRONG)
    written = key.exact_final(form)
    if written:
        return Grade(Mark.CORRECT, written)
    written = key.near_final(form)
    if written:
        return Grade(Mark.CLOSE, written)
    names = key.in_differential(form)
    if names:
        return Grade(Mark.CLOSE if names.name in key.indistinguishable else Mark.DIFFERENTIAL, names.name)
    return Grade(Mark.WRONG)


def explain_mark(key: AnswerKey, *, guess: str, mark: str, matched_name: str) -> str:
    """Why the server marked a guess as it did, in words for the revealed page."""
    if not normalise_name(guess):
        return "No diagnosis was given."
    if not matched_name:
        return "Neither the final diagnosis nor an item of this case's differential."
    if key.final is not None and normalise_name(matched_name) in key.final.forms:
        if mark == Mark.CORRECT:
            return f"“{matched_name}” is a name of the final diagnosis."
        return f"Near “{matched_name}”, a name of the final diagnosis."
    if matched_name in key.indistinguishable:
        return (
            f"“{matched_name}” is in this case's differential, and the source cannot tell it apart from "
            "the final diagnosis."
        )
    return f"“{matched_name}” is in this case's differential, not its answer."


def answered_diagnosis(key: AnswerKey, matched_name: str) -> str:
    """The name of the diagnosis a marked guess matched (the final diagnosis' own name when the guess matched
    one of its other names), to mark the resident's answer in the case's differential; "" for none."""
    if not matched_name:
        return ""
    if key.final is not None and normalise_name(matched_name) in key.final.forms:
        return key.final.name
    return matched_name


@dataclass(frozen=True)
class DifferentialComparison:
    """One item of the resident's differential, and where it stands in the case."""

    guess: str
    is_final: bool
    matched_name: str


def compare_differential(key: AnswerKey, guesses: Iterable[str]) -> list[DifferentialComparison]:
    comparisons = []
    for guess in guesses:
        form = normalise_name(guess)
        if key.final is not None and (key.exact_final(form) or key.near_final(form)):
            comparisons.append(DifferentialComparison(guess, True, key.final.name))
            continue
        names = key.in_differential(form)
        comparisons.append(DifferentialComparison(guess, False, names.name if names else ""))
    return comparisons
