"""Fault benchmark (issue #9, "Load with faults"): quiz answering and browsing against gunicorn on
PostgreSQL while every server connection is cut once with ``pg_terminate_backend``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/teaching_archive .venv/bin/python bench/faults.py

Options: ``--duration`` seconds of load (default 20; the cut comes halfway), ``--clients`` (default 8),
``--cuts`` (default 1: more cuts, evenly spread, to hunt rare interleavings),
``--cases`` published cases (default 300), ``--redis-url`` (default ``redis://127.0.0.1:6379/12``,
emptied before and after; ``--redis-url ''`` for each worker's local-memory cache), ``--keep`` (leave
the database).

It prints counts and one PASS/FAIL line per invariant, and exits 1 when an invariant fails: these are
correctness checks, not timings (no time is asserted).

Method
------
*Data.* A throwaway database, ``bench_faults``, created and migrated through Django's test-database
machinery and dropped at the end; ``bench.generate.generate_archive`` fills it (the three seed cases and
``--cases`` published cases), and one resident account per logged-in quiz client is created (group
``resident``).

*Server.* ``gunicorn config.wsgi`` with the repository's ``gunicorn.conf.py`` (one worker per core, four
threads each; persistent database connections with ``CONN_HEALTH_CHECKS``), ``DEBUG=0``, on a free
loopback port, every request sent as from the TLS-terminating proxy (``X-Forwarded-Proto: https``).

*Clients.* First a burst of 24 concurrent requests, so that the server's threads open their persistent
database connections. Then ``--clients`` threads, each with its own keep-alive connection and cookies
(``http.client``) and up to 0.3 s of thinking between requests (so some connections sit idle between
requests at the cut, as most do in production): half are residents who log in at ``/accounts/login/``
and answer quizzes — GET ``/cases/<slug>/quiz/``, then POST a ``guess`` that no other attempt uses (with
the CSRF token and the answer key from the form; an answer not acknowledged is sent once more, the same
form, as a browser retries), and for every third acknowledged answer POST an override of the mark;
one answers quizzes anonymously (the attempts live in its Django session); the rest browse (home, list,
filters, search, case, quiz and diagnosis pages). An answer is *acknowledged* when the response is 200
and shows the reveal with that guess. Halfway, the bench runs once ``SELECT pg_terminate_backend(pid)
FROM pg_stat_activity WHERE datname = 'bench_faults' AND pid <> pg_backend_pid()``. After the load,
every client requests its pages once more (the recovery probe).

*Invariants.* (1) every acknowledged attempt is a row (user, case, guess, token), every acknowledged
override is stored, every acknowledged anonymous attempt reopens from its session; (2) no half-written
rows: each resident's attempts at a case have exactly one review card, which equals the SM-2 replay of
those attempts (it is written in the same transaction), no card lacks attempts, no attempt carries a
guess the bench never sent, none is stored twice; (3) requests fail cleanly: complete 5xx responses
only (or a 400 for a request under way at the cut: Django's database session backend reports any
database error of a session save as an interrupted session, 400), no reset connection, no hung request
(15 s), no unexpected status; (4) the server recovered without a restart: the same worker processes
before and after (but for recycling after ``max_requests``; no worker timed out, was killed or exited
with an error), no request sent after ``pg_terminate_backend`` returned failed (only requests under way
at the cut may: their connection goes from under them; a later one is health-checked onto a new
connection), and the recovery probe succeeds.
With ``CONN_HEALTH_CHECKS`` off, (4) fails: each connection that was idle at the cut fails the next
request that uses it.
"""

import argparse
import html
import http.client
import os
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.work import django_in_work_folder  # noqa: E402 (needs the path above)

