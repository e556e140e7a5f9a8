"""Thin views over the case selectors; ``VisibleCasesMixin`` alone decides what a user may see.

Caching (``cases/caching.py``): every entry is keyed by the archive version, which any edit of the
archive replaces, and by the user's visibility class, so an edit shows at once and one user's view
never reaches a user who may see less. Cached are the costly aggregates (facet counts, the region
tree, diagnosis counts, the newest cases), a case with its rows, and the rendered content of the
home, list, case and diagnosis pages (template fragments keyed by ``fragment_key``). Context values
are lazy, so a page whose rendered content is in the cache builds no query and reads nothing else;
on a miss the page costs the queries it did before caching (asserted in ``tests/test_query_counts.py``).
"""

from functools import cache

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.generic import TemplateView
from taggit.models import Tag

from cases.caching import archive_version, cache_key, cached, visibility_class
from cases.facets import case_facets, count_regions_and_modalities
from cases.filters import CaseFilterForm, filter_cases
from cases.models import Case, Diagnosis, DifferentialItem
from cases.regions import RegionTree, load_region_tree
from cases.search import case_search_parse, search_filter, search_rank, search_snippet, with_snippet_text

NEWEST_CASES_ON_HOME = 6
CASES_PER_SECTION = 20
RELATED_CASES = 5
CASE_MISSING = "missing"


def region_tree() -> RegionTree:
    """The region tree, cached under the archive version (a region edit retires it)."""
    return cached(cache_key("region-tree", "all"), load_region_tree)


class VisibleCasesMixin:
    """The one place that turns the permission rules into a queryset (see ``CaseQuerySet.visible_to``)."""

    def visible_cases(self):
        return Case.objects.visible_to(self.request.user)

    def cached(self, part: str, compute, params: dict | None = None):
        """``compute()`` through the cache, for what this user may see."""
        return cached(cache_key(part, visibility_class(self.request.user), params), compute)

    def fragment_key(self, **params) -> str:
        """The key under which the template keeps the page's rendered content ({% cache %}): the
        archive version, this user's visibility class, the exact query string (links on the page
        repeat it) and ``params``."""
        params["query"] = self.request.META.get("QUERY_STRING", "")
        return cache_key("fragment", visibility_class(self.request.user), params)

    def paginate(self, cases, per_page: int = settings.CASES_PER_PAGE):
        return Paginator(cases.for_list(), per_page).get_page(self.request.GET.get("page"))


class SnippetPage:
    """A page of search results, read (and given its snippets) only when the template first reads
    it: when the page's rendered content comes from the cache, neither happens."""

    def __init__(self, cases, search):
        self._cases, self._search, self._loaded = cases, search, None

    def _load(self) -> list[Case]:
        if self._loaded is None:
            self._loaded = list(self._cases)
            for case in self._loaded:
                case.search_snippet = search_snippet(case=case, search=self._search)
        return self._loaded

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __bool__(self) -> bool:
        return bool(self._load())

    def __getitem__(self, index):
        return self._load()[index]


class HomeView(VisibleCasesMixin, TemplateView):
    template_name = "cases/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Lazy: when the rendered content comes from the cache (fragment_key), nothing is read, not
        # even the user's permissions (visible_cases).
        context["facets"] = SimpleLazyObject(
            lambda: self.cached("facets", lambda: case_facets(self.visible_cases(), region_tree()), {})
        )
        context["newest_cases"] = SimpleLazyObject(
            lambda: self.cached(
                "home-newest", lambda: list(self.visible_cases().for_list()[:NEWEST_CASES_ON_HOME])
            )
        )
        context["fragment_key"] = self.fragment_key()
        return context


class CaseListView(VisibleCasesMixin, TemplateView):
    template_name = "cases/case_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = CaseFilterForm(self.request.GET)
        filters = form.active_filters()
        # Everything else is lazy: when the rendered content comes from the cache (fragment_key),
        # no query is built, no cached aggregate is read and no page of cases is loaded.
        state = cache(lambda: self.list_state(filters))
        context.update(
            form=form,
            filters=filters,
            search=SimpleLazyObject(lambda: state()["search"]),
            other_filters=any(name != "q" for name in filters),
            facets=SimpleLazyObject(lambda: state()["facets"]),
            page_obj=SimpleLazyObject(lambda: state()["page_obj"]),
            active_region=SimpleLazyObject(lambda: state()["active_region"]),
            fragment_key=self.fragment_key(),
        )
        return context

    def list_state(self, filters: dict) -> dict:
        tree = region_tree()
        text = filters.get("q", "")
        # The parse reads synonyms and the typo vocabulary: the same for everyone, changed only with
        # the archive (diagnoses, published cases), so cached under the version too.
        search = cached(cache_key("search-parse", "all", {"q": text}), lambda: case_search_parse(text=text))
        # Search narrows the visible cases like any other filter, so facets count the matching set.
        cases = search_filter(filter_cases(self.visible_cases(), filters, tree), search)
        # Keyed by exactly `filters` (the validated, non-empty ones; the page number is not one).
        facets = self.cached("facets", lambda: case_facets(cases, tree), filters)
        listing = with_snippet_text(search_rank(cases, search)) if search else cases
        paginator = Paginator(listing.for_list(with_text=bool(search)), settings.CASES_PER_PAGE)
        paginator.count = facets.total  # already counted by the facet query
        page_obj = paginator.get_page(self.request.GET.get("page"))
        if search:
            page_obj.object_list = SnippetPage(page_obj.object_list, search)
        return {
            "search": search,
            "facets": facets,
            "page_obj": page_obj,
            "active_region": tree.by_slug.get(filters.get("region", "")),
        }


