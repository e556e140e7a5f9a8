"""Search features that need PostgreSQL: the weighted vector, its GIN index and pg_trgm. Deselected on
SQLite; they run in the PostgreSQL pass (typo correction, on both databases, is in test_search_typos.py)."""

import pytest
from django.db import connection

from cases.models import CaseSearchDocument
from cases.search import _search_query, case_search_parse
from tests.helpers.search import add_finding, found

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_ts_rank_weights_beat_frequency(client, make_case, diagnosis):
    many = make_case(slug="many-in-findings", findings=())
    add_finding(many, " ".join(["Ossifying fibroma."] * 12))
    make_case(slug="in-diagnosis", final_diagnosis=diagnosis("Ossifying fibroma"))
    assert found(client, "ossifying fibroma") == ["in-diagnosis", "many-in-findings"]


def test_the_vector_carries_the_weights(make_case, diagnosis):
    case = make_case(title="Knee pain", final_diagnosis=diagnosis("Osteochondritis dissecans"), findings=())
    add_finding(case, "Subchondral fragment.")
    case.discussion = "Juvenile form heals."
    case.save()
    in_group = "ts_filter(vector, %s) @@ to_tsquery('english', %s)"
    checks = [("{a}", "osteochondritis"), ("{b}", "subchondral"), ("{d}", "juvenile"), ("{a}", "juvenile")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join([in_group] * len(checks))} FROM cases_casesearchdocument WHERE case_id = %s",
            [value for check in checks for value in check] + [case.pk],
        )
        assert cursor.fetchone() == (True, True, True, False)


def test_the_search_uses_the_gin_index(make_case):
    make_case(discussion="An osteoid osteoma.")
    search = case_search_parse(text="osteoid osteoma")
    queryset = CaseSearchDocument.objects.filter(vector=_search_query(search)).values("case_id")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "case_search_vector_gin" in plan


def test_pg_trgm_and_the_vocabulary_index_exist(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() == ("pg_trgm",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'search_term_word_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]


def test_the_vector_stays_in_the_row(db):
    """Stored compressed in the row (STORAGE MAIN), not in TOAST: ranking reads thousands of them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'cases_casesearchdocument'::regclass AND attname = 'vector'"
        )
        assert cursor.fetchone() == ("m",)