BENCH_DATABASE = "bench_faults"
REQUEST_TIMEOUT = 15.0  # a request still unanswered after this long counts as hung
# A request the client sent after pg_terminate_backend returned starts its server-side work after the
# backends were signalled, so CONN_HEALTH_CHECKS' check at the start of the request sees a dead (or
# dying) connection and replaces it: such a request must not fail. Only requests already under way
# at the cut may (their connection goes from under them mid-request).
# Each client waits up to this long between requests (a reader reads, a resident thinks), so the
# server's threads, and their database connections, are idle now and then, as they are in
# production: the cut then also meets connections between requests, which CONN_HEALTH_CHECKS is for.
THINK_TIME = 0.3
RESIDENT_PASSWORD = "bench-faults-resident-pass"
SEARCHES = ["haemangioma", "EMH", "giant cell tumor", "oedema", "fracture", "metastasis"]

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ATTEMPT_RE = re.compile(r'name="attempt" value="([0-9a-f-]{36})"')
KEY_RE = re.compile(r'name="key" value="([0-9a-f-]{36})"')
GUESS_RE = re.compile(r'<p class="your-answer">You answered “([^”<]*)”')
REVEALED = "Quiz case: the answer"


def shown_guess(page: str) -> str | None:
    """The guess the revealed answer repeats to its reader (unescaped), or None."""
    match = GUESS_RE.search(page)
    return html.unescape(match.group(1)) if match else None


class Hung(Exception):
    pass


