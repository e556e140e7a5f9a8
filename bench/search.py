"""Search benchmark: ``/cases/?q=…`` against the unfiltered ``/cases/`` page, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/teaching_archive .venv/bin/python bench/search.py

Options: ``--cases`` (default 10,000), ``--repeat`` (default 60), ``--keep`` (leave the database).
It prints figures and asserts nothing.

Method
------
*Data.* A throwaway database, ``bench_search``, on the server ``DATABASE_URL`` names, created and
migrated through Django's test-database machinery (so the real database is never touched) and
dropped at the end. ``bench.generate.generate_archive`` fills it: the three seed cases, then
``--cases`` published cases and 5 % drafts, each with 3 findings, 4 differential items, 5 tags and
2 regions, British and American spellings mixed; the search documents and vectors are built by the
application's own refresh code. ``VACUUM ANALYZE`` follows, as autovacuum would in production.

*Measure.* Django's test ``Client`` (the whole request: URL routing, middleware, view, queries,
template rendering; no network), anonymous, ``DEBUG`` off. After two untimed warm-up rounds, each
round requests every URL once, in a fixed order, and ``--repeat`` rounds are timed, so the list and
the searches see the same conditions. The table shows the median (p50) and the 95th percentile (p95)
per URL, the number of matching cases and of SQL queries, and each search's p50 over the list's p50.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.generate import generate_archive  # noqa: E402
from bench.server import bench_database  # noqa: E402
from bench.stats import percentile  # noqa: E402

BENCH_DATABASE = "bench_search"
LIST_URL = "/cases/"
SEARCH_URLS = [
    ("British spelling", "/cases/?q=haemangioma"),
    ("American spelling", "/cases/?q=hemangioma"),
    ("spelling, 2 words", "/cases/?q=oesophageal+carcinoma"),
    ("abbreviation", "/cases/?q=EMH"),
    ("synonym phrase", "/cases/?q=giant+cell+tumor"),
    ("typo", "/cases/?q=chordona"),
    ("typo, 2 words", "/cases/?q=meningiona+dural"),
    ("q + region + modality", "/cases/?q=oedema&region=spine&modality=MR"),
    ("q + tag + sex + age", "/cases/?q=fracture&tag=pitfall&sex=F&age_min=40"),
    ("broad word", "/cases/?q=lesion"),
    ("broad, page 20", "/cases/?q=lesion&page=20"),
    ("no match", "/cases/?q=xylophone"),
]


def measure(client: Client, urls: list[str], repeat: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {url: [] for url in urls}
    for round_number in range(repeat + 2):
        for url in urls:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, url
            if round_number >= 2:  # two warm-up rounds
                timings[url].append(elapsed * 1000)
    return timings


def describe(client: Client, url: str) -> tuple[int, int]:
    """Matching cases (from the page's own count) and SQL queries of one request."""
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    marker = html.index('class="result-count">') + len('class="result-count">')
    return int(html[marker:].split(" ", 1)[0]), len(queries)


def run(n_cases: int, repeat: int) -> None:
    started = time.perf_counter()
    generate_archive(n_cases, drafts=n_cases // 20, seed=1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    elapsed = time.perf_counter() - started
    print(f"Generated {n_cases} published cases (+{n_cases // 20} drafts) in {elapsed:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('cases_casesearchdocument'))")
        print(f"Search documents, vectors and GIN index: {cursor.fetchone()[0]}")

    client = Client()
    urls = [LIST_URL, *(url for _label, url in SEARCH_URLS)]
    timings = measure(client, urls, repeat)
    list_p50 = statistics.median(timings[LIST_URL])
    print(f"\n{repeat} timed requests per URL, anonymous, server time (Django test client), ms\n")
    header = f"{'':24} {'URL':48} {'cases':>6} {'SQL':>4} {'p50':>7} {'p95':>7} {'p50/list':>9}"
    print(header)
    print("-" * len(header))
    for label, url in [("unfiltered list", LIST_URL), *SEARCH_URLS]:
        matches, queries = describe(client, url)
        p50, p95 = statistics.median(timings[url]), percentile(timings[url], 0.95)
        print(
            f"{label:24} {url:48} {matches:>6} {queries:>4} {p50:>7.1f} {p95:>7.1f} {p50 / list_p50:>8.2f}x"
        )
    searches = [statistics.median(timings[url]) for _label, url in SEARCH_URLS]
    print(
        f"\nSearch p50: median {statistics.median(searches):.1f} ms, worst {max(searches):.1f} ms; "
        f"list p50 {list_p50:.1f} ms; worst search / list = {max(searches) / list_p50:.2f}x (goal: within 2x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the bench_search database afterwards")
    args = parser.parse_args()
    # A throwaway MEDIA_ROOT: the generated archive's shared image files must not land in media/.
    with (
        bench_database(BENCH_DATABASE, keep=args.keep),
        tempfile.TemporaryDirectory(prefix="bench-search-media-") as media,
        override_settings(MEDIA_ROOT=media),
    ):
        run(args.cases, args.repeat)


if __name__ == "__main__":
    main()
