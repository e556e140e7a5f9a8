"""Counting a page's queries, and archives of many cases to count them on."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

# Logged in, the home page reads the user's assignments too (programme); the key images of a page's
# cards cost one query more on every list (issue 19), which took the home page from 12 to 13. A list
# filtered by tag reads the tag's id before it looks the id up in the facet sets (issue 21): 9.
MAX_QUERIES = {"anonymous": 9, "logged_in": 13}


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
