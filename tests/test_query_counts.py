"""List pages run a fixed number of queries however many cases the archive holds.

Counts are taken twice: cold (the cache emptied first, so every cached aggregate is computed) and
warm (the same request again, served partly from the cache). Both must not grow with the archive,
and the warm one must be lower: the facet counts and the region tree come from the cache.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.services import images_ingest, series_create

pytestmark = pytest.mark.django_db

LIST_PAGES = [
    "/",
    "/cases/",
    "/cases/?region=spine&modality=MR",
    "/cases/?tag=bone&sex=F&age_min=10",
    "/regions/spine/",
    "/diagnoses/",
    "/diagnoses/chordoma/",
    "/tags/bone/",
]
MAX_QUERIES = {"anonymous": 8, "logged_in": 12}
# Pages without a cached aggregate (a tag's page is its rows and a count): warm equals cold there.
UNCACHED_PAGES = {"/tags/bone/"}


def add_cases(make_case, region_tree, chordoma, count: int, start: int = 0):
    for n in range(start, start + count):
        make_case(
            slug=f"bulk-{n}",
            age=20 + n % 50,
            sex="F",
            findings=["CR", "MR", "CT"],
            regions=[region_tree["sacrum"], region_tree["lumbar"]],
            tags=["bone", f"tag-{n}"],
            final_diagnosis=chordoma,
            differential=[chordoma],
        )


def count_queries(client, url: str) -> int:
    """Queries of one request with a cold cache (emptied first)."""
    cache.clear()
    return count_warm_queries(client, url)


def count_warm_queries(client, url: str) -> int:
    """Queries of one request with the cache as it is."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["anonymous", "logged_in"])
def test_query_count_does_not_grow_with_the_number_of_cases(
    client, make_case, region_tree, diagnosis, faculty, who, django_assert_max_num_queries
):
    if who == "logged_in":
        client.force_login(faculty)
    chordoma = diagnosis("Chordoma")
    add_cases(make_case, region_tree, chordoma, 3)
    few, few_warm = {}, {}
    for url in LIST_PAGES:
        few[url] = count_queries(client, url)
        few_warm[url] = count_warm_queries(client, url)
    add_cases(make_case, region_tree, chordoma, 40, start=3)
    assert Case.objects.count() == 43
    for url in LIST_PAGES:
        with django_assert_max_num_queries(MAX_QUERIES[who]):
            many = count_queries(client, url)
        assert many == few[url], f"{url}: {few[url]} queries with 3 cases, {many} with 43"
        many_warm = count_warm_queries(client, url)
        assert many_warm == few_warm[url], f"{url}: warm, {few_warm[url]} with 3 cases, {many_warm} with 43"
        if url in UNCACHED_PAGES:
            assert many_warm == many
        else:
            assert many_warm < many, f"{url}: {many_warm} queries warm, {many} cold: nothing from the cache"


def test_case_page_query_count_is_fixed(
    client, make_case, region_tree, diagnosis, django_assert_max_num_queries
):
    chordoma = diagnosis("Chordoma")
    add_cases(make_case, region_tree, chordoma, 30)
    case = Case.objects.get(slug="bulk-0")
    mr = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
    for label in ("Axial T1", "Axial T2"):
        series = series_create(case=case, label=label, modality="MR")
        images_ingest(series=series, files=[InputFile(f"{n}.dcm", mr) for n in range(3)])
    # case, regions, tags, findings, differential, references, studies, series, images, overlays, related
    with django_assert_max_num_queries(11):
        html = client.get("/cases/bulk-0/").content.decode()
    assert html.count('class="stack-viewer"') == 2
