"""Page benchmark: server time, SQL queries and page weight of the archive's pages, at two sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/teaching_archive .venv/bin/python bench/pages.py

Options: ``--cases-small`` (default 1,000) and ``--cases-large`` (default 10,000) published cases,
``--cold`` / ``--cold-databases`` (the cold table only, below), ``--database`` (the throwaway
database's name),
``--repeat`` (default 40) timed rounds, ``--quick`` (200 and 1,000 cases, 10 rounds: for iterating),
``--resident`` (measure logged in as a resident instead of anonymous), ``--keep`` (leave the
database). It prints figures and asserts nothing.

Method
------
*Data.* A throwaway PostgreSQL database, ``bench_pages``, on the server ``DATABASE_URL`` names,
created and migrated through Django's test-database machinery (the real database is never touched)
and dropped at the end; media go to a temporary folder. ``bench.generate.generate_archive`` fills
it: the three seed cases, then ``--cases-small`` published cases and 5 % drafts, each with 3
findings, 4 differential items, 5 tags, 2 regions and one study of 2 series of 3 images (rows
pointing at a few small shared PNG files). Then it grows the same database to ``--cases-large``
and measures again. ``VACUUM ANALYZE`` follows each generation, as autovacuum would in production.

*Pages.* ``/``, ``/cases/``, ``/cases/?region=spine&modality=MR``, ``/cases/?q=haemangioma``, the
first generated case's page, its quiz page and its final diagnosis's page; the same case at both
sizes.

*Floor.* For every page, a bare view (no query, no context processor work beyond Django's own
middleware) that renders, through the same template engine, a template producing the same number
of bytes as that page: lines of text from a list in the context, so that rendering cost grows with
the size as it does for a real page. Its URL exists only in a urlconf this benchmark installs
(``ROOT_URLCONF`` pointed at a module built here: the project's patterns plus ``/__floor__/<bytes>/``);
the production urlconf has no floor.

*Measure.* Django's test ``Client`` (the whole request: routing, middleware, view, queries,
template rendering; no network), anonymous, ``DEBUG`` off. Two untimed warm-up rounds, then
``--repeat`` timed rounds, each requesting every page and every floor once in a fixed order, so
pages and floors see the same conditions. Reported per page: p50 and p95 in ms, p50 / floor p50,
and SQL queries of one request with a cold cache (``cache.clear()`` first) and with a warm one.
The pages keep facet counts and the home page's aggregates in Django's cache until the archive
changes, so the warm figures are what readers get between edits; the *cold* column is the first
request after an edit: ``cases.caching.archive_changed()`` (what every save of the archive calls)
before each of ``--repeat``/4 (at least 5) more requests per page, p50.

*Cold table* (``--cold``, issue 21). Only the first request after an edit, with an empty cache
(``cache.clear()`` before every request, not just the retirement an edit makes): home, ``/cases/``,
the list filtered by region + modality + tag, a search, ``/cases/?page=40``, a diagnosis page and
a case page, ``--cold-repeat`` rounds (default 15), p50 and the SQL queries of one request, at each
of ``--cold-sizes`` (default 1,000, 10,000 and 100,000 published cases, generated in stages with
seeds 1, 2, 3 …), with the ratio of the largest to the smallest and a check of at most 12 queries.
Then the same stages up to ``--sqlite-cases`` (default 10,000) on SQLite, in a child process with
a throwaway SQLite file, whose cold table is printed beside PostgreSQL's and whose counts (every
facet value of every list, the diagnosis page's two counts; searches only shown, as the two
backends match words differently by design) must equal PostgreSQL's for the same archive.
Generating 100,000 cases takes long (24 minutes on the shared 2-vCPU machine), so
``--cold-databases a,b,c`` measures archives kept by an earlier run (``--keep``, or
``bench/generate.py``) instead, rounds alternating between the archives so that every size sees the
same load of the machine. The page cache is Django's local-memory cache in this process, so that
a cache read is no SQL query in the counts.

*Page weight.* The case page's HTML plus every stylesheet and script it references (read from the
static files), raw and gzip-compressed; images are excluded, and counted separately: how many
``<img>`` the page has and how many of them the browser may defer (``loading="lazy"``).
"""

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The page cache in this one process: with the database cache every cache read would be a SQL query
# of its own in the counts, and Redis is not what this benchmark compares (bench/load.py measures it).
os.environ.setdefault("CACHE_BACKEND", "locmem")

import django

