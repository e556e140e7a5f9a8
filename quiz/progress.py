"""A resident's accuracy by region (top level), modality and diagnosis, weakest areas first; and, as
dimensions of their own, single-best-answer questions and pointing to the lesion (localisation).

Every attempt counts, each with its effective mark (the resident's override, else the server's):
a case got wrong and then right shows as half learnt, which is what the resident should see.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Prefetch

from cases.modalities import modality_labels
from cases.models import Case, Finding, Region
from cases.regions import RegionTree, load_region_tree
from quiz.models import LocalisationQuestion, Mark, QuizAttempt

BAR_WIDTH = 200
NO_DIAGNOSIS = "No final diagnosis recorded"
# Column headings of the accuracy tables, repeated beside each figure where a phone stacks the table.
SHORT_LABELS = {
    Mark.CORRECT: "Correct",
    Mark.CLOSE: "Close",
    Mark.DIFFERENTIAL: "In the differential",
    Mark.WRONG: "Not the diagnosis",
}


@dataclass(frozen=True)
class Segment:
    """One outcome's share of a tally, with its place on the bar (SVG user units)."""

    mark: str
    label: str
    short_label: str
    count: int
    percent: int
    x: int
    width: int


@dataclass
class Tally:
    label: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Mark.values, 0))

    def add(self, mark: str) -> None:
        self.counts[mark] += 1

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    def percent(self, mark: str) -> int:
        return round(100 * self.counts[mark] / self.attempts) if self.attempts else 0

    @property
    def percent_correct(self) -> int:
        return self.percent(Mark.CORRECT)

    @property
    def percent_close(self) -> int:
        return self.percent(Mark.CLOSE)

    @property
    def percent_differential(self) -> int:
        return self.percent(Mark.DIFFERENTIAL)

    @property
    def percent_wrong(self) -> int:
        return self.percent(Mark.WRONG)

    bar_width = BAR_WIDTH

    @property
    def segments(self) -> list[Segment]:
        """Every outcome in Mark's order, best first; widths as attributes, since the page allows no
        inline style. Cumulative rounding keeps the segments adding up to the whole bar."""
        segments, done, x = [], 0, 0
        for mark in Mark:
            done += self.counts[mark]
            end = round(BAR_WIDTH * done / self.attempts) if self.attempts else 0
            count = self.counts[mark]
            short = SHORT_LABELS[mark]
            segments.append(Segment(mark.value, mark.label, short, count, self.percent(mark), x, end - x))
            x = end
        return segments

    def weakness(self) -> tuple:
        """Sort key, weakest first: fewest correct, then fewest close, then the most practised."""
        return (
            self.counts[Mark.CORRECT] / self.attempts,
            self.counts[Mark.CLOSE] / self.attempts,
            -self.attempts,
            self.label,
        )


@dataclass
class Progress:
    overall: Tally
    by_region: list[Tally] = field(default_factory=list)
    by_modality: list[Tally] = field(default_factory=list)
    by_diagnosis: list[Tally] = field(default_factory=list)
    # Single-best-answer questions, a dimension of their own: right or wrong, whatever the case.
    questions_answered: int = 0
    questions_right: int = 0
    # Pointing to the lesion: each click a hit (counted as correct) or a miss (as wrong), by the modality
    # of the series clicked, with the total across them.
    localisation: Tally = field(default_factory=lambda: Tally("All clicks"))
    by_localisation: list[Tally] = field(default_factory=list)

    @property
    def percent_questions_right(self) -> int:
        return round(100 * self.questions_right / self.questions_answered) if self.questions_answered else 0


def _top_level(region: Region, tree: RegionTree) -> Region:
    ancestors = tree.ancestors(region)
    return ancestors[0] if ancestors else region


def top_level_region_names(case: Case, tree: RegionTree) -> list[str]:
    """The top-level regions a case sits in, from its (prefetched) regions at any depth."""
    tops = {_top_level(region, tree) for region in case.regions.all()}
    return [region.name for region in sorted(tops, key=lambda region: (region.order, region.name))]


def modality_names(case: Case) -> list[str]:
    """Modalities of the case's (prefetched) findings, equivalent codes (CR, DX) under one name."""
    return modality_labels(case.modalities)


def _weakest_first(tallies: Iterable[Tally]) -> list[Tally]:
    return sorted(tallies, key=Tally.weakness)


def progress_for(user) -> Progress:
    attempts = (
        QuizAttempt.objects.filter(user=user)
        .select_related("case__final_diagnosis")
        .prefetch_related(
            "case__regions",
            Prefetch("case__findings", queryset=Finding.objects.only("case_id", "modality", "order")),
        )
    )
    tree = load_region_tree()
    overall = Tally("All cases")
    by_region: dict[str, Tally] = {}
    by_modality: dict[str, Tally] = {}
    by_diagnosis: dict[str, Tally] = {}
    questions_answered = questions_right = 0
    clicks: list[tuple[str, bool]] = []  # (localisation question id, hit)
    for attempt in attempts:
        questions_answered += attempt.questions_answered
        questions_right += attempt.questions_right
        clicks += [(question_id, answer["hit"]) for question_id, answer in attempt.localisation_marks.items()]
        case, mark = attempt.case, attempt.effective_mark
        if not mark:
            continue  # the diagnosis was not asked: only the questions count
        overall.add(mark)
        regions = top_level_region_names(case, tree)
        modalities = modality_names(case)
        diagnosis = case.final_diagnosis.name if case.final_diagnosis else NO_DIAGNOSIS
        for label in regions:
            by_region.setdefault(label, Tally(label)).add(mark)
        for label in modalities:
            by_modality.setdefault(label, Tally(label)).add(mark)
        by_diagnosis.setdefault(diagnosis, Tally(diagnosis)).add(mark)
    localisation, by_localisation = localisation_tallies(clicks)
    return Progress(
        localisation=localisation,
        by_localisation=by_localisation,
        overall=overall,
        by_region=_weakest_first(by_region.values()),
        by_modality=_weakest_first(by_modality.values()),
        by_diagnosis=_weakest_first(by_diagnosis.values()),
        questions_answered=questions_answered,
        questions_right=questions_right,
    )


def localisation_tallies(clicks: list[tuple[str, bool]]) -> tuple[Tally, list[Tally]]:
    """Hits and misses overall and by the modality of the series clicked (one query, none without
    clicks). A question deleted since counts overall only."""
    overall = Tally("All clicks")
    modality_of = {}
    if clicks:
        questions = LocalisationQuestion.objects.filter(pk__in={int(pk) for pk, _ in clicks})
        modality_of = {str(pk): code for pk, code in questions.values_list("pk", "series__study__modality")}
    by_modality: dict[str, Tally] = {}
    for question_id, hit in clicks:
        mark = Mark.CORRECT if hit else Mark.WRONG
        overall.add(mark)
        if question_id in modality_of:
            label = modality_labels([modality_of[question_id]])[0]
            by_modality.setdefault(label, Tally(label)).add(mark)
    return overall, _weakest_first(by_modality.values())
