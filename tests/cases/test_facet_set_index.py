"""A filtered list finds its cases with one test of all its filter keys, which PostgreSQL answers from
the GIN index of the facet sets (migration cases/0014; ``jsonb_path_ops`` could not answer ``?&``)."""

import pytest
from django.db import connection

from cases.filters import filter_cases
from cases.models import Case, CaseFacetSet


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_filter_keys_are_looked_up_in_the_gin_index(make_case, region_tree):
    make_case(slug="sacral", findings=["MR"], regions=[region_tree["sacrum"]], tags=["bone"])
    cases = filter_cases(Case.objects.published(), {"region": "spine", "modality": "MR", "tag": "bone"})
    with connection.cursor() as cursor:
        # On a test database of a few rows a scan is cheaper; the GIN index must be able to answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
    keys = CaseFacetSet.objects.get(case__slug="sacral").keys
    plan = CaseFacetSet.objects.filter(
        keys__has_keys=[k for k in keys if k.startswith(("region:", "tag:"))]
    ).explain()
    assert "case_facet_set_keys_gin" in plan
    assert list(cases.values_list("slug", flat=True)) == ["sacral"]