django.setup()
# whitenoise warns that collectstatic has not run: static files are read from the finders here.
warnings.filterwarnings("ignore", message="No directory at")

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import include, path  # noqa: E402

from bench.generate import generate_archive  # noqa: E402
from bench.server import bench_database  # noqa: E402
from bench.stats import percentile  # noqa: E402
from cases.caching import archive_changed  # noqa: E402
from cases.models import Case  # noqa: E402

BENCH_DATABASE = "bench_pages"
FLOOR_LINE = "Floor line of plain text, escaped like any variable, standing in for the content of a page.\n"
GOAL_TO_FLOOR = 3.0
GOAL_SEARCH_TO_LIST = 2.0
GOAL_QUERIES = 12
GOAL_WEIGHT_KB = 100
GOAL_COLD_GROWTH = 3.0
COLD_FILTER = "region=spine&modality=MR&tag=classic"

# A template producing ``size`` bytes: the lines come from the context, as a page's content does.
_FLOOR_TEMPLATE = engines["django"].from_string("{% for line in lines %}{{ line }}{% endfor %}{{ tail }}")


def floor_view(request, size: int):
    lines = [FLOOR_LINE] * (size // len(FLOOR_LINE))
    tail = "x" * (size - len(FLOOR_LINE) * len(lines))
    return HttpResponse(_FLOOR_TEMPLATE.render({"lines": lines, "tail": tail}, request))


# The benchmark's own urlconf: the project's URLs plus the floor, installed by override_settings.
bench_urls = types.ModuleType("bench_pages_urls")
bench_urls.urlpatterns = [
    path("__floor__/<int:size>/", floor_view),
    path("", include(settings.ROOT_URLCONF)),
]


def pages_of(case: Case) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("list", "/cases/"),
        ("list, region + modality", "/cases/?region=spine&modality=MR"),
        ("search", "/cases/?q=haemangioma"),
        ("case page", f"/cases/{case.slug}/"),
        ("quiz page", f"/cases/{case.slug}/quiz/"),
        ("diagnosis page", f"/diagnoses/{case.final_diagnosis.slug}/"),
    ]


def cold_pages_of(case: Case) -> list[tuple[str, str]]:
    """The pages of the cold table (issue 21): one of each kind a reader opens first after an edit."""
    return [
        ("home", "/"),
        ("list", "/cases/"),
        ("list, region + modality + tag", f"/cases/?{COLD_FILTER}"),
        ("search", "/cases/?q=haemangioma"),
        ("list, page 40", "/cases/?page=40"),
        ("diagnosis page", f"/diagnoses/{case.final_diagnosis.slug}/"),
        ("case page", f"/cases/{case.slug}/"),
    ]


