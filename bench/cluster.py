"""Cluster benchmark (issue #21, "Several hosts"): the archive on several hosts, one of them killed.

    sudo .venv/bin/python bench/cluster.py            (root: it makes network namespaces)

Options: ``--duration`` seconds of measured load (default 60; the kill comes halfway), ``--connections``
for wrk (default 16), ``--cases`` published cases (default 10,000), ``--residents`` answering quizzes
(default 3), ``--slices`` per uploaded series (default 4), ``--warmup`` seconds (default 5), ``--quick``
(1,000 cases, 15 s, 2 s warm-up: for trying the bench itself). It prints figures and one PASS/FAIL line per
check, and exits 1 when a check fails (correctness, never a time).

Method
------
*Hosts.* On this one machine, each in a network namespace of its own joined by veth pairs to a bridge
(``bench/multihost/network.py``; subnet 10.201.0.0/24, which the bench refuses to use when anything
routes it already): a proxy (Debian's nginx, 10.201.0.10, the configuration of
``bench/multihost/nginx.py``), two application hosts (``gunicorn config.wsgi`` with the repository's
``gunicorn.conf.py``, .11 and .12), a task-worker host (``manage.py db_worker``, .20), and the cluster's
own PostgreSQL (``initdb`` into a temporary folder, .30), Redis (shared cache and sessions, .31) and
SeaweedFS (S3, media and the upload quarantine in one private bucket, .32). Every host listens on its own
address only; the machine's own services (on the loopback of the bench's namespace) are neither used nor
reachable from the hosts. The bench itself, with its clients, is one more host (.1). Every host has the
same settings (``DATABASE_URL``, ``REDIS_URL``, ``S3_*``, one ``SECRET_KEY``, ``DEBUG=0``), as in
docs/deploying.md.

*Data.* ``migrate``, then ``bench.generate.generate_archive`` (``--cases`` published cases, 5 % drafts),
``VACUUM ANALYZE``, ``collectstatic``; a faculty account with a draft case of its own, and one resident
account per quiz client.

*Load.* For ``--duration`` seconds, all through the proxy: wrk with bench/wrk_mix.lua (the page mix of
bench/load.py: home, list, filter, search, case, quiz page, diagnosis; anonymous, keep-alive); residents
answering quizzes as in bench/faults.py (log in, open a quiz, POST a unique guess with the form's answer
key, re-send once the same form when not acknowledged, override every third mark); a faculty member
adding a new series of ``--slices`` CT slices (512 x 512, fresh UIDs) every two seconds through the
admin's upload, which the worker de-identifies, stores and renders. Halfway, application host 1 is
killed: SIGKILL to its gunicorn master and workers at once, as when a host dies. A warm-up (discarded)
precedes the measured run.

*Figures.* From wrk: requests/s and latency p50/p90/p99/max over the whole run, errors (non-2xx/3xx
answers, socket errors). From nginx's access log: every client's requests, requests/s and p50/p99 before
and after the kill, answers by status, and the requests nginx passed to the other host after the first
failed. From the clients: their requests by kind and outcome.

*Checks.* (1) Every acknowledged quiz answer and override is stored, with no half-written rows (the
checks of bench/faults.py). (2) Every acknowledged upload is stored and finished by the worker with all
its files accepted; the queue drains (no upload or task left queued, running or failed); every uploaded
image's file is in the bucket. (3) The only failures are requests under way on the killed host when it
died (from the SIGKILL until none of its processes is left): nginx passes idempotent requests on to the
other host, so those are POSTs; no socket error at wrk, no failed request before or after.

Everything it starts it stops by process id, and the namespaces and links it made are deleted, also on an
error, Ctrl-C or SIGTERM.
"""

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.multihost import report  # noqa: E402 (needs the path above)
from bench.multihost.checks import KillWindow  # noqa: E402
from bench.multihost.network import Network  # noqa: E402
from bench.multihost.processes import group_pids  # noqa: E402
from bench.multihost.services import APP_PORT  # noqa: E402

