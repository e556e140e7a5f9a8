"""How complete a case is: what publication requires, and a completeness score as Radiopaedia shows it.

``completeness`` is a pure function of ``CaseFacts``: plain texts and counts. The counts come from
``with_completeness_counts``, which annotates them with one subquery each, so a list of any length
costs one query and ``completeness_of`` on a single case costs one more.
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from authoring.models import CaseSectionNotStated
from cases.answer_words import answer_phrases
from cases.models import Case, DifferentialItem, Finding, Reference, TaggedCase
from cases.spelling import normalise_words
from imaging.models import Image

MIN_DIFFERENTIAL_ITEMS = 2


@dataclass(frozen=True)
class CaseFacts:
    title: str
    slug: str
    clinical_history: str
    history_not_stated: bool
    has_final_diagnosis: bool
    diagnosis_certainty: str
    diagnosis_proof: str
    discussion: str
    teaching_points: str
    answer_phrases: tuple[str, ...]
    findings: int
    differential_items: int
    images: int
    references: int
    regions: int
    tags: int


@dataclass(frozen=True)
class SectionState:
    label: str
    filled: bool
    required: bool


@dataclass(frozen=True)
class Completeness:
    sections: tuple[SectionState, ...]
    missing_for_publication: tuple[str, ...]

    @property
    def score(self) -> int:
        """Percentage of the required and recommended sections that are filled."""
        return round(100 * sum(section.filled for section in self.sections) / len(self.sections))

    @property
    def publishable(self) -> bool:
        return not self.missing_for_publication


def names_the_answer(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first answer phrase that ``text`` contains as whole words (spelling-folded), if any.

    Slugs count too: "sacral-chordoma-47f" names "chordoma"; "back-pain-47f" names nothing.
    """
    words = normalise_words(text.replace("-", " "))
    for phrase in phrases:
        wanted = normalise_words(phrase)
        if wanted and any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1)):
            return phrase
    return None


def completeness(facts: CaseFacts) -> Completeness:
    missing: list[str] = []
    title_names = names_the_answer(facts.title, facts.answer_phrases)
    slug_names = names_the_answer(facts.slug, facts.answer_phrases)
    if not facts.title.strip():
        missing.append("a title")
    elif title_names:
        missing.append(f"a neutral title: it names the diagnosis (“{title_names}”)")
    if slug_names:
        missing.append(f"a neutral slug: it names the diagnosis (“{slug_names}”)")
    history = bool(facts.clinical_history.strip()) or facts.history_not_stated
    if not history:
        missing.append("the clinical history (or an editor's mark that the source does not state it)")
    if not facts.findings:
        missing.append("at least one imaging finding")
    if not facts.has_final_diagnosis:
        missing.append("a final diagnosis")
    if not facts.diagnosis_certainty:
        missing.append("the certainty of the final diagnosis")
    if facts.differential_items < MIN_DIFFERENTIAL_ITEMS:
        missing.append(
            f"at least {MIN_DIFFERENTIAL_ITEMS} differential diagnoses ({facts.differential_items} so far)"
        )
    if not facts.images:
        missing.append("at least one image (add a series and upload its images)")
    sections = (
        SectionState(
            "Neutral title and slug", bool(facts.title.strip()) and not (title_names or slug_names), True
        ),
        SectionState("Clinical history", history, True),
        SectionState("Imaging findings", facts.findings > 0, True),
        SectionState(
            "Final diagnosis, certainty and proof",
            facts.has_final_diagnosis
            and bool(facts.diagnosis_certainty)
            and bool(facts.diagnosis_proof.strip()),
            True,
        ),
        SectionState(
            f"Differential diagnosis (at least {MIN_DIFFERENTIAL_ITEMS})",
            facts.differential_items >= MIN_DIFFERENTIAL_ITEMS,
            True,
        ),
        SectionState("Images", facts.images > 0, True),
        SectionState("Discussion", bool(facts.discussion.strip()), False),
        SectionState("Teaching points", bool(facts.teaching_points.strip()), False),
        SectionState("References", facts.references > 0, False),
        SectionState("Regions", facts.regions > 0, False),
        SectionState("Tags", facts.tags > 0, False),
    )
    return Completeness(sections=sections, missing_for_publication=tuple(missing))


def _count(queryset: QuerySet, case_field: str) -> Coalesce:
    per_case = (
        queryset.filter(**{case_field: OuterRef("pk")})
        .order_by()
        .values(case_field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(per_case, output_field=IntegerField()), 0)


def with_completeness_counts(cases: QuerySet) -> QuerySet:
    """The counts ``completeness`` needs, as annotations (one subquery each, no join fan-out)."""
    return cases.select_related("final_diagnosis").annotate(
        n_findings=_count(Finding.objects.all(), "case"),
        n_differential_items=_count(DifferentialItem.objects.all(), "case"),
        n_references=_count(Reference.objects.all(), "case"),
        n_images=_count(Image.objects.all(), "series__study__case"),
        n_regions=_count(Case.regions.through.objects.all(), "case"),
        n_tags=_count(TaggedCase.objects.all(), "content_object"),
        history_not_stated=Exists(
            CaseSectionNotStated.objects.filter(
                case=OuterRef("pk"), section=CaseSectionNotStated.Section.CLINICAL_HISTORY
            )
        ),
    )


def facts_of(case: Case) -> CaseFacts:
    """The facts of a case loaded through ``with_completeness_counts``."""
    return CaseFacts(
        title=case.title,
        slug=case.slug,
        clinical_history=case.clinical_history,
        history_not_stated=case.history_not_stated,
        has_final_diagnosis=case.final_diagnosis_id is not None,
        diagnosis_certainty=case.diagnosis_certainty,
        diagnosis_proof=case.diagnosis_proof,
        discussion=case.discussion,
        teaching_points=case.teaching_points,
        answer_phrases=tuple(answer_phrases(case)),
        findings=case.n_findings,
        differential_items=case.n_differential_items,
        images=case.n_images,
        references=case.n_references,
        regions=case.n_regions,
        tags=case.n_tags,
    )


def completeness_of(case: Case) -> Completeness:
    """Completeness of a case as stored; one query unless it was loaded with the counts already."""
    if not hasattr(case, "n_findings"):
        case = with_completeness_counts(Case.objects.all()).get(pk=case.pk)
    return completeness(facts_of(case))