def get(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


def query_counts(client: Client, url: str) -> tuple[int, int]:
    """SQL queries of one request with an empty cache, then of the next one (a warm cache)."""
    cache.clear()
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            get(client, url)
        counts.append(len(queries))
    return counts[0], counts[1]


def measure(client: Client, urls: list[str], repeat: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {url: [] for url in urls}
    for round_number in range(repeat + 2):
        for url in urls:
            started = time.perf_counter()
            get(client, url)
            elapsed = time.perf_counter() - started
            if round_number >= 2:  # two warm-up rounds
                timings[url].append(elapsed * 1000)
    return timings


def measure_cold(client: Client, urls: list[str], repeat: int) -> dict[str, list[float]]:
    """Each request right after the archive changed: every cached part is computed again."""
    timings: dict[str, list[float]] = {url: [] for url in urls}
    for _round in range(max(5, repeat // 4)):
        for url in urls:
            archive_changed()
            started = time.perf_counter()
            get(client, url)
            timings[url].append((time.perf_counter() - started) * 1000)
    return timings


def cold_round(client: Client, pages: list[tuple[str, str]], timings: dict[str, list[float]]) -> None:
    """Each page once, right after emptying the cache."""
    for _label, url in pages:
        cache.clear()
        started = time.perf_counter()
        get(client, url)
        timings.setdefault(url, []).append((time.perf_counter() - started) * 1000)


def cold_summary(client: Client, pages: list[tuple[str, str]], timings: dict[str, list[float]]) -> dict:
    """p50 of each page, the SQL queries of one cold request, and the counts the pages show."""
    rows = []
    for label, url in pages:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            get(client, url)
        rows.append(
            {"label": label, "url": url, "p50": statistics.median(timings[url]), "queries": len(queries)}
        )
    return {"rows": rows, "counts": shown_counts(client, pages)}


def measure_cold_table(client: Client, case: Case, repeat: int) -> dict:
    """p50 of each cold page with an empty cache (``cache.clear()`` before every request), the SQL
    queries of one such request, and the counts the pages show (to compare two databases)."""
    pages = cold_pages_of(case)
    timings: dict[str, list[float]] = {}
    get(client, pages[0][1])  # one untimed request: the connection and the templates are ready
    for _round in range(repeat):
        cold_round(client, pages, timings)
    return cold_summary(client, pages, timings)


def use_database(name: str) -> None:
    """Point the default connection at another database of the same server (reconnects lazily)."""
    connection.close()
    connection.settings_dict["NAME"] = name


def first_generated_case() -> Case:
    return Case.objects.select_related("final_diagnosis").filter(slug__startswith="bench-1-").earliest("pk")


def measure_kept_archives(names: list[str], client: Client, repeat: int) -> list[tuple[int, dict]]:
    """The cold table of archives generated before (``--keep``), rounds alternating between them so
    that every size sees the same load of a shared machine."""
    archives = []
    for name in names:
        use_database(name)
        pages = cold_pages_of(first_generated_case())
        get(client, pages[0][1])
        archives.append((name, Case.objects.published().count(), pages, {}))
    for _round in range(repeat):
        for name, _size, pages, timings in archives:
            use_database(name)
            cold_round(client, pages, timings)
    results = []
    for name, size, pages, timings in archives:
        use_database(name)
        results.append((size, cold_summary(client, pages, timings)))
    return results


def shown_counts(client: Client, pages: list[tuple[str, str]]) -> dict[str, dict]:
    """The counts each list page and the diagnosis page show: totals and every facet value."""
    counts = {}
    for _label, url in pages:
        cache.clear()
        context = get(client, url).context
        if "facets" in context:
            facets = context["facets"]
            counts[url] = {
                "total": facets.total,
                **{
                    f"{kind}:{value.value}": value.count
                    for kind in ("regions", "modalities", "diagnoses", "tags", "sexes")
                    for value in getattr(facets, kind)
                },
            }
        elif "final_count" in context:
            counts[url] = {"final": context["final_count"], "differential": context["differential_count"]}
    return counts


def print_cold_table(results: list[tuple[int, dict]], vendor: str) -> None:
    sizes = [size for size, _result in results]
    print(f"\nCold pages on {vendor}: empty cache before every request, p50 ms (SQL queries)\n")
    header = f"{'page':32}" + "".join(f"{f'{size:,}':>16}" for size in sizes) + f"{'ratio':>8}"
    print(header)
    print("-" * len(header))
    worst_ratio, most_queries = 0.0, 0
    for n, (label, _url) in enumerate((row["label"], row["url"]) for row in results[0][1]["rows"]):
        cells = [result["rows"][n] for _size, result in results]
        ratio = cells[-1]["p50"] / cells[0]["p50"]
        worst_ratio = max(worst_ratio, ratio)
        most_queries = max(most_queries, *(cell["queries"] for cell in cells))
        print(
            f"{label:32}"
            + "".join(f"{cell['p50']:>10.1f} ({cell['queries']:>2})" for cell in cells)
            + f"{ratio:>7.2f}x"
        )
    print(
        f"\nWorst {sizes[-1]:,} / {sizes[0]:,}: {worst_ratio:.2f}x (goal at most {GOAL_COLD_GROWTH:.0f}x); "
        f"most SQL queries on a cold page: {most_queries} (goal at most {GOAL_QUERIES})"
    )


def check_cold_queries(results: list[tuple[int, dict]]) -> None:
    for size, result in results:
        for row in result["rows"]:
            assert row["queries"] <= GOAL_QUERIES, (
                f"{row['label']} at {size:,} cases ran {row['queries']} SQL queries (at most {GOAL_QUERIES})"
            )


def page_weight(client: Client, url: str) -> dict:
    html = get(client, url).content
    text = html.decode()
    assets = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', text)
    assets += re.findall(r'<script[^>]+src="([^"]+)"', text)
    files = {}
    for asset in dict.fromkeys(assets):
        found = finders.find(asset.removeprefix(settings.STATIC_URL))
        files[asset] = Path(found).read_bytes() if found else b""
    images = re.findall(r"<img\b[^>]*>", text)
    return {
        "html": len(html),
        "html_gzip": len(gzip.compress(html)),
        "assets": {name: (len(content), len(gzip.compress(content))) for name, content in files.items()},
        "total": len(html) + sum(len(content) for content in files.values()),
        "total_gzip": len(gzip.compress(html)) + sum(len(gzip.compress(c)) for c in files.values()),
        "images": len(images),
        "lazy_images": sum('loading="lazy"' in tag for tag in images),
        "image_urls": [re.search(r'src="([^"]+)"', tag).group(1) for tag in images],
    }


def run_size(client: Client, case: Case, repeat: int) -> dict:
    pages = pages_of(case)
    sizes = {url: len(get(client, url).content) for _label, url in pages}
    floors = {url: f"/__floor__/{size}/" for url, size in sizes.items()}
    for url, floor in floors.items():
        assert len(get(client, floor).content) == sizes[url], "the floor must be the page's size"
    timings = measure(client, [u for _l, u in pages] + list(dict.fromkeys(floors.values())), repeat)
    cold_timings = measure_cold(client, [u for _l, u in pages], repeat)
    rows = []
    for label, url in pages:
        cold, warm = query_counts(client, url)
        page, floor = timings[url], timings[floors[url]]
        rows.append(
            {
                "label": label,
                "url": url,
                "bytes": sizes[url],
                "p50": statistics.median(page),
                "p95": percentile(page, 0.95),
                "floor_p50": statistics.median(floor),
                "floor_p95": percentile(floor, 0.95),
                "cold_p50": statistics.median(cold_timings[url]),
                "cold": cold,
                "warm": warm,
            }
        )
    return {"rows": rows, "matching": matching_cases(client)}


def matching_cases(client: Client) -> dict[str, int]:
    counts = {}
    for url in ("/cases/", "/cases/?region=spine&modality=MR", "/cases/?q=haemangioma"):
        html = get(client, url).content.decode()
        marker = html.index('class="result-count">') + len('class="result-count">')
        counts[url] = int(re.search(r"\d+", html[marker:]).group())  # "More than 500 …": a broad search
    return counts


def print_table(title: str, result: dict) -> None:
    rows = result["rows"]
    print(f"\n{title}\n")
    header = (
        f"{'page':24} {'KB':>6} {'p50':>7} {'p95':>7} {'floor p50':>9} {'floor p95':>9} "
        f"{'p50/floor':>9} {'cold p50':>8} {'SQL cold':>8} {'SQL warm':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['label']:24} {row['bytes'] / 1024:>6.1f} {row['p50']:>7.1f} {row['p95']:>7.1f} "
            f"{row['floor_p50']:>9.1f} {row['floor_p95']:>9.1f} {row['p50'] / row['floor_p50']:>8.2f}x "
            f"{row['cold_p50']:>8.1f} {row['cold']:>8} {row['warm']:>8}"
        )
    by_label = {row["label"]: row for row in rows}
    search, listing = by_label["search"], by_label["list"]
    worst = max((row for row in rows if row["label"] != "search"), key=lambda r: r["p50"] / r["floor_p50"])
    print(
        f"\nWorst page / floor: {worst['label']} {worst['p50'] / worst['floor_p50']:.2f}x "
        f"(goal within {GOAL_TO_FLOOR:.0f}x); search / list: {search['p50'] / listing['p50']:.2f}x "
        f"(goal within {GOAL_SEARCH_TO_LIST:.0f}x); most queries: "
        f"{max(max(row['cold'], row['warm']) for row in rows)} (goal at most {GOAL_QUERIES})"
    )
    print(
        "First request after an edit (cold p50): worst page / floor "
        f"{max(row['cold_p50'] / row['floor_p50'] for row in rows if row['label'] != 'search'):.1f}x, "
        f"search / list {search['cold_p50'] / listing['cold_p50']:.2f}x"
    )
    print("Matching cases: " + ", ".join(f"{url} {count}" for url, count in result["matching"].items()))


def print_comparison(small: tuple[int, dict], large: tuple[int, dict]) -> None:
    (n_small, small_result), (n_large, large_result) = small, large
    print(f"\nSQL queries per page, {n_small:,} against {n_large:,} cases (cold / warm cache)\n")
    for a, b in zip(small_result["rows"], large_result["rows"], strict=True):
        same = "same" if (a["cold"], a["warm"]) == (b["cold"], b["warm"]) else "DIFFERENT"
        print(f"{a['label']:24} {a['cold']:>3} / {a['warm']:<3} {b['cold']:>3} / {b['warm']:<3} {same}")


def print_weight(weight: dict, url: str) -> None:
    print(f"\nPage weight of the case page {url} (images excluded)\n")
    print(f"{'HTML':40} {weight['html'] / 1024:>7.1f} KB  gzip {weight['html_gzip'] / 1024:>6.1f} KB")
    for name, (raw, packed) in weight["assets"].items():
        print(f"{name:40} {raw / 1024:>7.1f} KB  gzip {packed / 1024:>6.1f} KB")
    print(
        f"{'total':40} {weight['total'] / 1024:>7.1f} KB  gzip {weight['total_gzip'] / 1024:>6.1f} KB "
        f"(goal at most {GOAL_WEIGHT_KB} KB)"
    )
    print(
        f'Images in the HTML: {weight["images"]}, of them loading="lazy": {weight["lazy_images"]}; '
        f"sources: {', '.join(weight['image_urls'][:4])}{' …' if len(weight['image_urls']) > 4 else ''}"
    )


def grow_to(total: int, have: int, seed: int) -> list[int]:
    started = time.perf_counter()
    ids = generate_archive(total - have, drafts=(total - have) // 20, seed=seed)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"\nGenerated {total - have:,} published cases (+{(total - have) // 20} drafts), "
        f"{total:,} in all, in {time.perf_counter() - started:.0f} s"
    )
    return ids


def run(small: int, large: int, repeat: int, *, resident: bool = False) -> None:
    started = time.perf_counter()
    client = Client()
    who = "anonymous"
    if resident:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        user = get_user_model().objects.create_user("bench-resident")
        user.groups.add(Group.objects.get(name="resident"))
        client.force_login(user)
        who = "logged in as a resident"
    ids = grow_to(small, 0, seed=1)
    case = Case.objects.select_related("final_diagnosis").get(pk=ids[0])
    results = []
    for size, seed in ((small, None), (large, 2)):
        if seed is not None:
            grow_to(size, small, seed=seed)
        cache.clear()
        result = run_size(client, case, repeat)
        print_table(
            f"{size:,} published cases: {repeat} timed requests per page, {who}, "
            "server time (Django test client), ms",
            result,
        )
        results.append((size, result))
        if seed is None:
            weight = page_weight(client, f"/cases/{case.slug}/")
    print_comparison(*results)
    print_weight(weight, f"/cases/{case.slug}/")
    print(f"\nWhole benchmark: {time.perf_counter() - started:.0f} s")


def grow_in_stages(sizes: list[int], client: Client, repeat: int) -> list[tuple[int, dict]]:
    """Generate the archive size by size (seed 1 for the first stage, 2 for the next …, so two
    databases grown through the same sizes hold the same archive) and take the cold table at each."""
    results, have, case = [], 0, None
    for seed, size in enumerate(sizes, start=1):
        ids = grow_to(size, have, seed=seed)
        have = size
        if case is None:
            case = Case.objects.select_related("final_diagnosis").get(pk=ids[0])
        cache.clear()
        results.append((Case.objects.published().count(), measure_cold_table(client, case, repeat)))
    return results


def run_sqlite(sizes: list[int], repeat: int) -> list[tuple[int, dict]]:
    """The same stages on SQLite, in a child process (the database is chosen when Django starts)."""
    with tempfile.TemporaryDirectory(prefix="bench-pages-sqlite-") as folder:
        out = Path(folder) / "cold.json"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3"}
        command = [sys.executable, __file__, "--sqlite-child", str(out), "--repeat", str(repeat)]
        subprocess.run([*command, "--cold-sizes", ",".join(map(str, sizes))], env=env, check=True)
        return [(size, result) for size, result in json.loads(out.read_text())]


def sqlite_child(out: str, sizes: list[int], repeat: int) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    setup_test_environment(debug=False)
    with (
        tempfile.TemporaryDirectory(prefix="bench-pages-media-") as media,
        override_settings(ROOT_URLCONF=bench_urls, MEDIA_ROOT=media, DEBUG=False),
    ):
        results = grow_in_stages(sizes, Client(), repeat)
    Path(out).write_text(json.dumps(results))


def compare_counts(size: int, postgresql: dict, sqlite: dict) -> None:
    """Every count a page shows must be the same on both databases, search aside: the two backends
    match words differently by design (stems against word prefixes, docs/search.md)."""
    print(f"\nCounts shown at {size:,} cases, PostgreSQL against SQLite\n")
    differing = []
    for url, counts in postgresql["counts"].items():
        other = sqlite["counts"].get(url)
        same = counts == other
        label = "search, compared only" if "q=" in url else ("same" if same else "DIFFERENT")
        total = counts.get("total", counts.get("final"))
        other_total = (other or {}).get("total", (other or {}).get("final"))
        print(f"{url:48} {total!s:>7} {other_total!s:>7}  {len(counts)} values  {label}")
        if not same and "q=" not in url:
            differing.append(url)
    assert not differing, f"SQLite shows other counts than PostgreSQL on {differing}"


def print_side_by_side(size: int, postgresql: dict, sqlite: dict) -> None:
    print(f"\nCold pages at {size:,} cases, p50 ms (SQL queries)\n")
    print(f"{'page':32}{'PostgreSQL':>16}{'SQLite':>16}")
    for pg_row, lite_row in zip(postgresql["rows"], sqlite["rows"], strict=True):
        print(
            f"{pg_row['label']:32}{pg_row['p50']:>10.1f} ({pg_row['queries']:>2})"
            f"{lite_row['p50']:>10.1f} ({lite_row['queries']:>2})"
        )


def run_cold(
    results: list[tuple[int, dict]], stages: list[int], repeat: int, sqlite_size: int | None
) -> None:
    """Print PostgreSQL's cold table, then (``sqlite_size``) generate the same stages up to that size
    on SQLite and compare. Sizes are published cases, the seed archive's included."""
    started = time.perf_counter()
    print_cold_table(results, "PostgreSQL")
    if sqlite_size:
        sqlite_results = run_sqlite([size for size in stages if size < sqlite_size] + [sqlite_size], repeat)
        print_cold_table(sqlite_results, "SQLite")
        size, sqlite = sqlite_results[-1]
        postgresql = dict(results).get(size)
        if postgresql is None:
            print(f"\n(no PostgreSQL archive of {size:,} published cases to compare with)")
        else:
            print_side_by_side(size, postgresql, sqlite)
            compare_counts(size, postgresql, sqlite)
    check_cold_queries(results)
    print(f"\nWhole cold benchmark: {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases-small", type=int, default=1_000)
    parser.add_argument("--cases-large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="200 and 1,000 cases, 10 rounds")
    parser.add_argument("--keep", action="store_true", help="keep the bench_pages database afterwards")
    parser.add_argument("--resident", action="store_true", help="measure logged in as a resident")
    parser.add_argument("--cold", action="store_true", help="only the cold table (issue 21), at --cold-sizes")
    parser.add_argument(
        "--cold-sizes",
        default="1000,10000,100000",
        help="generated published cases at each stage (also SQLite's stages with --cold-databases)",
    )
    parser.add_argument("--cold-repeat", type=int, default=15, help="cold requests per page and stage")
    parser.add_argument("--sqlite-cases", type=int, default=10_000, help="SQLite's last stage (0: none)")
    parser.add_argument("--database", default=BENCH_DATABASE, help="the throwaway database's name")
    parser.add_argument(
        "--cold-databases",
        help="only the cold table, of archives kept by earlier runs (comma-separated database names)",
    )
    parser.add_argument("--sqlite-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cold_sizes = [int(size) for size in args.cold_sizes.split(",")]
    if args.sqlite_child:
        sqlite_child(args.sqlite_child, cold_sizes, args.repeat)
        return
    if args.cold_databases:
        setup_test_environment(debug=False)
        with override_settings(ROOT_URLCONF=bench_urls, DEBUG=False):
            results = measure_kept_archives(args.cold_databases.split(","), Client(), args.cold_repeat)
            run_cold(results, cold_sizes, args.cold_repeat, args.sqlite_cases or None)
        return
    if args.cold:
        with (
            bench_database(args.database, keep=args.keep),
            tempfile.TemporaryDirectory(prefix="bench-pages-media-") as media,
            override_settings(ROOT_URLCONF=bench_urls, MEDIA_ROOT=media, DEBUG=False),
        ):
            results = grow_in_stages(cold_sizes, Client(), args.cold_repeat)
            run_cold(results, cold_sizes, args.cold_repeat, args.sqlite_cases or None)
        return
    if args.quick:
        args.cases_small, args.cases_large, args.repeat = 200, 1_000, 10
    with (
        bench_database(args.database, keep=args.keep),
        tempfile.TemporaryDirectory(prefix="bench-pages-media-") as media,
        override_settings(ROOT_URLCONF=bench_urls, MEDIA_ROOT=media, DEBUG=False),
    ):
        run(args.cases_small, args.cases_large, args.repeat, resident=args.resident)


if __name__ == "__main__":
    main()
