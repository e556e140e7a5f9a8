"""A migrated SQLite database for the tests that run ``manage.py`` in processes of their own.

Running every migration costs seconds in each such test; the migrations run once per test process (in a
``manage.py migrate`` of their own, as before) and each test gets a copy of the result, which takes
milliseconds. The copy is the same file a fresh ``migrate`` makes: tables, content types, permissions,
role groups and the cache table.
"""

import atexit
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@cache
def template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="migrated-sqlite-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "migrated.sqlite3"
    env = {
        **{key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CACHE_BACKEND"}},
        "DATABASE_URL": f"sqlite:///{path}",
        "MEDIA_ROOT": str(folder / "media"),
        "QUARANTINE_ROOT": str(folder / "quarantine"),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return path


def migrated_sqlite_copy(path: Path) -> Path:
    """Write a migrated database at `path`."""
    return sqlite_copy(template(), path)


def sqlite_copy(source_path: Path, path: Path) -> Path:
    """SQLite's backup API: a consistent copy whatever the source's journal holds."""
    source, target = sqlite3.connect(source_path), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return path
