"""PostgreSQL plans a filter's facet rows from statistics over (facet, value) together
(migration cases/0013): without them it expects a few dozen cases where thousands match and sorts
them all for a list's first page (bench/EXPLAIN-facets.md)."""

import pytest
from django.db import connection

from cases.facets import LIST_KINDS
from cases.models import CaseFacet


@pytest.mark.postgres
@pytest.mark.django_db
def test_facet_and_value_have_statistics_together():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.stxkind, array_agg(a.attname ORDER BY a.attname) FROM pg_statistic_ext s "
            "JOIN pg_attribute a ON a.attrelid = s.stxrelid AND a.attnum = ANY (s.stxkeys) "
            "WHERE s.stxrelid = %s::regclass GROUP BY s.stxkind",
            [CaseFacet._meta.db_table],
        )
        assert cursor.fetchall() == [(["m"], ["facet", "value"])]


def test_a_list_counts_every_facet_it_shows_but_not_the_differential():
    # A new kind of facet must be counted on the list (or left out here on purpose).
    assert set(LIST_KINDS) == set(CaseFacet.Kind) - {CaseFacet.Kind.DIFFERENTIAL}
