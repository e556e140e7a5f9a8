"""A received study's gate in real ``db_worker`` processes killed by SIGKILL (no clean-up of their own), on a
SQLite file of the test's own and, in the PostgreSQL pass, on a PostgreSQL database of its own: the next
worker's sweep runs the gate again and finishes it; a gate killed a second time fails, with every file of
the study removed and the reason on the study.

Every process is started here and stopped here, by its pid.
"""

import os
import signal

import pytest

from tests.helpers.receiver_samples import PLANTED_TEXTS
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

#: Enough that each kill lands mid-gate (after 10 more accepted), few enough to spool quickly.
SLICES = 80

#: Run by ``manage.py shell``: a faculty member and a sender, a study of SLICES slices spooled as the
#: receiver spools them, handed over (its gate task queued for the workers).
SPOOL = f"""
from django.contrib.auth.models import Group, User
from receiver.handover import studies_hand_over
from receiver.models import AssociationLog, DicomSender
from receiver.spooling import Tally, instance_spool
from tests.helpers.receiver_samples import encoded, sample
fac = User.objects.create_user("fac", is_staff=True)
fac.groups.add(Group.objects.get(name="faculty"))
sender = DicomSender.objects.create(ae_title="PACS1", author=fac)
log = AssociationLog.objects.create(sender=sender, calling_ae_title="PACS1", address="127.0.0.1",
                                    started_at="2026-01-01T00:00:00Z")
tally = Tally(log_id=log.pk, sender=sender)
first = sample("CT_small.dcm")
for n in range({SLICES}):
    ds = sample("CT_small.dcm", InstanceNumber=n + 1)
    ds.SOPInstanceUID = f"{{first.SOPInstanceUID}}.{{n + 1}}"
    instance_spool(tally=tally, data=encoded(ds), sop_class=str(ds.SOPClassUID),
                   study_uid=str(ds.StudyInstanceUID), modality="CT")
print(studies_hand_over(stable_seconds=0))
"""


@pytest.fixture
def site(tmp_path, database_url):  # noqa: F811 (the fixture)
    site = worker_site(tmp_path, database_url)
    assert manage(site["env"], "shell", "-c", SPOOL).split()[-1] == "1"
    return site


def study(site) -> dict:
    return query(site, "SELECT * FROM receiver_receivedstudy")[0]


def accepted(site) -> int:
    rows = query(site, "SELECT count(*) AS n FROM receiver_receivedinstance WHERE status = 'accepted'")
    return rows[0]["n"]


def instances(site) -> int:
    return query(site, "SELECT count(*) AS n FROM receiver_receivedinstance")[0]["n"]


def kill_mid_gate(site, log: str, *, runs: int, past: int) -> None:
    """Start a worker, and SIGKILL it once its run `runs` of the gate has accepted more than `past`."""
    worker = start_worker(site, log)
    try:
        wait_for(
            lambda: study(site)["runs"] == runs and accepted(site) > past,
            f"run {runs} of the gate to accept more than {past} instances",
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=PATIENCE)
    finally:
        stop(worker)
    killed = study(site)
    assert (killed["status"], killed["runs"]) == ("gating", runs), killed
    assert accepted(site) < SLICES, "the gate ended before the kill"


def test_a_gate_killed_once_runs_again_to_the_end(site):
    kill_mid_gate(site, "worker-1.log", runs=1, past=10)
    second = start_worker(site, "worker-2.log")
    try:
        done = wait_for(
            lambda: (row := study(site))["status"] in {"ready", "failed"} and row, "the study to be settled"
        )
    finally:
        stop(second)
    assert (done["status"], done["runs"]) == ("ready", 2), done
    assert accepted(site) == SLICES
    assert files_in(site["tmp"] / "quarantine") == []
    named = {
        name
        for row in query(site, "SELECT file, thumbnail FROM receiver_receivedinstance")
        for name in (row["file"], row["thumbnail"])
        if name
    }
    stored = files_in(site["tmp"] / "media")
    assert {str(path.relative_to(site["tmp"] / "media")) for path in stored} == named  # no orphan
    assert not [text for text in PLANTED_TEXTS for path in stored if text in path.read_bytes()]
    assert "its worker died while gating it; queued again" in (site["tmp"] / "worker-2.log").read_text()


def test_a_gate_killed_twice_fails_with_every_file_removed(site):
    kill_mid_gate(site, "worker-1.log", runs=1, past=10)
    kill_mid_gate(site, "worker-2.log", runs=2, past=accepted(site) + 10)
    third = start_worker(site, "worker-3.log")
    try:
        failed = wait_for(
            lambda: (row := study(site))["status"] == "failed" and not instances(site) and row,
            "the study to fail and its instances to go",
        )
    finally:
        stop(third)
    assert failed["status_note"] == (
        "A worker stopped while gating this study, 2 times: it failed, and its files were removed."
    )
    assert files_in(site["tmp"] / "media") == [] and files_in(site["tmp"] / "quarantine") == []
