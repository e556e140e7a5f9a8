"""Conference benchmark (issue #22): how long after a presenter's step every audience screen shows it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/teaching_archive .venv/bin/python bench/conference.py

Options: ``--clients`` audience phones (default 30), ``--steps`` presenter steps (default 20), ``--gap``
seconds between steps (default 3), ``--keep`` (leave the database).

Method: a throwaway PostgreSQL database (``bench_conference``), gunicorn started as the Deploying section
says (``bench/server.py``), one conference over enough published cases for every step, open to anonymous
residents. Each audience client is a thread with its own keep-alive connection that does what
``static/programme/conference.js`` does in a phone's browser: it asks ``/conference/<id>/state/`` every
second (starting at a random moment of the first second, as phones join at random) and, when the version
changes, loads the audience page again (the reload). The presenter's step is
``programme.services.conference_move``, run in the bench process against the same database, so the moment of
its commit is known. For every step and client the bench records the delay from that commit to the new
version in the client's poll, and to the new page fully received (the screen). It prints p50, p95 and the
maximum of both, over all steps and clients, and asserts nothing.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.stats import percentile  # noqa: E402 (needs the path above)
from bench.work import django_in_work_folder  # noqa: E402

BENCH_DATABASE = "bench_conference"
POLL_SECONDS = 1.0  # as static/programme/conference.js
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


class Phone(threading.Thread):
    """One audience client: polls the state, reloads the page at every new version."""

    def __init__(self, port: int, conference_id: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.state_path = f"/conference/{conference_id}/state/"
        self.page_path = f"/conference/{conference_id}/"
        self.seen: dict[int, float] = {}  # version → when the poll showed it
        self.shown: dict[int, float] = {}  # version → when the page was received
        self.errors = 0

    def get(self, connection: http.client.HTTPConnection, path: str) -> bytes:
        connection.request("GET", path, headers=PROXY_HEADERS)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            self.errors += 1
        return body

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        version = None
        time.sleep(random.uniform(0, POLL_SECONDS))
        while not self.stop.is_set():
            try:
                current = json.loads(self.get(connection, self.state_path))["version"]
                if current != version:
                    self.seen[current] = time.monotonic()
                    self.get(connection, self.page_path)
                    self.shown[current] = time.monotonic()
                    version = current
            except (OSError, ValueError, http.client.HTTPException):
                self.errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            # As the page's script: the next poll a second after this one's answer (or the new page) arrived.
            self.stop.wait(POLL_SECONDS)


def run(args, work: Path) -> int:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from bench.server import Gunicorn, bench_database, collect_static
    from cases.models import Case
    from programme import services
    from programme.models import Step

    with bench_database(BENCH_DATABASE, keep=args.keep) as database_url:
        presenter = get_user_model().objects.create(username="bench-presenter")
        playlist = services.playlist_create(title="Bench unknowns", owner=presenter, visibility="unlisted")
        for n in range(args.steps // len(Step) + 2):  # more steps than the presenter takes
            case = Case.objects.create(
                slug=f"bench-unknown-{n}",
                title=f"Bench unknown {n}",
                status=Case.Status.PUBLISHED,
                published_at=timezone.now(),
                clinical_history="Pain for weeks.",
            )
            services.playlist_add_case(playlist=playlist, case=case)
        conference = services.conference_create(playlist=playlist, presenter=presenter, allow_anonymous=True)
        connection.close()
        collect_static(work / "static")
        server = Gunicorn(work, database_url, redis_url=None)
        stop = threading.Event()
        phones: list[Phone] = []
        commits: dict[int, float] = {}
        try:
            server.start()
            workers, threads = server.pool()
            phones = [Phone(server.port, str(conference.id), stop) for _ in range(args.clients)]
            for phone in phones:
                phone.start()
            time.sleep(args.gap)  # every phone has loaded the first page
            for _ in range(args.steps):
                moved = services.conference_move(conference=conference, forward=True)
                commits[moved.version] = time.monotonic()
                time.sleep(args.gap)
        finally:
            stop.set()
            for phone in phones:
                phone.join(timeout=20)
            server.stop()
        seen = [phone.seen[v] - at for phone in phones for v, at in commits.items() if v in phone.seen]
        shown = [phone.shown[v] - at for phone in phones for v, at in commits.items() if v in phone.shown]
        missed = len(phones) * len(commits) - len(shown)
        print(
            f"{args.clients} audience clients polling every {POLL_SECONDS:.0f} s, {len(commits)} presenter "
            f"steps, gunicorn {workers} worker(s) of {threads} threads, PostgreSQL"
        )
        print("delay from the step's commit      p50      p95      max   samples")
        for name, values in (("to the new version in a poll", seen), ("to the new page received", shown)):
            p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
            print(f"{name:<32} {p50:6.0f} ms {p95:6.0f} ms {max(values) * 1000:6.0f} ms {len(values):6d}")
        print(f"steps a client never saw: {missed}; failed requests: {sum(phone.errors for phone in phones)}")
        # The machine's load says how far the figures are this code's: other work on the cores delays them.
        print(
            "load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.1f}" for load in os.getloadavg())
        )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--gap", type=float, default=3.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with django_in_work_folder("bench_conference_") as work:
        sys.exit(run(args, work))


if __name__ == "__main__":
    main()
