"""Load benchmark (issue #8, "Under load"): gunicorn on PostgreSQL under wrk, over a mix of pages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/teaching_archive .venv/bin/python bench/load.py

Options: ``--duration`` seconds of measured load (default 60), ``--connections`` (default 32),
``--cases`` published cases (default 10,000), ``--warmup`` seconds (default 10), ``--cache``
``redis`` (default: the shared cache of a several-worker deployment), ``locmem`` (each worker its own)
or ``both``; ``--redis-url`` (default ``redis://127.0.0.1:6379/11``, emptied before each run);
``--quick`` (500 cases, 10 s, 3 s warm-up: for iterating on the bench itself); ``--keep`` (leave the
database). It prints figures and asserts nothing.

Method
------
*Data.* A throwaway database, ``bench_load``, on the server ``DATABASE_URL`` names, created and migrated
through Django's test-database machinery (the database DATABASE_URL names is never touched) and dropped
at the end. ``bench.generate.generate_archive`` fills it with ``--cases`` published cases and 5 % drafts
(plus the three seed cases); ``VACUUM ANALYZE`` follows, as autovacuum would in production.

*Server.* As the Deploying section says: ``collectstatic``, then ``gunicorn config.wsgi`` with the
repository's ``gunicorn.conf.py`` (one worker per core, four threads each, persistent database
connections with health checks), ``DEBUG=0``, a random ``SECRET_KEY``, ``ALLOWED_HOSTS=127.0.0.1``,
``REDIS_URL`` for the shared cache, bound to a free loopback port. Every request carries
``X-Forwarded-Proto: https``, as from the proxy that terminates TLS (without it the production settings
redirect to https).

*Load.* wrk (``bench/wrk_mix.lua``) on the same machine, two threads, ``--connections`` keep-alive
connections, anonymous, each connection sending its next request as soon as the last is answered. The
paths cycle in rounds of seven — ``/``, ``/cases/``, ``/cases/?region=…&modality=…``, ``/cases/?q=…``,
a case page, that case's quiz page ``/cases/<slug>/quiz/``, a diagnosis page — over 100 rounds with
different cases, filters, searches and diagnoses. A warm-up run (discarded) precedes the measured
one. wrk's own time-out is raised to 30 s, so a slow answer is measured, not counted as an error.

*Figures.* From wrk: requests/s, client-side latency p50/p90/p99/max, errors (responses other than
2xx/3xx, and connect/read/write errors and time-outs), responses by status. From gunicorn's access log:
the server's time per page kind (p50/p99), so the slow pages can be told apart. The machine is shared
and wrk runs on it too: compare figures within one run.
"""

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.stats import percentile  # noqa: E402
from bench.work import django_in_work_folder  # noqa: E402 (needs the path above)

BENCH_DATABASE = "bench_load"
WRK_THREADS = 2
ROUNDS = 100
SEARCHES = [
    "haemangioma",
    "hemangioma",
    "EMH",
    "giant cell tumor",
    "oedema",
    "fracture",
    "chordona",
    "metastasis",
    "disc herniation",
    "lesion",
]
KINDS = ["home", "list", "filtered", "search", "case", "quiz", "diagnosis", "other"]


def kind_of(path: str) -> str:
    if path == "/":
        return "home"
    if path == "/cases/":
        return "list"
    if path.startswith("/cases/?"):
        return "search" if "q=" in path else "filtered"
    if re.fullmatch(r"/cases/[\w-]+/quiz/", path):
        return "quiz"
    if re.fullmatch(r"/cases/[\w-]+/", path):
        return "case"
    if path.startswith("/diagnoses/"):
        return "diagnosis"
    return "other"


def build_paths(rounds: int, seed: int) -> list[str]:
    """``rounds`` rounds of the seven pages, each round with other cases, filters and searches."""
    from urllib.parse import urlencode

    from cases.models import Case, Diagnosis, Finding, Region

    rng = random.Random(seed)
    published = Case.objects.published()
    slugs = list(published.order_by("pk").values_list("slug", flat=True))
    cases = rng.sample(slugs, min(rounds, len(slugs)))
    diagnoses = list(
        Diagnosis.objects.filter(final_cases__in=published)
        .distinct()
        .order_by("slug")
        .values_list("slug", flat=True)
    )
    regions = list(Region.objects.order_by("slug").values_list("slug", flat=True))
    modalities = sorted(set(Finding.objects.values_list("modality", flat=True).distinct()))
    paths = []
    for n in range(rounds):
        case = cases[n % len(cases)]
        filters = urlencode({"region": rng.choice(regions), "modality": rng.choice(modalities)})
        paths += [
            "/",
            "/cases/",
            f"/cases/?{filters}",
            f"/cases/?{urlencode({'q': SEARCHES[n % len(SEARCHES)]})}",
            f"/cases/{case}/",
            f"/cases/{case}/quiz/",
            f"/diagnoses/{diagnoses[n % len(diagnoses)]}/",
        ]
    return paths


def run_wrk(base: str, paths_file: Path, *, connections: int, seconds: int) -> tuple[dict[str, int], str]:
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "wrk_mix.lua"),
        base,
        "--",
        str(paths_file),
        str(WRK_THREADS),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = {}
    for line in result.stdout.splitlines():
        if line.startswith("MIX "):
            _mix, key, value = line.split()
            figures[key] = int(float(value))
    return figures, result.stdout


