"""The cluster bench's figures, printed after the cluster is stopped: wrk's, the proxy's (its access log,
before and after the kill), the servers' time per page kind, and what the clients saw."""

import os
import statistics

from bench.stats import percentile


def print_setup(args, *, versions: dict, pool: tuple[int, int], wrk_threads: int) -> None:
    print("\nVersions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    print(
        f"Hosts: nginx proxy -> 2 application hosts (gunicorn, {pool[0]} workers x {pool[1]} threads each), "
        "1 task worker, PostgreSQL, Redis, SeaweedFS: 7 hosts (namespaces) sharing this machine's "
        f"{os.cpu_count()} CPUs with wrk and the clients"
    )
    print(
        f"Load: wrk {wrk_threads} threads x {args.connections} connections for {args.duration:.0f} s, "
        f"{args.residents} residents answering quizzes, "
        + (
            f"1 faculty member uploading a {args.slices}-slice series every {args.upload_gap:g} s"
            if args.upload_gap
            else "no uploads"
        )
        + "; app1 killed halfway"
    )


def print_wrk(wrk: dict) -> None:
    seconds = wrk["duration_us"] / 1e6
    print(
        f"\nwrk: {wrk['requests']} requests, {wrk['requests'] / seconds:.1f} requests/s; latency ms p50 "
        f"{wrk['latency_p50_us'] / 1000:.0f}, p90 {wrk['latency_p90_us'] / 1000:.0f}, "
        f"p99 {wrk['latency_p99_us'] / 1000:.0f}, max {wrk['latency_max_us'] / 1000:.0f}"
    )
    statuses = {key[7:]: value for key, value in wrk.items() if key.startswith("status_")}
    sockets = {name: wrk[f"errors_{name}"] for name in ("connect", "read", "write", "timeout")}
    print(
        f"wrk errors: {wrk['errors_status']} non-2xx/3xx answers; socket errors "
        + ", ".join(f"{name} {n}" for name, n in sockets.items())
        + "; answers by status: "
        + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    )


def _counted(values) -> str:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items()))


def print_proxy(records: list, cuts: list, *, begin: float, end: float, kill, hosts: dict[str, str]) -> None:
    """``records``: nginx's log of the measured run, shown before and after the kill; ``hosts``: name ->
    upstream address."""
    print("\nproxy (nginx access log: wrk and the clients, the measured run):")
    names = list(hosts)
    print(
        f"{'phase':12} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        + " ".join(f"{'on ' + name:>8}" for name in names)
        + "  statuses"
    )
    for label, start, stop in [("before kill", begin, kill.at_wall), ("after kill", kill.at_wall, end)]:
        rows = [r for r in records if start <= r.started < stop]
        if not rows:
            continue
        times = [1000 * (r.ended - r.started) for r in rows]
        answered = [sum(1 for r in rows if r.upstreams and r.upstreams[-1] == hosts[name]) for name in names]
        print(
            f"{label:12} {len(rows):>8} {len(rows) / (stop - start):>7.1f} {statistics.median(times):>7.0f} "
            f"{percentile(times, 0.99):>7.0f} "
            + " ".join(f"{n:>8}" for n in answered)
            + "  "
            + _counted(r.status for r in rows)
        )
    retried = [r for r in records if r.retried]
    at_kill = [r for r in retried if kill.holds_proxy(r)]
    print(
        f"passed on to the other host after the first failed: {len(retried)} requests "
        f"({_counted(r.method for r in retried) or 'none'}); {len(at_kill)} were under way at the kill, "
        f"{len(retried) - len(at_kill)} came later and met the dead host first"
    )
    errors = [r for r in records if r.status >= 500]
    kinds = _counted(f"{r.method} {r.path.split('?')[0]} {r.status}" for r in errors)
    print(f"5xx answers: {len(errors)}" + (f" ({kinds})" if errors else ""))
    print(
        f"answers cut off mid-way (nginx closed the client's connection): {len(cuts)}, "
        f"{sum(1 for c in cuts if kill.holds_cut(c))} of them by the kill"
    )
    gone = sum(1 for r in records if r.status == 499)
    if gone:
        print(f"499 (the client closed first): {gone}, wrk's connections closed at its end")


def print_server_times(times: dict[str, list[float]]) -> None:
    print("\nserver time per page kind (GET, gunicorn access logs of both hosts, ms):")
    print(f"{'page':10} {'requests':>8} {'p50':>7} {'p99':>7}")
    for kind, values in times.items():
        print(
            f"{kind:10} {len(values):>8} {statistics.median(values):>7.1f} {percentile(values, 0.99):>7.1f}"
        )


def print_clients(records: list, quiz, uploads) -> None:
    print("\nclients' requests by kind (failed):")
    kinds: dict[str, list[int]] = {}
    for record in records:
        entry = kinds.setdefault(record.kind, [0, 0])
        entry[0] += 1
        entry[1] += record.outcome != "ok"
    print("  " + ", ".join(f"{kind} {n} ({bad})" for kind, (n, bad) in sorted(kinds.items())))
    for record in [r for r in records if r.outcome != "ok"][:10]:
        print(
            f"  {record.outcome} {record.client} {record.kind}, status {record.status}: "
            + " ".join(record.detail.split())[:80]  # an error page's first words, on one line
        )
    print(
        f"quiz answers: {len(quiz.sent)} sent, {len(quiz.attempts)} acknowledged, {len(quiz.failed)} not "
        f"({len(quiz.resent)} re-sent once, {len(quiz.resent - quiz.failed)} acknowledged then); overrides "
        f"{quiz.overrides_sent} sent, {len(quiz.overrides)} acknowledged; uploads: {len(uploads.sent)} sent, "
        f"{len(uploads.acknowledged)} acknowledged"
    )
