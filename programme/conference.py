"""Reads of the unknown-case conference: what the current step lets anyone see, and the answers' tally.

The conference's templates are handed a ``Stage``, never the ``Case``, until the diagnosis is open, so a
template cannot print the title, the diagnosis or a later step by mistake: a field it is not given cannot
leak. The images come through the quiz's own withholding (``quiz.presentation.quiz_case``: series and
study labels neutral, no captions) until the diagnosis step shows the case as it is.
"""

from collections import Counter
from dataclasses import dataclass

from cases.models import Case
from cases.spelling import normalise
from cases.templatetags.case_extras import age_sex
from programme.models import Conference, ConferenceAnswer, Step
from quiz.matching import AnswerKey, grade_guess
from quiz.models import Mark
from quiz.presentation import QuizCase, quiz_case


@dataclass(frozen=True)
class FindingShown:
    modality: str
    study: str
    text: str


@dataclass(frozen=True)
class DifferentialShown:
    name: str
    rationale: str


@dataclass(frozen=True)
class Stage:
    """The current case as far as the presenter has opened it."""

    position: int  # from 1
    count: int
    step: int
    withdrawn: bool = False  # unpublished since the conference was made: shown without anything of it
    revealed: bool = False  # its diagnosis has been shown (perhaps before a step back): answers closed
    meta: str = ""
    age_sex_source: str = ""
    source_recorded: bool = False
    clinical_history: str = ""
    images: QuizCase | None = None
    findings: tuple[FindingShown, ...] | None = None
    differential: tuple[DifferentialShown, ...] | None = None
    case: Case | None = None  # only once the diagnosis is open

    @property
    def step_label(self) -> str:
        return Step(self.step).label

    @property
    def next_step_label(self) -> str:
        return Step(self.step + 1).label if self.step < Step.DIAGNOSIS else ""

    @property
    def answers_open(self) -> bool:
        return not self.withdrawn and not self.revealed and self.step < Step.DIAGNOSIS


def conference_stage(conference: Conference) -> Stage | None:
    """None when the conference has no case at all."""
    if conference.case_id is None:
        return None
    place = {
        "position": conference.position + 1,
        "count": len(conference.case_ids),
        "step": conference.step,
        "revealed": conference.case_revealed,
    }
    case = Case.objects.published().for_detail().filter(pk=conference.case_id).first()
    if case is None:
        return Stage(withdrawn=True, **place)
    if conference.step >= Step.DIAGNOSIS:
        return Stage(case=case, meta=age_sex(case), **place)
    step = conference.step
    return Stage(
        meta=age_sex(case),
        age_sex_source=case.age_sex_source,
        source_recorded=case.source_recorded,
        clinical_history=case.clinical_history,
        images=quiz_case(case) if step >= Step.IMAGES else None,
        findings=tuple(
            FindingShown(finding.get_modality_display(), finding.study, finding.text)
            for finding in case.findings.all()
        )
        if step >= Step.FINDINGS
        else None,
        differential=tuple(
            DifferentialShown(item.diagnosis.name, item.rationale) for item in case.differential_items.all()
        )
        if step >= Step.DIFFERENTIAL
        else None,
        **place,
    )


@dataclass(frozen=True)
class TallyRow:
    answer: str
    count: int
    mark: str = ""  # how the quiz would mark it: only once the diagnosis is open


def revealed_case(conference: Conference) -> Case | None:
    """The current case with what marking needs, once its diagnosis has been shown; else None."""
    if not conference.case_revealed or conference.case_id is None:
        return None
    return (
        Case.objects.published()
        .select_related("final_diagnosis")
        .prefetch_related("differential_items__diagnosis")
        .filter(pk=conference.case_id)
        .first()
    )


def conference_tally(conference: Conference, *, revealed: Case | None = None) -> list[TallyRow]:
    """The answers to the current case, grouped by their normalised form (spelling, case, accents), most
    given first, each shown as it was most often written. No names: participants are not read. With the
    ``revealed`` case (the diagnosis open), each answer carries the quiz's mark."""
    if conference.case_id is None:
        return []
    answers = ConferenceAnswer.objects.filter(conference=conference, case_id=conference.case_id).values_list(
        "answer", flat=True
    )
    groups: dict[str, Counter] = {}
    for answer in answers:
        groups.setdefault(normalise(answer), Counter())[answer] += 1
    key = AnswerKey.of(revealed) if revealed is not None else None
    rows = []
    for spellings in groups.values():
        written = spellings.most_common(1)[0][0]
        mark = Mark(grade_guess(key, written).mark).label if key is not None else ""
        rows.append(TallyRow(written, sum(spellings.values()), mark))
    return sorted(rows, key=lambda row: (-row.count, row.answer.casefold()))