def server_times(access_log: Path, offset: int) -> dict[str, dict]:
    """Per page kind: the server's times (ms) and statuses, from the access log past ``offset``."""
    kinds: dict[str, dict] = {kind: {"times": [], "statuses": {}} for kind in KINDS}
    with access_log.open(errors="replace") as log:
        log.seek(offset)
        for line in log:
            match = re.match(r'(\d{3}) (\d+) "GET (\S+) HTTP', line)
            if not match:
                continue
            status, micros, path = match.groups()
            entry = kinds[kind_of(path)]
            entry["times"].append(int(micros) / 1000)
            entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
    return {kind: entry for kind, entry in kinds.items() if entry["times"]}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_one(work: Path, database_url: str, paths_file: Path, *, cache: str, redis_url: str, args) -> None:
    from bench.server import Gunicorn, redis_flush

    use_redis = cache == "redis" and redis_flush(redis_url)
    server = Gunicorn(work, database_url, redis_url=redis_url if use_redis else None)
    try:
        server.start()
        workers = server.worker_pids()
        threads = server.pool()[1]
        print(
            f"\n== cache: {'Redis (shared by the workers)' if use_redis else 'local memory (per worker)'}; "
            f"gunicorn: {len(workers)} workers x {threads} threads; wrk: {WRK_THREADS} threads, "
            f"{args.connections} connections"
        )
        run_wrk(server.base, paths_file, connections=args.connections, seconds=args.warmup)
        offset = server.access_log.stat().st_size
        before = load_average()
        figures, _raw = run_wrk(server.base, paths_file, connections=args.connections, seconds=args.duration)
        after = load_average()
        times = server_times(server.access_log, offset)
        restarted = server.worker_pids() != workers
        events = server.worker_events()
        errors = server.django_errors()
    finally:
        stopped = server.stop()
        if use_redis:
            redis_flush(redis_url)

    seconds = figures["duration_us"] / 1e6
    socket_errors = sum(figures[f"errors_{name}"] for name in ("connect", "read", "write", "timeout"))
    statuses = {key[7:]: value for key, value in figures.items() if key.startswith("status_")}
    print(f"load average before/after: {before} / {after}")
    rate = figures["requests"] / seconds
    print(
        f"{figures['requests']} requests in {seconds:.1f} s = {rate:.1f} requests/s, "
        f"{figures['bytes'] / seconds / 1e6:.2f} MB/s"
    )
    print(
        "latency (client, ms): "
        f"p50 {figures['latency_p50_us'] / 1000:.0f}, p90 {figures['latency_p90_us'] / 1000:.0f}, "
        f"p99 {figures['latency_p99_us'] / 1000:.0f}, max {figures['latency_max_us'] / 1000:.0f}"
    )
    print(
        f"errors: {figures['errors_status']} non-2xx/3xx responses, {socket_errors} socket errors "
        f"(connect {figures['errors_connect']}, read {figures['errors_read']}, "
        f"write {figures['errors_write']}, timeout {figures['errors_timeout']}); responses by status: "
        + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    )
    print(f"gunicorn stopped with SIGTERM, exit status {stopped}")
    if restarted or any(events.values()):
        print("gunicorn workers: " + ", ".join(f"{name} {n}" for name, n in events.items()))
    for line, count in sorted(errors.items(), key=lambda item: -item[1]):
        print(f"server error x{count}: {line}")
    print("\nserver time per page kind (gunicorn access log, ms):")
    print(f"{'page':10} {'requests':>8} {'p50':>7} {'p99':>7}  statuses")
    for kind, entry in times.items():
        values = entry["times"]
        print(
            f"{kind:10} {len(values):>8} {statistics.median(values):>7.1f} {percentile(values, 0.99):>7.1f}  "
            + ", ".join(f"{code}: {n}" for code, n in sorted(entry["statuses"].items()))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of measured load (default 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=10, help="seconds of discarded load first (default 10)")
    parser.add_argument("--cache", choices=["redis", "locmem", "both"], default="redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--quick", action="store_true", help="500 cases, 10 s, 3 s warm-up")
    parser.add_argument("--keep", action="store_true", help="keep the bench_load database afterwards")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/load.py needs wrk (Debian: apt-get install -y wrk)")
    if args.quick:
        args.cases, args.duration, args.warmup = 500, 10, 3

    started = time.monotonic()
    with django_in_work_folder("bench_load_") as work:
        from django.db import connection

        from bench.generate import generate_archive
        from bench.server import bench_database, collect_static

        with bench_database(BENCH_DATABASE, keep=args.keep) as database_url:
            generated = time.monotonic()
            generate_archive(args.cases, drafts=args.cases // 20, seed=1)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            print(
                f"Generated {args.cases} published cases (+{args.cases // 20} drafts) "
                f"in {time.monotonic() - generated:.0f} s"
            )
            paths = build_paths(ROUNDS, seed=8)
            paths_file = work / "paths.txt"
            paths_file.write_text("\n".join(paths) + "\n")
            connection.close()  # the bench holds no connection while the server is measured
            collect_static(work / "static")
            print(
                f"Mix: {len(paths)} paths, {ROUNDS} rounds of {', '.join(kind_of(p) for p in paths[:7])}; "
                f"{args.warmup} s warm-up, then {args.duration} s measured"
            )
            for cache in ["redis", "locmem"] if args.cache == "both" else [args.cache]:
                run_one(work, database_url, paths_file, cache=cache, redis_url=args.redis_url, args=args)
    print(f"\nWhole benchmark (generation, runs, clean-up): {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
