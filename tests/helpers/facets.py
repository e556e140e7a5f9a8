"""The facet sets and published counts as the archive keeps them, to compare with a rebuild's."""

import importlib
from collections import Counter

from django.db import connection

from cases.models import CaseFacetSet, FacetCount, facet_value_of


def maintained() -> tuple[set, Counter]:
    rows = {
        (case_id, *facet_value_of(key), published)
        for case_id, keys, published in CaseFacetSet.objects.values_list("case_id", "keys", "published")
        for key in keys
    }
    counts = Counter(
        {
            (f, v): n
            for f, v, n in FacetCount.objects.filter(count__gt=0).values_list("facet", "value", "count")
        }
    )
    return rows, counts


def facet_key_view_create() -> None:
    """The view over the facet sets, on a test database made from the models (which make no view)."""
    importlib.import_module("cases.migrations.0014_facet_sets").create_key_view(connection)