class ConnectionFailed(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str


@dataclass
class Record:
    client: str
    kind: str
    started: float
    ended: float
    outcome: str  # ok, 5xx, 400, connection, hung, unexpected
    status: int | None = None
    detail: str = ""


class Client:
    """One browser: a keep-alive connection of its own, and its cookies."""

    def __init__(self, name: str, port: int, records: list, lock: threading.Lock, host: str = "127.0.0.1"):
        self.name = name
        self.host = host
        self.port = port
        # What a browser sends: the address the request goes to (no port when it is the default one).
        self.origin = f"https://{host}" + ("" if port == 80 else f":{port}")
        self.records = records
        self.lock = lock
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        # gunicorn closes a keep-alive connection idle for 2 s; a fresh one avoids racing that close.
        if self.connection is None or time.monotonic() - self.last_used > 1.0:
            if self.connection is not None:
                self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        return self.connection

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    def send(self, method: str, path: str, form: dict | tuple[str, bytes] | None = None) -> Response:
        headers = {"X-Forwarded-Proto": "https", "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            # A dict is a plain form; a (content type, bytes) pair comes encoded, e.g. multipart with files.
            content_type, body = (
                ("application/x-www-form-urlencoded", urlencode(form)) if isinstance(form, dict) else form
            )
            headers.update(
                {"Content-Type": content_type, "Origin": self.origin, "Referer": self.origin + path}
            )
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except TimeoutError as error:
            self._drop()
            raise Hung(str(error)) from error
        except (OSError, http.client.HTTPException) as error:
            self._drop()
            raise ConnectionFailed(f"{type(error).__name__}: {error}") from error
        self.last_used = time.monotonic()
        if response.will_close:
            self._drop()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(response.status, response.headers, data.decode("utf-8", errors="replace"))

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        form: dict | tuple[str, bytes] | None = None,
        expect=(200,),
        check=None,
    ):
        """One request, recorded. Returns the response when it was what was expected, else None."""
        started = time.monotonic()
        outcome, status, detail, response = "ok", None, "", None
        try:
            response = self.send(method, path, form)
            status = response.status
            if status >= 500:
                outcome, detail = "5xx", response.text[:80]
            elif status == 400 and 400 not in expect:
                # Django's database session backend turns any DatabaseError of the session save into
                # UpdateError, which SessionMiddleware answers 400 (SessionInterrupted).
                outcome, detail = "400", f"{method} {path} -> 400"
            elif status not in expect or (check is not None and not check(response)):
                outcome, detail = "unexpected", f"{method} {path} -> {status}"
        except Hung as error:
            outcome, detail = "hung", str(error)
        except ConnectionFailed as error:
            outcome, detail = "connection", str(error)
        record = Record(self.name, kind, started, time.monotonic(), outcome, status, detail)
        with self.lock:
            self.records.append(record)
        return response if outcome == "ok" else None


@dataclass
class Archive:
    slugs: list[str]
    diagnoses: list[str]  # slugs
    diagnosis_names: list[str]
    regions: list[str]
    modalities: list[str]


@dataclass
class Ledger:
    """What the clients were told: acknowledged attempts and overrides, and the answers that failed."""

    attempts: dict[str, dict] = field(default_factory=dict)  # guess -> {user, slug, token}
    overrides: dict[str, str] = field(default_factory=dict)  # token -> override
    anonymous: dict[str, dict] = field(default_factory=dict)  # guess -> {slug, token}
    sent: set[str] = field(default_factory=set)  # every guess POSTed
    failed: set[str] = field(default_factory=set)  # guesses POSTed but not acknowledged
    resent: set[str] = field(default_factory=set)  # guesses POSTed again after a failure, same form
    overrides_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Worker(threading.Thread):
    def __init__(self, client: Client, archive: Archive, ledger: Ledger, stop: threading.Event, seed: int):
        super().__init__(name=client.name, daemon=True)
        self.client = client
        self.archive = archive
        self.ledger = ledger
        self.stop = stop
        self.rng = random.Random(seed)
        self.error: BaseException | None = None
        self.prepared = False

    def prepare(self) -> None:
        """Do ``setup`` (log in …) now, before the load starts; ``run`` then goes straight to the steps."""
        self.setup()
        self.prepared = True

    def run(self) -> None:
        try:
            if not self.prepared:
                self.setup()
            while not self.stop.is_set():
                self.step()
                self.stop.wait(self.rng.uniform(0, THINK_TIME))
        except BaseException as error:  # reported after the run, never swallowed
            self.error = error

    def setup(self) -> None:
        pass

    def step(self) -> None:
        raise NotImplementedError

    def probe(self) -> None:
        """After the load: one more of what this client does, which must succeed."""
        self.step()


class Browser(Worker):
    def page(self) -> tuple[str, str]:
        archive, rng = self.archive, self.rng
        slug = rng.choice(archive.slugs)
        choices = [
            ("home", "/"),
            ("list", "/cases/"),
            (
                "filtered",
                "/cases/?"
                + urlencode(
                    {"region": rng.choice(archive.regions), "modality": rng.choice(archive.modalities)}
                ),
            ),
            ("search", "/cases/?" + urlencode({"q": rng.choice(SEARCHES)})),
            ("case", f"/cases/{slug}/"),
            ("quiz page", f"/cases/{slug}/quiz/"),
            ("diagnosis", f"/diagnoses/{rng.choice(archive.diagnoses)}/"),
        ]
        return rng.choice(choices)

    def step(self) -> None:
        kind, path = self.page()
        self.client.call(kind, "GET", path)

    def probe(self) -> None:
        for kind, path in [("home", "/"), ("list", "/cases/"), ("health", "/healthz")]:
            self.client.call(kind, "GET", path)
        self.step()


class Quizzer(Worker):
    """Answers quizzes: logged in as ``username``, or anonymously when it is None."""

    def __init__(self, *args, username: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.username = username
        self.answered = 0

    def setup(self) -> None:
        if self.username is None:
            return
        page = self.client.call("login page", "GET", "/accounts/login/")
        token = CSRF_RE.search(page.text).group(1) if page else None
        response = self.client.call(
            "login",
            "POST",
            "/accounts/login/",
            {
                "username": self.username,
                "password": RESIDENT_PASSWORD,
                "csrfmiddlewaretoken": token or "",
                "next": "",
            },
            expect=(302,),
        )
        if response is None or "sessionid" not in self.client.cookies:
            raise RuntimeError(f"{self.username} could not log in")

    def step(self) -> None:
        archive, rng, ledger = self.archive, self.rng, self.ledger
        slug = rng.choice(archive.slugs)
        page = self.client.call("quiz page", "GET", f"/cases/{slug}/quiz/")
        if page is None:
            return
        match = CSRF_RE.search(page.text)
        self.answered += 1
        guess = f"{rng.choice(archive.diagnosis_names)} [{self.name} #{self.answered}]"
        form = {"csrfmiddlewaretoken": match.group(1) if match else "", "guess": guess}
        key = KEY_RE.search(page.text)
        if key:
            form["key"] = key.group(1)
        if rng.random() < 0.5:
            form["differential_1"] = rng.choice(archive.diagnosis_names)
        with ledger.lock:
            ledger.sent.add(guess)

        def revealed(response: Response) -> bool:
            return REVEALED in response.text and shown_guess(response.text) == guess

        answer = self.client.call("quiz answer", "POST", f"/cases/{slug}/quiz/", form, check=revealed)
        if answer is None or ATTEMPT_RE.search(answer.text) is None:
            # Sent once more, as a browser retries: the same form, with the same key. Had the first
            # copy been stored before its reply was lost, this one shows it; none is stored twice.
            with ledger.lock:
                ledger.resent.add(guess)
            answer = self.client.call(
                "quiz answer re-sent", "POST", f"/cases/{slug}/quiz/", form, check=revealed
            )
        token_match = ATTEMPT_RE.search(answer.text) if answer else None
        if answer is None or token_match is None:
            with ledger.lock:
                ledger.failed.add(guess)
            return
        token = token_match.group(1)
        with ledger.lock:
            if self.username is None:
                ledger.anonymous[guess] = {"slug": slug, "token": token}
            else:
                ledger.attempts[guess] = {"user": self.username, "slug": slug, "token": token}
        if self.username is not None and self.answered % 3 == 0:
            override = rng.choice(["correct", "close", "wrong"])
            csrf = CSRF_RE.findall(answer.text)
            with ledger.lock:
                ledger.overrides_sent += 1
            done = self.client.call(
                "quiz override",
                "POST",
                f"/cases/{slug}/quiz/override/",
                {"csrfmiddlewaretoken": csrf[-1] if csrf else "", "attempt": token, "override": override},
                expect=(302,),
                check=lambda response: f"attempt={token}" in (response.headers.get("Location") or ""),
            )
            if done is not None:
                with ledger.lock:
                    ledger.overrides[token] = override
        elif self.username is not None and self.answered % 5 == 0:
            self.client.call("progress", "GET", "/quiz/progress/")

    def reopen_anonymous(self) -> tuple[int, list[str]]:
        """Each acknowledged anonymous attempt reopens from this client's session, showing its guess."""
        from quiz.attempts import MAX_SESSION_ATTEMPTS

        missing = []
        # An anonymous session keeps only its newest attempts (quiz/attempts.py): older ones make room.
        kept = list(self.ledger.anonymous.items())[-MAX_SESSION_ATTEMPTS:]
        for guess, entry in kept:
            response = self.client.call(
                "anonymous reopen",
                "GET",
                f"/cases/{entry['slug']}/quiz/?" + urlencode({"attempt": entry["token"]}),
                check=lambda r, guess=guess: REVEALED in r.text and shown_guess(r.text) == guess,
            )
            if response is None:
                missing.append(guess)
        return len(kept), missing


def server_connections(database: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        )
        return cursor.fetchone()[0]


def open_connections(port: int, database: str, concurrency: int = 24) -> int:
    """A burst of concurrent requests before the load, so that every server thread has opened its
    (persistent) database connection. The load that follows keeps fewer requests under way than there
    are threads, so at the cut some connections sit idle between requests, as most do in production;
    those are the ones CONN_HEALTH_CHECKS must replace without failing a request."""
    barrier = threading.Barrier(concurrency)

    def one(n: int) -> None:
        client = Client(f"burst-{n}", port, [], threading.Lock())
        barrier.wait()
        client.call("burst", "GET", f"/cases/?page={n % 5 + 1}")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return server_connections(database)


def cut_connections(database: str) -> dict[str, int]:
    """pg_terminate_backend on every other connection to the bench database; backends by state."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(state, '?'), pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        states: dict[str, int] = {}
        for state, terminated in cursor.fetchall():
            key = state if terminated else f"{state} (not terminated)"
            states[key] = states.get(key, 0) + 1
    return states


def check_rows(ledger: Ledger, usernames: list[str]) -> list[tuple[str, bool, str]]:
    """The database against what the clients were told."""
    from django.db.models import Count
    from django.utils import timezone

    from quiz.models import QuizAttempt, ReviewCard
    from quiz.scheduling import QUALITY_BY_MARK, sm2_replay

    results = []
    rows = {
        attempt.guess: attempt
        for attempt in QuizAttempt.objects.filter(user__username__in=usernames).select_related("user", "case")
    }
    lost = [
        guess
        for guess, entry in ledger.attempts.items()
        if guess not in rows
        or rows[guess].user.username != entry["user"]
        or rows[guess].case.slug != entry["slug"]
        or str(rows[guess].token) != entry["token"]
    ]
    results.append(
        (
            "every acknowledged attempt is stored (user, case, guess, token)",
            not lost,
            f"{len(ledger.attempts) - len(lost)} of {len(ledger.attempts)} found"
            + (f"; missing or different: {lost[:5]}" if lost else ""),
        )
    )
    by_token = {str(attempt.token): attempt for attempt in rows.values()}
    wrong_overrides = [
        token
        for token, value in ledger.overrides.items()
        if token not in by_token or by_token[token].override != value
    ]
    results.append(
        (
            "every acknowledged override is stored",
            not wrong_overrides,
            f"{len(ledger.overrides) - len(wrong_overrides)} of {len(ledger.overrides)} found"
            + (f"; missing: {wrong_overrides[:5]}" if wrong_overrides else ""),
        )
    )

    # No half-written rows.
    problems = []
    all_attempts = QuizAttempt.objects.filter(user__username__in=usernames)
    strangers = [attempt.guess for attempt in all_attempts if attempt.guess not in ledger.sent]
    if strangers:
        problems.append(f"{len(strangers)} attempts with a guess never sent: {strangers[:3]}")
    duplicates = list(
        all_attempts.values("guess").annotate(n=Count("pk")).filter(n__gt=1).values_list("guess", "n")
    )
    if duplicates:
        problems.append(f"{len(duplicates)} guesses stored more than once: {duplicates[:3]}")
    groups: dict[tuple[int, int], list] = {}
    for attempt in all_attempts.order_by("created_at", "pk"):
        groups.setdefault((attempt.user_id, attempt.case_id), []).append(attempt)
    cards = {
        (card.user_id, card.case_id): card for card in ReviewCard.objects.filter(user__username__in=usernames)
    }
    orphans = set(cards) - set(groups)
    if orphans:
        problems.append(f"{len(orphans)} review cards without an attempt")
    mismatched = 0
    for key, attempts in groups.items():
        card = cards.get(key)
        schedule = sm2_replay(
            (timezone.localdate(attempt.created_at), QUALITY_BY_MARK[attempt.effective_mark])
            for attempt in attempts
        )
        if (
            card is None
            or abs(card.easiness - schedule.state.easiness) > 1e-9
            or card.interval_days != schedule.state.interval_days
            or card.repetitions != schedule.state.repetitions
            or card.due_on != schedule.due_on
            or card.last_quality != schedule.last_quality
            or card.reviewed_at != attempts[-1].created_at
        ):
            mismatched += 1
    if mismatched:
        problems.append(
            f"{mismatched} of {len(groups)} (resident, case) review cards missing or not the replay"
        )
    results.append(
        (
            "no half-written rows (each attempt's review card is the replay of its attempts; "
            "no stray or duplicate attempt, no orphan card)",
            not problems,
            "; ".join(problems)
            or f"{all_attempts.count()} attempts, {len(groups)} (resident, case) pairs, "
            f"{len(cards)} review cards",
        )
    )
    return results


def in_flight(record: Record, cuts: list[tuple[float, float, dict]]) -> bool:
    """Under way at a cut: sent before pg_terminate_backend returned, answered after it was called."""
    return any(record.started < cut_done and record.ended >= cut_at for cut_at, cut_done, _states in cuts)


def summarise(records: list[Record], cuts: list[tuple[float, float, dict]]) -> dict:
    one = len(cuts) == 1
    before, during, after = (
        ("before the cut", "in flight at the cut", "after the cut")
        if one
        else ("before the first cut", "in flight at a cut", "between and after cuts")
    )
    phases = {before: [], during: [], after: []}
    for record in records:
        if record.ended < cuts[0][0]:
            phases[before].append(record)
        elif in_flight(record, cuts):
            phases[during].append(record)
        else:
            phases[after].append(record)
    return phases


def count(records: list[Record]) -> dict[str, int]:
    counts = {"ok": 0, "5xx": 0, "400": 0, "connection": 0, "hung": 0, "unexpected": 0}
    for record in records:
        counts[record.outcome] += 1
    return counts


def run(args, work: Path) -> int:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection

    from bench.generate import generate_archive
    from bench.server import Gunicorn, bench_database, collect_static, redis_flush
    from cases.models import Case, Diagnosis, Finding, Region

    started = time.monotonic()
    clients = max(3, args.clients)
    residents = clients // 2
    browsers = clients - residents - 1
    with bench_database(BENCH_DATABASE, keep=args.keep) as database_url:
        generate_archive(args.cases, drafts=args.cases // 20, seed=9)
        published = Case.objects.published()
        archive = Archive(
            slugs=list(published.values_list("slug", flat=True)),
            diagnoses=list(
                Diagnosis.objects.filter(final_cases__in=published).distinct().values_list("slug", flat=True)
            ),
            diagnosis_names=list(Diagnosis.objects.values_list("name", flat=True)),
            regions=list(Region.objects.values_list("slug", flat=True)),
            modalities=sorted(set(Finding.objects.values_list("modality", flat=True))),
        )
        User = get_user_model()
        password = make_password(RESIDENT_PASSWORD)  # hashed once: the hash is slow on purpose
        group = Group.objects.get(name="resident")
        usernames = [f"bench-resident-{n}" for n in range(1, residents + 1)]
        for username in usernames:
            User.objects.create(username=username, password=password).groups.add(group)
        connection.close()
        collect_static(work / "static")
        use_redis = bool(args.redis_url) and redis_flush(args.redis_url)
        print(
            f"Archive: {len(archive.slugs)} published cases; clients: {residents} residents answering "
            "quizzes, "
            f"1 anonymous quizzer, {browsers} browsers; {args.duration} s, cut at {args.duration / 2:.0f} s; "
            f"cache: {'Redis' if use_redis else 'local memory'}"
        )

        server = Gunicorn(work, database_url, redis_url=args.redis_url if use_redis else None)
        records: list[Record] = []
        records_lock = threading.Lock()
        ledger = Ledger()
        stop = threading.Event()
        workers: list[Worker] = []
        try:
            server.start()
            master = server.process.pid
            pids_before = server.worker_pids()
            opened = open_connections(server.port, BENCH_DATABASE)

            def client(name: str) -> Client:
                return Client(name, server.port, records, records_lock)

            for n, username in enumerate(usernames, start=1):
                workers.append(
                    Quizzer(client(f"resident-{n}"), archive, ledger, stop, seed=n, username=username)
                )
            workers.append(Quizzer(client("anonymous"), archive, ledger, stop, seed=100, username=None))
            for n in range(1, browsers + 1):
                workers.append(Browser(client(f"browser-{n}"), archive, ledger, stop, seed=200 + n))
            load_started = time.monotonic()
            for worker in workers:
                worker.start()
            cuts = []
            for k in range(1, args.cuts + 1):
                time.sleep(max(0.0, load_started + args.duration * k / (args.cuts + 1) - time.monotonic()))
                cut_at = time.monotonic()
                states = cut_connections(BENCH_DATABASE)
                connection.close()
                cuts.append((cut_at, time.monotonic(), states))
            time.sleep(max(0.0, load_started + args.duration - time.monotonic()))
            stop.set()
            for worker in workers:
                worker.join(REQUEST_TIMEOUT + 5)
            stuck = [worker.name for worker in workers if worker.is_alive()]
            load_records = list(records)

            # The recovery probe: each client once more, one after another.
            probe_from = len(records)
            if not stuck:
                for worker in workers:
                    worker.probe()
            anonymous = next(
                worker for worker in workers if isinstance(worker, Quizzer) and worker.username is None
            )
            anonymous_total, anonymous_missing = anonymous.reopen_anonymous()
            probe_records = records[probe_from:]
            pids_after = server.worker_pids()
            events = server.worker_events()
            master_alive = server.process.poll() is None
            exceptions = server.django_errors()
        finally:
            stop.set()
            stopped = server.stop()
            if use_redis:
                redis_flush(args.redis_url)
        errors = [f"{worker.name}: {worker.error!r}" for worker in workers if worker.error]

        # Counts.
        phases = summarise(load_records, cuts)
        print(f"gunicorn stopped with SIGTERM, exit status {stopped}")
        print(f"\nServer connections after the opening burst of requests: {opened}")
        for cut_at, cut_done, states in cuts:
            by_state = ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
            print(
                f"Cut: {sum(states.values())} server connections terminated in "
                f"{1000 * (cut_done - cut_at):.0f} ms at {cut_at - load_started:.1f} s (by state: {by_state})"
            )
        print(
            f"\n{'requests':24} {'total':>6} {'ok':>6} {'5xx':>5} {'400':>5} {'reset':>6} {'hung':>5} "
            f"{'unexpected':>10}"
        )
        for label, group_records in [*phases.items(), ("recovery probe", probe_records)]:
            c = count(group_records)
            print(
                f"{label:24} {len(group_records):>6} {c['ok']:>6} {c['5xx']:>5} {c['400']:>5} "
                f"{c['connection']:>6} {c['hung']:>5} {c['unexpected']:>10}"
            )
        failures = [record for record in load_records + probe_records if record.outcome != "ok"]
        for record in failures[:20]:
            start, end = record.started - load_started, record.ended - load_started
            print(
                f"  {record.outcome:10} {record.client:12} {record.kind:14} at {start:5.2f}-{end:5.2f} s, "
                f"status {record.status}: {record.detail!r}"
            )
        kinds: dict[str, list[int]] = {}
        for record in load_records:
            entry = kinds.setdefault(record.kind, [0, 0])
            entry[0] += 1
            entry[1] += record.outcome != "ok"
        for cut_at, _cut_done, _states in cuts:
            first_ok: dict[str, float] = {}
            for record in sorted(load_records, key=lambda record: record.ended):
                if record.started > cut_at and record.outcome == "ok":
                    first_ok.setdefault(record.client, record.ended - cut_at)
            if first_ok:
                print(
                    f"first success after the cut at {cut_at - load_started:.1f} s: {len(first_ok)} of "
                    f"{len(workers)} clients, the last {1000 * max(first_ok.values()):.0f} ms after it "
                    f"(median {1000 * sorted(first_ok.values())[len(first_ok) // 2]:.0f} ms)"
                )
        print(
            "by kind: " + ", ".join(f"{kind} {n} ({bad} failed)" for kind, (n, bad) in sorted(kinds.items()))
        )
        for line, n in sorted(exceptions.items(), key=lambda item: -item[1]):
            print(f"server exception x{n}: {line}")
        stored_anyway = 0
        if ledger.failed:
            from quiz.models import QuizAttempt

            stored_anyway = QuizAttempt.objects.filter(guess__in=ledger.failed).count()
        print(
            f"\nQuiz answers: {len(ledger.sent)} sent, {len(ledger.attempts)} acknowledged to residents, "
            f"{len(ledger.anonymous)} acknowledged anonymously, {len(ledger.failed)} not acknowledged "
            f"({stored_anyway} of those stored nonetheless: committed before the response failed); "
            f"{len(ledger.resent)} re-sent once after a failure with the same form key, "
            f"{len(ledger.resent - ledger.failed)} of them acknowledged then; "
            f"overrides: {ledger.overrides_sent} sent, {len(ledger.overrides)} acknowledged"
        )

        # Invariants.
        results = check_rows(ledger, usernames)
        results.append(
            (
                "every acknowledged anonymous attempt reopens from its session (the newest "
                "MAX_SESSION_ATTEMPTS, as the session keeps)",
                not anonymous_missing,
                f"{anonymous_total - len(anonymous_missing)} of {anonymous_total}"
                + (f"; missing: {anonymous_missing[:5]}" if anonymous_missing else ""),
            )
        )
        during = count(load_records)
        stray_400 = sum(
            1 for record in load_records if record.outcome == "400" and not in_flight(record, cuts)
        )
        unclean = during["connection"] + during["hung"] + during["unexpected"] + stray_400
        results.append(
            (
                "requests fail cleanly (complete 5xx answers, or 400 from a session save cut off, only: "
                "no reset connection, no hung request, no unexpected status)",
                unclean == 0 and not stuck and not errors,
                f"{during['5xx']} clean 5xx, {during['400'] - stray_400} 400 at a cut, "
                f"{during['connection']} reset, {during['hung']} hung, "
                f"{during['unexpected'] + stray_400} unexpected"
                + (f"; stuck clients: {stuck}" if stuck else "")
                + (f"; client errors: {errors}" if errors else ""),
            )
        )
        late_failures = [
            record for record in load_records if record.outcome != "ok" and not in_flight(record, cuts)
        ]
        probe_failures = [record for record in probe_records if record.outcome != "ok"]
        after = [record for record in load_records if record.started >= cuts[-1][1]]
        replaced = len(set(pids_before) - set(pids_after))
        died = events["timed out"] + events["killed by a signal"] + events["exited with an error"]
        results.append(
            (
                "the server recovered without a restart (same worker processes, but for max_requests "
                "recycling; only requests under way at the cut failed; the recovery probe succeeds)",
                master_alive
                and not died
                and replaced <= events["recycled (max_requests)"]
                and not late_failures
                and not probe_failures
                and bool(after),
                f"workers {pids_before} -> {pids_after} "
                f"({', '.join(f'{name} {n}' for name, n in events.items())}), "
                f"master {master} {'alive' if master_alive else 'gone'}; "
                f"{len(after)} requests after the last cut; "
                f"{len(late_failures)} failed that were not under way at a cut; "
                f"probe {len(probe_records) - len(probe_failures)} of {len(probe_records)} ok",
            )
        )
        print()
        for label, passed, detail in results:
            print(f"{'PASS' if passed else 'FAIL'}  {label}: {detail}")
    print(f"\nWhole benchmark (generation, load, checks, clean-up): {time.monotonic() - started:.0f} s")
    return 0 if all(passed for _label, passed, _detail in results) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds of load; the cut comes halfway")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--cuts", type=int, default=1, help="cut every connection this many times, evenly spread (default 1)"
    )
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true", help="keep the bench_faults database afterwards")
    args = parser.parse_args()
    with django_in_work_folder("bench_faults_") as work:
        sys.exit(run(args, work))


if __name__ == "__main__":
    main()
