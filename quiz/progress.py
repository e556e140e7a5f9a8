"""A resident's accuracy by region (top level), modality and diagnosis, weakest areas first.

Every attempt counts, each with its effective mark (the resident's override, else the server's):
a case got wrong and then right shows as half learnt, which is what the resident should see.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Prefetch

from cases.modalities import MODALITY_LABELS, facet_key
from cases.models import Case, Finding, Region
from cases.regions import RegionTree, load_region_tree
from quiz.models import Mark, QuizAttempt

BAR_WIDTH = 200
NO_DIAGNOSIS = "No final diagnosis recorded"


@dataclass
class Tally:
    label: str
    attempts: int = 0
    correct: int = 0
    close: int = 0

    def add(self, mark: str) -> None:
        self.attempts += 1
        self.correct += mark == Mark.CORRECT
        self.close += mark == Mark.CLOSE

    @property
    def wrong(self) -> int:
        return self.attempts - self.correct - self.close

    @property
    def percent_correct(self) -> int:
        return round(100 * self.correct / self.attempts) if self.attempts else 0

    @property
    def percent_close(self) -> int:
        return round(100 * self.close / self.attempts) if self.attempts else 0

    bar_width = BAR_WIDTH

    # Bar segments in SVG user units: widths as attributes, because the page allows no inline style.
    @property
    def correct_width(self) -> int:
        return round(BAR_WIDTH * self.correct / self.attempts) if self.attempts else 0

    @property
    def close_width(self) -> int:
        return round(BAR_WIDTH * (self.correct + self.close) / self.attempts) - self.correct_width

    def weakness(self) -> tuple:
        """Sort key, weakest first: fewest correct, then fewest close, then the most practised."""
        return (self.correct / self.attempts, self.close / self.attempts, -self.attempts, self.label)


@dataclass
class Progress:
    overall: Tally
    by_region: list[Tally] = field(default_factory=list)
    by_modality: list[Tally] = field(default_factory=list)
    by_diagnosis: list[Tally] = field(default_factory=list)


def _top_level(region: Region, tree: RegionTree) -> Region:
    ancestors = tree.ancestors(region)
    return ancestors[0] if ancestors else region


def top_level_region_names(case: Case, tree: RegionTree) -> list[str]:
    """The top-level regions a case sits in, from its (prefetched) regions at any depth."""
    tops = {_top_level(region, tree) for region in case.regions.all()}
    return [region.name for region in sorted(tops, key=lambda region: (region.order, region.name))]


def modality_names(case: Case) -> list[str]:
    """Modalities of the case's (prefetched) findings, equivalent codes (CR, DX) under one name."""
    names = [MODALITY_LABELS.get(facet_key(code), code) for code in case.modalities]
    return list(dict.fromkeys(names))


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
    for attempt in attempts:
        case, mark = attempt.case, attempt.effective_mark
        overall.add(mark)
        regions = top_level_region_names(case, tree)
        modalities = modality_names(case)
        diagnosis = case.final_diagnosis.name if case.final_diagnosis else NO_DIAGNOSIS
        for label in regions:
            by_region.setdefault(label, Tally(label)).add(mark)
        for label in modalities:
            by_modality.setdefault(label, Tally(label)).add(mark)
        by_diagnosis.setdefault(diagnosis, Tally(diagnosis)).add(mark)
    return Progress(
        overall=overall,
        by_region=_weakest_first(by_region.values()),
        by_modality=_weakest_first(by_modality.values()),
        by_diagnosis=_weakest_first(by_diagnosis.values()),
    )
