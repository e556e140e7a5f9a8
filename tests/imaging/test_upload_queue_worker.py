"""The queue with real worker processes: ``manage.py db_worker`` on a SQLite file of the test's own (WAL,
immediate transactions), and in the PostgreSQL pass on a PostgreSQL database of its own, fed by
``import_images --background``. A worker killed mid-upload (SIGKILL: no
clean-up of its own) loses nothing: the next worker's sweep fails the upload and removes what it stored.

Every process is started here and stopped here, by its pid.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imaging.demo import SAMPLE_DIR

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


@pytest.fixture
def site(tmp_path, database_url):
    """A database, media and quarantine of the test's own, migrated, with one case and series."""
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
    manage(env, "migrate", "--noinput", "-v0")
    manage(
        env,
        "shell",
        "-c",
        "from cases.models import Case; from imaging.services import series_create; "
        "series_create(case=Case.objects.create(slug='worker-case', title='Worker case'), label='Axial', "
        "modality='MR')",
    )
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


def queue_upload(site, count: int, name: str) -> int:
    folder = site["tmp"] / name
    folder.mkdir()
    for n in range(count):
        (folder / f"slice{n:04d}.dcm").write_bytes((SAMPLE_DIR / "MR_small.dcm").read_bytes())
    out = manage(
        site["env"], "import_images", "worker-case", str(folder), "--series", "Axial", "--background"
    )
    return int(re.search(r"Queued upload (\d+):", out).group(1))


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


def upload_row(site, upload_id: int) -> dict:
    return query(site, "SELECT * FROM imaging_upload WHERE id = %s", upload_id)[0]


def image_count(site) -> int:
    return query(site, "SELECT count(*) AS n FROM imaging_image")[0]["n"]


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


def test_a_worker_killed_mid_upload_leaves_nothing_half_stored_and_the_next_one_goes_on(site):
    upload_id = queue_upload(site, 300, "big")
    first = start_worker(site, "worker-1.log")
    try:
        # Past the first batch of rows (32), so that something was committed before the kill.
        wait_for(lambda: upload_row(site, upload_id)["done"] >= 40, "the first worker to handle 40 files")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=PATIENCE)
    finally:
        stop(first)
    killed = upload_row(site, upload_id)
    assert killed["status"] == "running" and 40 <= killed["done"] < killed["total"] == 300, killed
    half_stored = image_count(site)
    assert files_in(site["tmp"] / "media" / "images"), "the killed worker had stored nothing yet"

    second = start_worker(site, "worker-2.log")
    try:
        settled = wait_for(
            lambda: (row := upload_row(site, upload_id))["status"] in {"failed", "done"} and row,
            "the second worker's sweep to settle the dead upload",
        )
        # Originals were handled, so it cannot run again: it failed, and what it stored is gone.
        assert settled["status"] == "failed", settled
        note = f"it failed, and the {half_stored} image(s) it had stored were removed"
        assert note in settled["status_note"]
        assert image_count(site) == 0
        assert files_in(site["tmp"] / "media" / "images") == []
        assert files_in(site["tmp"] / "quarantine") == []

        # The same worker goes on with the next upload, to the end, and renders its thumbnails.
        next_id = queue_upload(site, 3, "small")
        done = wait_for(
            lambda: (row := upload_row(site, next_id))["status"] == "done" and row, "the next upload"
        )
        assert (done["done"], done["accepted"], done["rejected"]) == (3, 3, 0)
        assert image_count(site) == 3
        wait_for(lambda: len(files_in(site["tmp"] / "media" / "renders")) >= 3, "the thumbnails")
        assert files_in(site["tmp"] / "quarantine") == []
    finally:
        stop(second)
    assert "settled: failed" in (site["tmp"] / "worker-2.log").read_text()