WRK_THREADS = 2
ROUNDS = 100
# What the outer environment may hold that would point the cluster at the machine's own services.
FOREIGN_SETTINGS = [
    "DATABASE_URL", "REDIS_URL", "CACHE_BACKEND", "MEDIA_ROOT", "QUARANTINE_ROOT", "STATIC_ROOT",
    "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION", "GUNICORN_BIND",
]  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, help="seconds of load (default 60); the kill comes halfway")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections (default 16)")
    parser.add_argument("--cases", type=int, help="published cases (default 10,000)")
    parser.add_argument("--residents", type=int, default=3, help="residents answering quizzes (default 3)")
    parser.add_argument("--slices", type=int, default=4, help="CT slices per uploaded series (default 4)")
    parser.add_argument(
        "--upload-gap", type=float, default=2, help="seconds between two uploads (default 2; 0: no uploads)"
    )
    parser.add_argument("--warmup", type=float, help="seconds of discarded load first (default 5)")
    parser.add_argument("--quick", action="store_true", help="1,000 cases, 15 s, 2 s warm-up (unless given)")
    args = parser.parse_args()
    defaults = (1000, 15, 2) if args.quick else (10_000, 60, 5)
    for name, default in zip(("cases", "duration", "warmup"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def missing_tools() -> list[str]:
    from bench.multihost.services import POSTGRES_BIN

    needed = ["ip", "setpriv", "nginx", "wrk", "redis-server", str(POSTGRES_BIN / "initdb")]
    return [tool for tool in needed if shutil.which(tool) is None]


@dataclass
class Site:
    """What the clients need to know of the generated archive."""

    archive: object  # bench.faults.Archive
    residents: list[str]
    faculty: str
    study_id: int
    paths_file: Path
    slices: list[list[Path]]


@dataclass
class Cluster:
    network: Network
    postgres: object = None
    redis: object = None
    seaweed: object = None
    apps: tuple = ()
    worker: object = None
    proxy: object = None
    wrk: object = None

    def stop(self) -> list[str]:
        """Stop, by pid, whatever was started (the load first, the data last); then delete the network."""
        stopped, problems = [], []
        for service in [
            self.wrk,
            self.proxy,
            *self.apps,
            self.worker,
            self.seaweed,
            self.redis,
            self.postgres,
        ]:
            if service is None:
                continue
            try:  # one that will not stop must not keep the others running
                code = service.stop()
            except Exception as error:
                problems.append(f"{service.name}: {error!r}")
            else:
                stopped.append(f"{service.name} {code}")
        problems += self.network.delete()
        for problem in problems:
            print(f"clean-up: {problem}")
        return stopped


def site_settings(cluster: Cluster, work: Path, database_url: str, redis_url: str, s3: dict) -> dict:
    """The settings every host shares (one secret key: a session or a form made on one host is valid on
    the other), pointing at the cluster's own services only."""
    proxy = cluster.network.address("proxy")
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **s3,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": proxy,
        "TRUSTED_PROXY_COUNT": "1",
        "GUNICORN_FORWARDED_ALLOW_IPS": proxy,
        "CACHE_KEY_PREFIX": "cluster-bench",
        "STATIC_ROOT": str(work / "static"),
        # With S3 nothing is written under these; the check below says so.
        "MEDIA_ROOT": str(work / "media"),
        "QUARANTINE_ROOT": str(work / "quarantine"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def prepare_site(args, work: Path) -> Site:
    """Migrate, generate the archive, make the accounts, and write the clients' inputs."""
    from django.core.management import call_command
    from django.db import connection

    from bench.server import collect_static

    call_command("migrate", verbosity=0)
    generate(args.cases)
    residents, faculty, study_id = make_accounts(args.residents)
    paths_file, slices = client_inputs(args, work)
    site = Site(archive_facts(), residents, faculty, study_id, paths_file, slices)
    connection.close()  # the bench holds no connection while the cluster is measured
    collect_static(work / "static")
    return site


def generate(cases: int) -> None:
    from django.db import connection

    from bench.generate import generate_archive

    started = time.monotonic()
    generate_archive(cases, drafts=cases // 20, seed=1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would, in production
    print(f"Generated {cases} published cases (+{cases // 20} drafts) in {time.monotonic() - started:.0f} s")


def make_accounts(residents: int) -> tuple[list[str], str, int]:
    """Resident accounts, and a faculty account with a draft case of its own to upload into; returns the
    residents' and the faculty member's user names and the id of that case's study."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from bench.faults import RESIDENT_PASSWORD
    from bench.multihost.clients import FACULTY_PASSWORD
    from cases.models import Case
    from imaging.services import series_create

    User = get_user_model()
    names = [f"cluster-resident-{n}" for n in range(1, residents + 1)]
    password = make_password(RESIDENT_PASSWORD)  # hashed once: the hash is slow on purpose
    for name in names:
        User.objects.create(username=name, password=password).groups.add(Group.objects.get(name="resident"))
    faculty = User.objects.create(
        username="cluster-faculty", password=make_password(FACULTY_PASSWORD), is_staff=True
    )
    faculty.groups.add(Group.objects.get(name="faculty"))
    draft = Case.objects.filter(status=Case.Status.DRAFT).order_by("pk").first()
    Case.objects.filter(pk=draft.pk).update(author=faculty)
    study_id = series_create(case=draft, label="Axial", modality="CT").study_id
    return names, faculty.username, study_id


def archive_facts():
    """What the quiz clients pick their cases and guesses from (``bench.faults.Archive``)."""
    from bench.faults import Archive
    from cases.models import Case, Diagnosis, Finding, Region

    published = Case.objects.published()
    return Archive(
        slugs=list(published.values_list("slug", flat=True)),
        diagnoses=list(
            Diagnosis.objects.filter(final_cases__in=published).distinct().values_list("slug", flat=True)
        ),
        diagnosis_names=list(Diagnosis.objects.values_list("name", flat=True)),
        regions=list(Region.objects.values_list("slug", flat=True)),
        modalities=sorted(set(Finding.objects.values_list("modality", flat=True))),
    )


def client_inputs(args, work: Path) -> tuple[Path, list[list[Path]]]:
    """wrk's paths (load.py's mix) and one series of CT slices, with UIDs of its own, per upload."""
    from bench.ingest import make_slices
    from bench.load import build_paths

    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(build_paths(ROUNDS, seed=8)) + "\n")
    uploads = int(args.duration / args.upload_gap) + 2 if args.upload_gap else 0
    slices = [make_slices(work / "uploads" / f"{n:03d}", args.slices) for n in range(uploads)]
    return paths_file, slices


def start_cluster(cluster: Cluster, work: Path) -> dict:
    """Network, data services, Django set up against them; returns the shared settings."""
    from bench.multihost import services

    network = cluster.network
    network.create()
    cluster.postgres, database_url = services.start_postgres(network, work / "postgres")
    cluster.redis, redis_url = services.start_redis(network, work / "redis")
    cluster.seaweed, s3 = services.start_seaweed(network, work / "s3")
    settings = site_settings(cluster, work, database_url, redis_url, s3)
    for name in FOREIGN_SETTINGS:
        os.environ.pop(name, None)
    os.environ.update(settings)  # the bench's own Django, and every host it starts, use these
    import django

    django.setup()
    return settings


def start_hosts(cluster: Cluster, work: Path, settings: dict) -> None:
    from bench.multihost import services
    from bench.server import Gunicorn

    network = cluster.network
    apps = []
    for role in ("app1", "app2"):
        address = network.address(role)
        (work / role).mkdir()
        app = Gunicorn(
            work / role,
            settings["DATABASE_URL"],
            redis_url=settings["REDIS_URL"],
            # Its own address too, so that the bench can ask the host itself whether it is up.
            extra_env={**settings, "ALLOWED_HOSTS": f"{settings['ALLOWED_HOSTS']},{address}"},
            netns=network.namespace(role),
            address=address,
            port=services.APP_PORT,
            name=role,
        )
        apps.append(app)
        cluster.apps = tuple(apps)
        app.start()
    cluster.worker = services.start_worker(network, work / "worker", {**os.environ, **settings})
    upstreams = [f"{app.address}:{app.port}" for app in apps]
    cluster.proxy = services.start_proxy(network, work / "proxy", upstreams)


@dataclass
class Run:
    wrk: dict
    client_records: list
    quiz_ledger: object
    upload_ledger: object
    kill: object
    started_wall: float
    ended_wall: float
    client_errors: list[str]
    server_times: dict[str, list[float]]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def kill_host(app) -> KillWindow:
    """SIGKILL to the host's gunicorn master and workers at once; the window ends when none is left."""

    at, at_wall = time.monotonic(), time.time()
    os.killpg(app.process.pid, signal.SIGKILL)
    app.process.wait()
    while group_pids(app.process.pid):
        time.sleep(0.005)
    return KillWindow(at, time.monotonic(), at_wall, time.time(), upstream=f"{app.address}:{app.port}")


def run_load(args, cluster: Cluster, site: Site) -> Run:
    from bench.faults import Client, Ledger, Quizzer
    from bench.multihost.clients import Uploader, UploadLedger
    from bench.multihost.services import PROXY_PORT
    from bench.multihost.wrk import Wrk

    proxy = cluster.network.address("proxy")

    def wrk(seconds: int) -> Wrk:
        options = {"threads": WRK_THREADS, "connections": args.connections, "seconds": seconds}
        cluster.wrk = Wrk(f"http://{proxy}", site.paths_file, **options).start()  # stopped with the cluster
        return cluster.wrk

    print(f"Warm-up: {args.warmup:.0f} s of wrk (discarded)")
    wrk(max(1, round(args.warmup))).figures()

    records: list = []
    lock = threading.Lock()
    quiz_ledger, upload_ledger, stop = Ledger(), UploadLedger(), threading.Event()

    def client(name: str) -> Client:
        return Client(name, PROXY_PORT, records, lock, host=proxy)

    clients = [
        Quizzer(client(f"resident-{n}"), site.archive, quiz_ledger, stop, seed=n, username=username)
        for n, username in enumerate(site.residents, start=1)
    ]
    if args.upload_gap:
        clients.append(
            Uploader(
                client("faculty"), site.archive, quiz_ledger, stop, seed=99, username=site.faculty,
                study_id=site.study_id, slices=site.slices, uploads=upload_ledger, gap=args.upload_gap,
            )
        )  # fmt: skip
    for worker in clients:
        worker.prepare()  # log-ins before the measured run: the kill must not meet a client not yet started
    offsets = [app.access_log.stat().st_size for app in cluster.apps]
    print(f"load average before: {load_average()}")
    started, started_wall = time.monotonic(), time.time()
    load = wrk(round(args.duration))
    for worker in clients:
        worker.start()
    time.sleep(max(0.0, started + args.duration / 2 - time.monotonic()))
    kill = kill_host(cluster.apps[0])
    print(
        f"Killed app1 (SIGKILL) at {kill.at - started:.1f} s; its last process was gone "
        f"{1000 * (kill.done - kill.at):.0f} ms later"
    )
    figures = load.figures()
    print(f"load average after: {load_average()} (the machine is shared: other work slows every figure)")
    stop.set()
    for worker in clients:
        worker.join(30)
    ended_wall = time.time()
    times = merged_server_times(cluster.apps, offsets)
    errors = [f"{worker.name}: {worker.error!r}" for worker in clients if worker.error]
    errors += [f"{worker.name}: still running" for worker in clients if worker.is_alive()]
    return Run(
        figures,
        records,
        quiz_ledger,
        upload_ledger,
        kill,
        started_wall,
        ended_wall,
        errors,
        times,
    )


def merged_server_times(apps, offsets: list[int]) -> dict[str, list[float]]:
    """Per page kind, the server's times (ms) on both application hosts during the measured run."""
    from bench.load import server_times

    merged: dict[str, list[float]] = {}
    for app, offset in zip(apps, offsets, strict=True):
        for kind, entry in server_times(app.access_log, offset).items():
            merged.setdefault(kind, []).extend(entry["times"])
    return merged


def run_checks(
    run: Run, site: Site, proxy_records: list, cuts: list, work: Path
) -> list[tuple[str, bool, str]]:
    """The database, the bucket and the logs against what the clients were told (while the cluster runs)."""
    from bench.faults import check_rows
    from bench.multihost.checks import check_failures, check_uploads, queue_drained

    drained, waited = queue_drained(timeout=300)
    results = check_rows(run.quiz_ledger, site.residents)
    if site.slices:  # uploads were part of the run
        results += check_uploads(run.upload_ledger, drained, waited)
    results.append(check_failures(run.client_records, proxy_records, cuts, run.wrk, run.kill))
    local = [
        str(path) for name in ("media", "quarantine") for path in (work / name).rglob("*") if path.is_file()
    ]
    results.append(
        (
            "nothing written under MEDIA_ROOT or QUARANTINE_ROOT on any host (all in the bucket)",
            not local,
            f"{len(local)} files" + (f": {local[:3]}" if local else ""),
        )
    )
    results.append(
        ("every client ran to the end", not run.client_errors, "; ".join(run.client_errors) or "yes")
    )
    return results


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/cluster.py makes network namespaces: run it as root")
    if missing := missing_tools():
        sys.exit(f"bench/cluster.py needs {', '.join(missing)} (make cluster-tools installs them)")
    from bench.multihost.nginx import read_access_log, read_cut_answers
    from bench.multihost.services import tool_versions
    from bench.server import exit_on_sigterm

    exit_on_sigterm()  # SIGTERM (and SIGHUP) unwind like Ctrl-C: the finally below cleans up
    signal.signal(signal.SIGHUP, signal.getsignal(signal.SIGTERM))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_cluster_") as folder:
        work = Path(folder)
        os.chmod(work, 0o755)  # PostgreSQL and nginx's workers run as other users, in folders below it
        cluster = Cluster(Network(tag=f"tcl{os.getpid()}"))
        try:
            settings = start_cluster(cluster, work)
            site = prepare_site(args, work)
            start_hosts(cluster, work, settings)
            pool = cluster.apps[0].pool()
            versions = tool_versions()
            run = run_load(args, cluster, site)
            proxy_records = read_access_log(work / "proxy" / "access.log")
            cuts = read_cut_answers(work / "proxy" / "error.log")
            results = run_checks(run, site, proxy_records, cuts, work)
            server_errors = {
                name: count for app in cluster.apps for name, count in app.django_errors().items()
            }
            from django.db import connection

            connection.close()
        finally:
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(number, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            stopped = cluster.stop()
            print(f"Stopped by pid (exit statuses): {', '.join(stopped)}; the namespaces and links deleted")
    report.print_setup(args, versions=versions, pool=pool, wrk_threads=WRK_THREADS)
    report.print_wrk(run.wrk)
    measured = [r for r in proxy_records if run.started_wall <= r.started <= run.ended_wall]
    hosts = {role: f"{Network.address(role)}:{APP_PORT}" for role in ("app1", "app2")}
    report.print_proxy(measured, cuts, begin=run.started_wall, end=run.ended_wall, kill=run.kill, hosts=hosts)
    report.print_server_times(run.server_times)
    report.print_clients(run.client_records, run.quiz_ledger, run.upload_ledger)
    for line, count in sorted(server_errors.items(), key=lambda item: -item[1]):
        print(f"server exception x{count}: {line}")
    print()
    for label, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'}  {label}: {detail}")
    print(
        f"\nWhole benchmark (start, generation, load, checks, clean-up): {time.monotonic() - started:.0f} s"
    )
    return 0 if all(passed for _label, passed, _detail in results) else 1


if __name__ == "__main__":
    sys.exit(main())
