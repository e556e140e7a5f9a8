"""Thin views over the case selectors; ``VisibleCasesMixin`` alone decides what a user may see.

Only the facet counts and the home page's newest cases are cached (``cases/caching.py``), keyed by
the versions of what they depend on, which an edit that can change them replaces, and by the user's
visibility class, so an edit shows at once and one user's counts never reach a user who may see less.
Everything else is read on every request, in a fixed number of queries
(``tests/cases/test_query_counts.py``).
"""

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import TemplateView
from taggit.models import Tag

from cases.caching import cache_key, cached, visibility_class
from cases.extensions import as_cards
from cases.facets import case_facets, visible_counts
from cases.filters import (
    CaseFilterForm,
    facet_filter_keys,
    filter_case_fields,
    having_facet_keys,
)
from cases.models import Case, Diagnosis, DifferentialItem, FacetKind, facet_value_key
from cases.regions import load_region_tree
from cases.search import (
    case_search_parse,
    search_filter,
    search_matches,
    search_rank,
    search_snippet,
    with_snippet_text,
)

NEWEST_CASES_ON_HOME = 6
CASES_PER_SECTION = 20
RELATED_CASES = 5


class VisibleCasesMixin:
    """The one place that turns the permission rules into a queryset (see ``CaseQuerySet.visible_to``)."""

    def visible_cases(self):
        return Case.objects.visible_to(self.request.user)

    def cached(self, part: str, compute, params: dict | None = None):
        """``compute()`` through the cache, for what this user may see."""
        return cached(cache_key(part, visibility_class(self.request.user), params), compute)

    def paginate(self, cases, *, count: int, per_page: int = settings.CASES_PER_PAGE):
        """A page of ``cases``, of which there are ``count`` (a maintained facet count: not counted again)."""
        paginator = Paginator(cases.for_list(), per_page)
        paginator.count = count
        page_obj = paginator.get_page(self.request.GET.get("page"))
        page_obj.object_list = as_cards(page_obj.object_list)
        return page_obj


class HomeView(VisibleCasesMixin, TemplateView):
    template_name = "cases/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["facets"] = self.cached(
            "facets",
            lambda: case_facets(self.visible_cases(), load_region_tree(), all_visible_to=self.request.user),
            {},
        )
        context["newest_cases"] = self.cached(
            "home-newest", lambda: as_cards(self.visible_cases().for_list()[:NEWEST_CASES_ON_HOME])
        )
        return context


class CaseListView(VisibleCasesMixin, TemplateView):
    template_name = "cases/case_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = CaseFilterForm(self.request.GET)
        filters = form.active_filters()
        tree = load_region_tree()
        search = case_search_parse(text=filters.get("q", ""))
        # Search narrows the visible cases like any other filter, so facets count the matching set; the
        # facet keys are tested by the count on the sets it reads, and by the listing on the cases.
        keys = facet_filter_keys(filters, tree)
        matching = search_filter(filter_case_fields(self.visible_cases(), filters), search)
        cases = having_facet_keys(matching, keys)
        broad = None
        if search:
            matches = search_matches(cases, limit=settings.SEARCH_RANKED_MATCHES)
            if matches.more_than:  # the newest of many matches: their facets are counted on them alone
                cases, matching, keys, broad = matches.cases, matches.cases, (), matches.more_than
        # Keyed by exactly `filters` (the validated, non-empty ones; the page number is not one) and, for
        # a search, by whether it was broad: counts among the newest matches never serve an exact search.
        facets = self.cached(
            "facets",
            lambda: case_facets(
                matching, tree, having_keys=keys, all_visible_to=None if filters else self.request.user
            ),
            {**filters, "ranked": broad} if search else filters,
        )
        listing = with_snippet_text(search_rank(cases, search)) if search else cases
        paginator = Paginator(listing.for_list(with_text=bool(search)), settings.CASES_PER_PAGE)
        paginator.count = facets.total  # already counted by the facet query
        page_obj = paginator.get_page(self.request.GET.get("page"))
        page_obj.object_list = as_cards(page_obj.object_list)
        if search:
            for case in page_obj.object_list:
                case.search_snippet = search_snippet(case=case, search=search)
        context.update(
            form=form,
            filters=filters,
            search=search,
            broad_search=broad,
            other_filters=any(name != "q" for name in filters),
            facets=facets,
            page_obj=page_obj,
            active_region=tree.by_slug.get(filters.get("region", "")),
        )
        return context


