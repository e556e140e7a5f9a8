"""Real worker processes for the queue's tests: a site (database, media and quarantine) of the test's own,
``manage.py`` commands and ``db_worker`` processes run against it, and reads of its database beside them.

A SQLite file, or in the PostgreSQL pass a PostgreSQL database of its own. Every process is started by the
test and stopped by its pid.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.migrated_sqlite import migrated_sqlite_copy

ROOT = Path(__file__).resolve().parents[2]
#: How long a step may take on a busy machine before the test gives up (never asserted as a time).
PATIENCE = 120


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A database of the test's own: a SQLite file, or (in the PostgreSQL pass) a database made beside
    the test database and dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    import psycopg2
    from django.db import connection

    given = connection.settings_dict
    name = f"{given['NAME']}_worker"[:60]
    server = {"host": given["HOST"] or "127.0.0.1", "port": given["PORT"] or 5432, "user": given["USER"]}
    admin = psycopg2.connect(dbname="postgres", password=given["PASSWORD"], **server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        password = f":{given['PASSWORD']}" if given["PASSWORD"] else ""
        yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def worker_site(tmp_path, database_url: str) -> dict:
    """A database, media and quarantine of the test's own, migrated; short heartbeat, stale limit and sweep
    interval, so that a dead worker is found quickly."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "QUARANTINE_ROOT": str(tmp_path / "quarantine"),
        "UPLOAD_HEARTBEAT_SECONDS": "0.2",
        "UPLOAD_STALE_SECONDS": "2",
        "UPLOAD_SWEEP_SECONDS": "0.5",
        "DEBUG": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("CACHE_BACKEND", None)
    if database_url.startswith("sqlite:///"):
        migrated_sqlite_copy(Path(database_url.removeprefix("sqlite:///")))
    else:
        manage(env, "migrate", "--noinput", "-v0")
    return {"env": env, "tmp": tmp_path, "url": database_url}


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_worker(site, log: str) -> subprocess.Popen:
    output = (site["tmp"] / log).open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.1", "--no-startup-delay"],
        cwd=ROOT,
        env=site["env"],
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)  # a graceful stop: it finishes the task in hand
        try:
            process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def query(site, sql: str, *params) -> list[dict]:
    """Rows of `sql`, read beside the processes (SQLite in WAL lets a reader in while they write)."""
    if site["url"].startswith("sqlite"):
        with sqlite3.connect(site["url"].removeprefix("sqlite:///"), timeout=30) as database:
            database.row_factory = sqlite3.Row
            return [dict(row) for row in database.execute(sql.replace("%s", "?"), params)]
    import psycopg2
    import psycopg2.extras

    with (
        psycopg2.connect(site["url"]) as database,
        database.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor,
    ):
        cursor.execute(sql, params)
        rows = [dict(row) for row in cursor.fetchall()]
    database.close()
    return rows


def wait_for(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
