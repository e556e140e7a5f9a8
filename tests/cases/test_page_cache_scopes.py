"""An edit retires only the cached entries it can change (``cases/caching.py``): which list pages
stay warm after an edit through the real services and receivers, and which are counted again."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authoring.services import case_return_to_draft
from cases.models import Case, Region
from tests.helpers.archives import small_archive

pytestmark = pytest.mark.django_db

# Not the home page: it shares the unfiltered list's entry, so requesting one would warm the other.
PAGES = [
    "/cases/",
    "/cases/?region=chest",
    "/cases/?modality=CT",
    "/cases/?tag=lung",
    "/cases/?modality=MR",
    "/cases/?region=spine&tag=bone",
    "/cases/?q=finding",
]


@pytest.fixture
def archive(make_case, region_tree, diagnosis):
    small_archive(make_case, region_tree, diagnosis, with_lumbar=True)
    return region_tree


def counts_facets(client, url: str) -> bool:
    """Whether the request counted facets (grouped the facet keys or read the maintained counts) rather
    than reading them from the cache; filters read facet sets too, but group none."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    sql = [query["sql"].lower() for query in queries.captured_queries]
    return any("facetcount" in one or "casefacetkey" in one for one in sql)


@pytest.fixture
def warm_pages(client, archive):
    """Every page requested twice, and the second request served from the cache."""
    cache.clear()
    for url in PAGES:
        assert counts_facets(client, url), f"{url}: counted nothing on an empty cache"
    for url in PAGES:
        assert not counts_facets(client, url), f"{url}: nothing came from the cache"


def still_cached(client) -> set[str]:
    """The pages whose next request is served from the cache as before the edit."""
    return {url for url in PAGES if not counts_facets(client, url)}


def total(client, url: str) -> int:
    return client.get(url).context["facets"].total


def test_moving_a_case_within_the_spine_keeps_other_regions_modalities_and_tags_warm(client, warm_pages):
    case = Case.objects.get(slug="sacral-0")
    case.regions.set([Region.objects.get(slug="lumbar-spine")])
    assert still_cached(client) == {
        "/cases/?region=chest",
        "/cases/?modality=CT",
        "/cases/?tag=lung",
    }
    children = dict((region.slug, n) for region, n in client.get("/regions/spine/").context["children"])
    assert children == {"sacrum": 2, "lumbar-spine": 2}


def test_moving_a_case_to_another_region_retires_both_regions(client, warm_pages):
    Case.objects.get(slug="chest-0").regions.set([Region.objects.get(slug="sacrum")])
    cached = still_cached(client)
    assert {"/cases/?region=chest", "/cases/?region=spine&tag=bone"}.isdisjoint(cached)
    # Its modality and tag lists are retired too: the case counted under them before and after.
    assert cached == {"/cases/?modality=MR"}
    assert total(client, "/cases/?region=chest") == 0
    assert total(client, "/cases/?region=spine") == 5


def test_unpublishing_a_case_retires_only_the_lists_it_was_in(client, warm_pages, editor):
    case_return_to_draft(case=Case.objects.get(slug="chest-0"), by=editor)
    assert still_cached(client) == {
        "/cases/?modality=MR",
        "/cases/?region=spine&tag=bone",
    }
    assert total(client, "/cases/?modality=CT") == 0
    assert total(client, "/cases/") == 4


def test_editing_a_case_s_text_keeps_every_filtered_list_warm(client, warm_pages):
    case = Case.objects.get(slug="sacral-1")
    case.discussion = "A longer discussion of the sacral lesion."
    case.save()
    # The unfiltered list, the home page and searches depend on every case; filtered lists do not.
    assert still_cached(client) == set(PAGES) - {"/cases/", "/cases/?q=finding"}


def test_renaming_a_region_retires_every_page(client, warm_pages):
    chest = Region.objects.get(slug="chest")
    chest.name = "Thorax"
    chest.save()
    assert still_cached(client) == set()
    regions = {value.value: value.label for value in client.get("/cases/").context["facets"].regions}
    assert regions["chest"] == "Thorax"
