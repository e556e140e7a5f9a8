"""A bundle import with real worker processes (``manage.py db_worker``), on a database of the test's own (a
SQLite file; in the PostgreSQL pass, a PostgreSQL database). A worker killed mid-import (SIGKILL: no clean-up
of its own) leaves nothing half-stored: the database undoes its transaction, and the next worker's sweep
fails the job and removes the image files it had stored and its bundle.

Every process is started here and stopped here, by its pid.
"""

import hashlib
import io
import json
import os
import signal

import pytest

from bundles.services import export_bundle
from bundles.tasks import DEAD_NOTE
from cases.models import Case
from imaging.models import Image
from tests.helpers.bundle_jobs import HAEMANGIOMA, seed_archive
from tests.helpers.bundles import rewrite
from tests.helpers.workers import (
    database_url,  # noqa: F401 (a fixture)
    files_in,
    manage,
    query,
    start_worker,
    stop,
    wait_for,
    worker_site,
)

pytestmark = pytest.mark.django_db

#: Copies of one case in the bundle (two images each): enough for an import that a worker can be killed in
#: the middle of, once a quarter of its images are stored.
COPIES = 12


def copies(count: int):
    """A bundle change: its one case `count` times, under slugs of their own, sharing the image files."""

    def change(entries):
        manifest = json.loads(entries["manifest.json"])
        [slug] = manifest["cases"]
        record = json.loads(entries.pop(f"cases/{slug}.json"))
        del manifest["files"][f"cases/{slug}.json"]
        manifest["cases"] = []
        for n in range(count):
            copy = f"{slug}-{n}"
            entries[f"cases/{copy}.json"] = content = json.dumps({**record, "slug": copy}).encode()
            manifest["files"][f"cases/{copy}.json"] = hashlib.sha256(content).hexdigest()
            manifest["cases"].append(copy)
        entries["manifest.json"] = json.dumps(manifest).encode()

    return change


@pytest.fixture
def site(tmp_path, database_url):  # noqa: F811 (the fixture)
    return worker_site(tmp_path, database_url)


@pytest.fixture
def many(seeded, tmp_path):
    """A bundle of :data:`COPIES` cases, and how many images it holds."""
    seed_archive(slugs={HAEMANGIOMA})  # the one case exported
    one = io.BytesIO()
    export_bundle(Case.objects.filter(slug=HAEMANGIOMA), one)
    path = tmp_path / "many.zip"
    path.write_bytes(rewrite(one.getvalue(), copies(COPIES)))
    return path, Image.objects.filter(series__study__case__slug=HAEMANGIOMA).count() * COPIES


def queue_import(where, path) -> int:
    out = manage(
        where["env"],
        "shell",
        "-c",
        "from django.core.files import File; from bundles.tasks import bundle_import_enqueue; "
        f"print(bundle_import_enqueue(bundle=File(open({str(path)!r}, 'rb'), name='b.zip'), "
        "on_conflict='rename', by=None).pk)",
    )
    return int(out.split()[-1])


def job_row(where, job_id: int) -> dict:
    return query(where, "SELECT * FROM bundles_bundlejob WHERE id = %s", job_id)[0]


def count(where, table: str) -> int:
    return query(where, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_a_worker_killed_mid_import_leaves_nothing_and_the_next_one_imports_it_again(site, many):
    path, images = many
    stored = site["tmp"] / "media" / "images"
    waiting = site["tmp"] / "quarantine" / "bundle-imports"
    cases_before = count(site, "cases_case")
    # The folder holds the test process's own sample images too (the same temporary folder): not the site's.
    ours = set(files_in(stored))

    def imported() -> set:
        return set(files_in(stored)) - ours

    job_id = queue_import(site, path)
    first = start_worker(site, "worker-1.log")
    try:
        wait_for(
            lambda: job_row(site, job_id)["status"] == "running" and len(imported()) >= images // 4,
            "the first worker to store a quarter of the bundle's images",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    assert job_row(site, job_id)["status"] == "running"
    assert 0 < len(imported()) < images, "killed before or after the import stored its files"
    assert count(site, "cases_case") == cases_before and count(site, "imaging_image") == 0  # undone

    second = start_worker(site, "worker-2.log")
    try:
        settled = wait_for(
            lambda: (row := job_row(site, job_id))["status"] in {"failed", "done"} and row,
            "the second worker's sweep to settle the dead import",
        )
        assert (settled["status"], settled["note"]) == ("failed", DEAD_NOTE.format(kind="import")), settled
        # The job is failed first (a stalled worker that wakes then undoes its import), then its files go.
        wait_for(lambda: not imported() and not files_in(waiting), "the dead import's files to go")
        assert count(site, "cases_case") == cases_before

        # The same worker imports the bundle again, to the end.
        again = queue_import(site, path)
        done = wait_for(lambda: (row := job_row(site, again))["status"] in {"failed", "done"} and row, "it")
        assert (done["status"], done["done"], done["total"]) == ("done", COPIES, COPIES), done
        assert count(site, "cases_case") == cases_before + COPIES
        assert count(site, "imaging_image") == len(imported()) == images
        wait_for(lambda: not files_in(waiting), "the bundle to leave quarantine")  # just after the commit
    finally:
        stop(second)
