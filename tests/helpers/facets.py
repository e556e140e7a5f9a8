"""The facet rows and published counts as the archive keeps them, to compare with a rebuild's."""

from collections import Counter

from cases.models import CaseFacet, FacetCount


def maintained() -> tuple[set, Counter]:
    rows = set(CaseFacet.objects.values_list("case_id", "facet", "value", "published"))
    counts = Counter(
        {
            (f, v): n
            for f, v, n in FacetCount.objects.filter(count__gt=0).values_list("facet", "value", "count")
        }
    )
    return rows, counts
