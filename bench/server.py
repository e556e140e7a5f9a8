"""What the server benchmarks (``bench/load.py``, ``bench/faults.py``) share: a throwaway PostgreSQL
database, collected static files, and gunicorn started the way the Deploying section says
(``gunicorn config.wsgi`` with the repository's ``gunicorn.conf.py``) as a subprocess of the bench.

Import it after ``django.setup()``. Nothing here measures anything.
"""

import contextlib
import functools
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from django.db import connection
from django.test.utils import setup_test_environment

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# A request through the proxy that terminates TLS says so; without it the production settings
# (SECURE_SSL_REDIRECT) answer every request with a redirect to https.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


@contextlib.contextmanager
def bench_database(name: str, *, keep: bool) -> Iterator[str]:
    """Create, migrate and (unless ``keep``) drop a database of our own on the server DATABASE_URL
    names, through Django's test-database machinery, so the database DATABASE_URL names is never
    touched. Yields the URL of the new database."""
    if connection.vendor != "postgresql":
        sys.exit("This benchmark measures PostgreSQL: set DATABASE_URL=postgres://…")
    settings = connection.settings_dict
    settings["TEST"]["NAME"] = name
    setup_test_environment(debug=False)
    original_name = settings["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    user = settings["USER"] or ""
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    credentials = f"{user}{password}@" if user else ""
    url = f"postgres://{credentials}{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"
    try:
        yield url
    finally:
        if not keep:
            connection.creation.destroy_test_db(original_name, verbosity=0)


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the ``finally`` blocks stop gunicorn and drop the database."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def collect_static(static_root: Path) -> None:
    """``collectstatic`` into a folder of the bench's own: DEBUG off needs the hashed manifest."""
    env = {
        **os.environ,
        "STATIC_ROOT": str(static_root),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


# The repository's gunicorn.conf.py, unchanged, plus: an access log line with the status and the
# time taken (µs) for the bench to read, and the tracebacks of 500s on stderr (with DEBUG off
# Django only mails them to the admins, so the bench could not say what failed).
CONFIG_TEMPLATE = """\
import runpy as _runpy

globals().update(
    {{k: v for k, v in _runpy.run_path({conf!r}).items() if not k.startswith("__")}}
)
accesslog = {accesslog!r}
access_log_format = '%(s)s %(D)s "%(r)s"'
errorlog = {errorlog!r}


def post_worker_init(worker):
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("DJANGO %(levelname)s [%(process)d] %(name)s: %(message)s"))
    logging.getLogger("django.request").addHandler(handler)
"""


class Gunicorn:
    """``gunicorn config.wsgi`` in its own process group, on a free loopback port; or, for the cluster
    bench, on ``address``:``port`` inside the network namespace ``netns``."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        redis_url: str | None,
        extra_env: dict | None = None,
        netns: str | None = None,
        address: str = "127.0.0.1",
        port: int | None = None,
        name: str = "gunicorn",
    ):
        self.name = name
        self.workdir = workdir
        self.netns = netns
        self.address = address
        self.port = port or free_port()
        self.base = f"http://{address}:{self.port}"
        self.access_log = workdir / "access.log"
        self.error_log = workdir / "error.log"
        self.config = workdir / "gunicorn_bench.conf.py"
        self.config.write_text(
            CONFIG_TEMPLATE.format(
                conf=str(ROOT / "gunicorn.conf.py"),
                accesslog=str(self.access_log),
                errorlog=str(self.error_log),
            )
        )
        # GUNICORN_WORKERS / GUNICORN_THREADS pass through (gunicorn.conf.py reads them); the bind is ours.
        env = {key: value for key, value in os.environ.items() if key not in ("GUNICORN_BIND", "REDIS_URL")}
        env.update(
            DATABASE_URL=database_url,
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS=address,
            STATIC_ROOT=str(workdir / "static"),
            MEDIA_ROOT=str(workdir / "media"),
            GUNICORN_BIND=f"{address}:{self.port}",
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        env.update(extra_env or {})
        self.env = env
        self.process: subprocess.Popen | None = None
        self.stderr = None

    def start(self, timeout: float = 60) -> None:
        self.stderr = open(self.workdir / "gunicorn.stderr", "w")  # noqa: SIM115 (closed in stop())
        # `ip netns exec` execs the command: the pid is gunicorn's master either way.
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.process = subprocess.Popen(
            [*prefix, str(VENV_BIN / "gunicorn"), "config.wsgi", "-c", str(self.config)],
            cwd=ROOT,
            env=self.env,
            stdout=self.stderr,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the master and its workers
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if (
                    self.get("/healthz", timeout=5) == 200
                    and len(self.worker_pids()) >= self.expected_workers()
                ):
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def expected_workers(self) -> int:
        return self.pool()[0]

    @functools.cache  # noqa: B019 (one Server per bench run: the cache dies with the process)
    def pool(self) -> tuple[int, int]:
        """Workers and threads per worker, as gunicorn.conf.py computes them in the server's environment
        (a Python subprocess: computed once, not at every poll while the server starts)."""
        script = "import runpy; c = runpy.run_path('gunicorn.conf.py'); print(c['workers'], c['threads'])"
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        workers, threads = result.stdout.split()
        return int(workers), int(threads)

    def get(self, path: str, timeout: float = 10) -> int:
        request = urllib.request.Request(self.base + path, headers=PROXY_HEADERS)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def worker_pids(self) -> list[int]:
        """The master's children, from /proc."""
        if self.process is None:
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for path in (self.workdir / "gunicorn.stderr", self.error_log):
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def django_errors(self) -> dict[str, int]:
        """The exceptions behind the 500s, with how often each occurred: the last exception line of
        each traceback that ``post_worker_init`` sends to the workers' stderr, the request's path
        pattern, and the innermost frame of the project's own code (where the exception surfaced)."""
        counts: dict[str, int] = {}
        path = self.workdir / "gunicorn.stderr"
        if not path.exists():
            return counts
        exception_line = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupted|Warning)\b:?")
        own_frame = re.compile(rf'^\s*File "{re.escape(str(ROOT))}/(?!\.venv/)([^"]+)", line (\d+), in (\S+)')
        request = last = frame = None

        def count() -> None:
            if last:
                key = f"{last} — {request or '?'}" + (f", in {frame}" if frame else "")
                counts[key] = counts.get(key, 0) + 1

        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("DJANGO "):
                count()
                match = re.search(r"Internal Server Error: (\S+)", line)
                request = re.sub(r"/cases/[\w-]+/", "/cases/<slug>/", match.group(1)) if match else None
                request = re.sub(r"/diagnoses/[\w-]+/", "/diagnoses/<slug>/", request or "") or None
                last = frame = None
            elif exception_line.match(line):
                last = line.strip()[:120]
            elif match := own_frame.match(line):
                frame = f"{match.group(1)}:{match.group(2)} {match.group(3)}"
        count()
        return counts

    def worker_events(self) -> dict[str, int]:
        """What gunicorn's log says happened to its workers so far (call it before ``stop``)."""
        text = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
        return {
            "recycled (max_requests)": text.count("Autorestarting worker"),
            "timed out": text.count("WORKER TIMEOUT"),
            "killed by a signal": len(re.findall(r"Worker \(pid:\d+\) was sent", text)),
            "exited with an error": len(re.findall(r"Worker \(pid:\d+\) exited with code", text)),
        }

    def stop(self, timeout: float = 30) -> int | None:
        """TERM to the process group (gunicorn's graceful stop), KILL after ``timeout``."""
        if self.process is None:
            return None
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        except ProcessLookupError:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # any worker left behind
            if self.stderr:
                self.stderr.close()
        return self.process.returncode


def redis_flush(url: str) -> bool:
    """Empty the bench's own Redis database (a cache filled by an earlier run would flatter it)."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
        return True
    except Exception as error:  # any failure means: run without Redis
        print(f"Redis at {url} not usable ({error}); falling back to each worker's local-memory cache")
        return False
