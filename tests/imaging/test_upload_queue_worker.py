"""The queue with real worker processes: ``manage.py db_worker`` on a SQLite file of the test's own (WAL,
immediate transactions), and in the PostgreSQL pass on a PostgreSQL database of its own, fed by
``import_images --background``. A worker killed mid-upload (SIGKILL: no
clean-up of its own) loses nothing: the next worker's sweep fails the upload and removes what it stored.

Every process is started here and stopped here, by its pid.
"""

import os
import re
import signal

import pytest

from imaging.demo import SAMPLE_DIR
from tests.helpers.workers import (
    PATIENCE,
    database_url,  # noqa: F401 (a fixture)
    files_in,
    manage,
    query,
    start_worker,
    stop,
    wait_for,
    worker_site,
)


@pytest.fixture
def site(tmp_path, database_url):  # noqa: F811 (the fixture)
    """A database, media and quarantine of the test's own, migrated, with one case and series."""
    site = worker_site(tmp_path, database_url)
    manage(
        site["env"],
        "shell",
        "-c",
        "from cases.models import Case; from imaging.services import series_create; "
        "series_create(case=Case.objects.create(slug='worker-case', title='Worker case'), label='Axial', "
        "modality='MR')",
    )
    return site


def queue_upload(site, count: int, name: str) -> int:
    folder = site["tmp"] / name
    folder.mkdir()
    for n in range(count):
        (folder / f"slice{n:04d}.dcm").write_bytes((SAMPLE_DIR / "MR_small.dcm").read_bytes())
    out = manage(
        site["env"], "import_images", "worker-case", str(folder), "--series", "Axial", "--background"
    )
    return int(re.search(r"Queued upload (\d+):", out).group(1))


def upload_row(site, upload_id: int) -> dict:
    return query(site, "SELECT * FROM imaging_upload WHERE id = %s", upload_id)[0]


def image_count(site) -> int:
    return query(site, "SELECT count(*) AS n FROM imaging_image")[0]["n"]


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
