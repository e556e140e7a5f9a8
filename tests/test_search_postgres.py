"""Search features that need PostgreSQL: typo tolerance and "did you mean" (pg_trgm), the weighted
vector and its GIN index. Deselected on SQLite; they run in the PostgreSQL pass."""

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case, CaseSearchDocument, SearchTerm
from cases.search import _search_query, case_search_parse
from tests.test_search import AML, SACRAL, THALASSAEMIA, add_finding, found

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def suggestion(client, q: str, **filters) -> str | None:
    html = client.get("/cases/", {"q": q, **filters}).content.decode()
    start = html.find('<p class="did-you-mean">')
    return None if start < 0 else html[start : html.index("</p>", start)]


@pytest.mark.parametrize(
    ("typo", "slug"),
    [("hemangoma", SACRAL), ("haemangioma sacrun", SACRAL), ("thalasemia", THALASSAEMIA), ("leukimia", AML)],
)
def test_a_small_typo_still_finds_the_case(client, seeded, typo, slug):
    assert found(client, typo) == [slug]


def test_did_you_mean_offers_the_corrected_query_and_keeps_the_filters(client, seeded):
    offered = suggestion(client, "hemangoma sacrum", region="spine")
    assert offered is not None
    assert 'href="?q=hemangioma+sacrum&amp;region=spine"' in offered
    assert ">hemangioma sacrum</a>" in offered


def test_no_suggestion_for_known_words_or_their_plurals(client, seeded):
    assert suggestion(client, "haemangioma sacrum") is None
    assert suggestion(client, "haemangiomas") is None
    assert found(client, "haemangiomas") == [SACRAL]


def test_a_typo_combines_with_filters(client, seeded):
    assert found(client, "chordona", region="sacrum") == [SACRAL]
    assert found(client, "chordona", region="chest") == []


def test_words_of_unpublished_cases_are_never_suggested(client, make_case, editor):
    case = make_case(slug="draft", status=Case.Status.DRAFT, discussion="A xanthogranuloma of bone.")
    assert not SearchTerm.objects.filter(word="xanthogranuloma").exists()
    assert suggestion(client, "xanthogranulma") is None
    client.force_login(editor)
    assert found(client, "xanthogranuloma") == ["draft"]  # the draft is searchable by those who may see it
    client.logout()
    case.status, case.published_at = Case.Status.PUBLISHED, timezone.now()
    case.save()
    assert "xanthogranuloma" in suggestion(client, "xanthogranulma")
    assert found(client, "xanthogranulma") == ["draft"]


def test_diagnosis_names_are_in_the_typo_vocabulary(db, diagnosis):
    diagnosis("Osteoblastoma", synonyms=["giant osteoid osteoma"])
    assert case_search_parse(text="osteoblastma").suggestion == "osteoblastoma"


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