class CaseDetailView(VisibleCasesMixin, TemplateView):
    template_name = "cases/case_detail.html"

    def get_context_data(self, slug: str, **kwargs):
        context = super().get_context_data(**kwargs)
        # Whether this user may see the case, and its title: a small cached entry. A case they may
        # not see answers 404, not 403: its existence is not disclosed either.
        head = self.cached("case-head", lambda: self.case_head(slug), {"slug": slug})
        if head == CASE_MISSING:
            raise Http404("No such case.")
        # The case with every row the page shows, and its related cases (cached for what this user
        # may see), read only if the page's rendered content is not in the cache (fragment_key).
        page = cache(lambda: self.case_page(slug))
        request = self.request
        context.update(
            case_title=head["title"],
            case=SimpleLazyObject(lambda: page()[0]),
            related_cases=SimpleLazyObject(lambda: page()[1]),
            permalink=request.build_absolute_uri(reverse("case_detail", args=[slug])),
            # The page shows its address and today's date ("accessed …"): both are in the key.
            fragment_key=self.fragment_key(
                slug=slug, host=request.get_host(), scheme=request.scheme, today=str(timezone.localdate())
            ),
            # The teaching sections are also kept on their own under this version (fragment cache).
            archive_version=archive_version(),
        )
        return context

    def case_head(self, slug: str):
        """Existence and title, taken from the whole page's entry (read or made now): a cold page
        costs the same queries as before the head existed."""
        found = self.case_page(slug, missing_ok=True)
        return CASE_MISSING if found == CASE_MISSING else {"pk": found[0].pk, "title": found[0].title}

    def case_page(self, slug: str, *, missing_ok: bool = False):
        found = getattr(self, "_case_page", None)  # read once per request
        if found is None:
            found = self._case_page = self.cached(
                "case-page", lambda: self.case_and_related(slug), {"slug": slug}
            )
        if found == CASE_MISSING and not missing_ok:  # gone since the head was read
            raise Http404("No such case.")
        return found

    def case_and_related(self, slug: str):
        try:
            case = self.visible_cases().for_detail().get(slug=slug)
        except Case.DoesNotExist:
            return CASE_MISSING
        return case, list(self.related_cases(case))

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
        tree = region_tree()
        region = tree.by_slug.get(slug)
        if region is None:
            raise Http404("No such region.")
        filters = {"region": slug}
        cases = filter_cases(self.visible_cases(), filters, tree)
        counts = self.cached("region-counts", lambda: count_regions_and_modalities(cases, tree), filters)
        context.update(
            region=region,
            ancestors=tree.ancestors(region),
            children=[(child, counts[f"region_{child.pk}"]) for child in tree.children(region)],
            page_obj=self.paginate(cases),
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
        diagnoses = self.cached(
            "diagnosis-list",
            lambda: list(
                self.diagnoses().annotate(
                    case_count=Count(
                        "final_cases", filter=Q(final_cases__in=self.visible_cases().values("pk"))
                    )
                )
            ),
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
        # Cached for what this user may see: whether the diagnosis is public depends on it.
        diagnosis = self.cached(
            "diagnosis", lambda: self.diagnoses().filter(slug=slug).first() or CASE_MISSING, {"slug": slug}
        )
        if diagnosis == CASE_MISSING:
            raise Http404("No such diagnosis.")
        # Lazy: when the rendered content comes from the cache (fragment_key), nothing is read.
        state = cache(lambda: self.diagnosis_state(diagnosis))
        context.update(
            diagnosis=diagnosis,
            final_cases=SimpleLazyObject(lambda: state()["final_cases"]),
            final_count=SimpleLazyObject(lambda: state()["final_count"]),
            differential_cases=SimpleLazyObject(lambda: state()["differential_cases"]),
            differential_count=SimpleLazyObject(lambda: state()["differential_count"]),
            fragment_key=self.fragment_key(diagnosis=diagnosis.pk),
        )
        return context

    def diagnosis_state(self, diagnosis: Diagnosis) -> dict:
        cases = self.visible_cases()
        final = cases.filter(final_diagnosis=diagnosis)
        in_differential = cases.filter(differential_items__diagnosis=diagnosis).exclude(
            final_diagnosis=diagnosis
        )
        # Both counts in one query: the visible cases with it as final diagnosis, and those that
        # listed it in their differential with another final diagnosis (or none), as the lists.
        listed = DifferentialItem.objects.filter(diagnosis=diagnosis).values("case_id")
        counts = self.cached(
            "diagnosis-counts",
            lambda: cases.aggregate(
                final=Count("pk", filter=Q(final_diagnosis=diagnosis)),
                differential=Count("pk", filter=Q(pk__in=listed) & ~Q(final_diagnosis=diagnosis)),
            ),
            {"diagnosis": diagnosis.pk},
        )
        return {
            "final_cases": list(final.for_list()[:CASES_PER_SECTION]),
            "final_count": counts["final"],
            "differential_cases": list(in_differential.for_list()[:CASES_PER_SECTION]),
            "differential_count": counts["differential"],
        }


class TagDetailView(VisibleCasesMixin, TemplateView):
    template_name = "cases/tag_detail.html"

    def get_context_data(self, slug: str, **kwargs):
        context = super().get_context_data(**kwargs)
        tag = get_object_or_404(Tag, slug=slug)
        cases = filter_cases(self.visible_cases(), {"tag": slug})
        context.update(tag=tag, page_obj=self.paginate(cases))
        return context
