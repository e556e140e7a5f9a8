"""`case_upkeep_deferred()`: a case written row by row gets its search document and facet set once, at
the end of the block, the same as refreshing after every row would give."""

import pytest

from cases.facet_rows import facets_rebuild
from cases.models import Case, CaseFacetSet, CaseSearchDocument, Finding
from cases.search import search_documents_refresh
from cases.seed import read_seed, seed_load
from cases.upkeep import case_upkeep_deferred
from tests.helpers.facets import maintained

pytestmark = pytest.mark.django_db


def written(case) -> dict:
    return CaseSearchDocument.objects.filter(case=case).values("title_and_diagnosis", "findings").first()


def test_the_document_is_written_once_at_the_end_of_the_block_with_every_row():
    with case_upkeep_deferred():
        case = Case.objects.create(slug="deferred", title="Deferred ganglioneuroma")
        Finding.objects.create(case=case, modality="MR", text="A paraspinal mass.", order=1)
        with case_upkeep_deferred():  # nested: the outer block refreshes
            case.tags.set(["paraspinal"])
        assert written(case) is None and not CaseFacetSet.objects.filter(case=case).exists()
        assert search_documents_refresh(case_ids=[case.pk]) == 0  # noted, not yet written
    document = written(case)
    assert set(CaseFacetSet.objects.get(case=case).keys) >= {"modality:MR", f"tag:{case.tags.get().pk}"}
    assert "ganglioneuroma" in document["title_and_diagnosis"]
    assert "paraspinal mass" in document["findings"] and "paraspinal" in document["findings"]


def test_a_failing_block_writes_nothing():
    with pytest.raises(RuntimeError), case_upkeep_deferred():
        case = Case.objects.create(slug="failed", title="Never indexed")
        raise RuntimeError("the loader failed")
    assert written(case) is None and not CaseFacetSet.objects.filter(case=case).exists()


def test_the_seed_loads_the_same_documents_as_a_refresh_of_every_case_afterwards():
    seed_load(data=read_seed())
    loaded = {case.slug: written(case) for case in Case.objects.all()}
    CaseSearchDocument.objects.all().delete()
    search_documents_refresh(case_ids=Case.objects.values_list("pk", flat=True))
    assert loaded == {case.slug: written(case) for case in Case.objects.all()} and len(loaded) >= 3


def test_the_seed_loads_the_same_facet_rows_and_counts_as_a_rebuild_afterwards():
    seed_load(data=read_seed())
    loaded = maintained()
    facets_rebuild()
    assert loaded == maintained() and len(loaded[0]) >= 10


def test_a_block_that_touched_no_case_refreshes_nothing(monkeypatch):
    """The admin's case editor opens a block on every page load: loading it must not retire cached pages."""
    from cases import upkeep

    called = []
    monkeypatch.setattr(upkeep, "case_facets_refresh", lambda **kwargs: called.append("facets"))
    monkeypatch.setattr(upkeep, "search_documents_refresh", lambda **kwargs: called.append("search"))
    with case_upkeep_deferred():
        Case.objects.filter(slug="nothing").exists()
    assert called == []
    with case_upkeep_deferred():
        Case.objects.create(slug="something", title="Something")
    assert called == ["facets", "search"]