class CaseDetailView(VisibleCasesMixin, TemplateView):
    template_name = "cases/case_detail.html"

    def get_context_data(self, slug: str, **kwargs):
        context = super().get_context_data(**kwargs)
        # A case the user may not see answers 404, not 403: its existence is not disclosed either.
        case = get_object_or_404(self.visible_cases().for_detail(), slug=slug)
        context.update(
            case=case,
            related_cases=list(self.related_cases(case)),
            permalink=self.request.build_absolute_uri(reverse("case_detail", args=[slug])),
        )
        return context

    def related_cases(self, case: Case):
        shares_diagnosis = (
            Q(final_diagnosis=case.final_diagnosis) if case.final_diagnosis_id else Q(pk__in=[])
        )
        # EXISTS rather than a join: one row per case, so the newest-first index walk can stop at
        # the fifth match instead of collecting every case of a large region first.
        shares_region = Exists(
            Case.regions.through.objects.filter(
                case_id=OuterRef("pk"), region_id__in=[region.pk for region in case.regions.all()]
            )
        )
        return (
            self.visible_cases()
            .filter(shares_diagnosis | shares_region)
            .exclude(pk=case.pk)
            .select_related("final_diagnosis")
            .only("slug", "title", "age", "sex", "final_diagnosis__name")[:RELATED_CASES]
        )


class RegionDetailView(VisibleCasesMixin, TemplateView):
    template_name = "cases/region_detail.html"

    def get_context_data(self, slug: str, **kwargs):
        context = super().get_context_data(**kwargs)
        tree = load_region_tree()
        region = tree.by_slug.get(slug)
        if region is None:
            raise Http404("No such region.")
        key = (FacetKind.REGION, str(region.pk))
        # The region's and its sub-regions' counts are those of the unfiltered list (a region counts the
        # cases of its sub-regions too): maintained, so read on every request rather than counted.
        counts = visible_counts(self.request.user)
        cases = having_facet_keys(self.visible_cases(), [facet_value_key(*key)])
        context.update(
            region=region,
            ancestors=tree.ancestors(region),
            children=[(child, counts[(FacetKind.REGION, str(child.pk))]) for child in tree.children(region)],
            page_obj=self.paginate(cases, count=counts[key]),
        )
        return context


class DiagnosesOfVisibleCasesMixin(VisibleCasesMixin):
    """A diagnosis is public only through a case: one the user may see must name it, as its final
    diagnosis or an item of its differential. One created for a draft stays out of the A to Z, and its
    page answers 404, for everyone who may not see that draft."""

    def diagnoses(self):
        visible = self.visible_cases().values("pk")
        named = Exists(Case.objects.filter(pk__in=visible, final_diagnosis=OuterRef("pk"))) | Exists(
            DifferentialItem.objects.filter(case__in=visible, diagnosis=OuterRef("pk"))
        )
        return Diagnosis.objects.filter(named)


class DiagnosisListView(DiagnosesOfVisibleCasesMixin, TemplateView):
    template_name = "cases/diagnosis_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        diagnoses = self.diagnoses().annotate(
            case_count=Count("final_cases", filter=Q(final_cases__in=self.visible_cases().values("pk")))
        )
        by_letter: dict[str, list[Diagnosis]] = {}
        for diagnosis in diagnoses:
            by_letter.setdefault(diagnosis.name[:1].upper(), []).append(diagnosis)
        context["by_letter"] = sorted(by_letter.items())
        return context


class DiagnosisDetailView(DiagnosesOfVisibleCasesMixin, TemplateView):
    template_name = "cases/diagnosis_detail.html"

    def get_context_data(self, slug: str, **kwargs):
        context = super().get_context_data(**kwargs)
        # Whether the diagnosis is public depends on what this user may see.
        diagnosis = get_object_or_404(self.diagnoses(), slug=slug)
        cases = self.visible_cases()
        final = cases.filter(final_diagnosis=diagnosis)
        in_differential = cases.filter(differential_items__diagnosis=diagnosis).exclude(
            final_diagnosis=diagnosis
        )
        # The visible cases with it as final diagnosis, and those that listed it in their differential
        # with another final diagnosis (or none), as the lists: from the facet counts.
        counts = visible_counts(self.request.user)
        final_cases = list(final.for_list()[:CASES_PER_SECTION])
        differential_cases = list(in_differential.for_list()[:CASES_PER_SECTION])
        as_cards(final_cases + differential_cases)  # both lists' cards completed together
        context.update(
            diagnosis=diagnosis,
            final_cases=final_cases,
            final_count=counts[(FacetKind.DIAGNOSIS, str(diagnosis.pk))],
            differential_cases=differential_cases,
            differential_count=counts[(FacetKind.DIFFERENTIAL, str(diagnosis.pk))],
        )
        return context


class TagDetailView(VisibleCasesMixin, TemplateView):
    template_name = "cases/tag_detail.html"

    def get_context_data(self, slug: str, **kwargs):
        context = super().get_context_data(**kwargs)
        tag = get_object_or_404(Tag, slug=slug)
        key = (FacetKind.TAG, str(tag.pk))
        cases = having_facet_keys(self.visible_cases(), [facet_value_key(*key)])
        # The tag's count is maintained with the others (a few hundred rows, read rather than counted).
        context.update(tag=tag, page_obj=self.paginate(cases, count=visible_counts(self.request.user)[key]))
        return context
