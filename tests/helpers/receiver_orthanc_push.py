"""Run by test_receiver_orthanc.py inside ``unshare -n`` (loopback only): Orthanc 1.10 binds every
interface, so it and our receiver run together in a network namespace of their own.

A migrated SQLite site with a faculty member and the sender ORTHANC (host 127.0.0.1); ``receive_dicom
--port 0``; a fresh Orthanc holding files with planted patient data; Orthanc pushes the CT study to the
receiver through its REST ``/modalities/{id}/store``. Prints one JSON line: what reached the inbox.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.ingest import orthanc_start, orthanc_stop  # noqa: E402
from tests.helpers.migrated_sqlite import sqlite_copy  # noqa: E402
from tests.helpers.receiver_samples import PLANTED_TEXTS, encoded, sample  # noqa: E402


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="orthanc-push-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'site.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "QUARANTINE_ROOT": str(folder / "quarantine"),
    }

    def manage(*args) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )

    if len(sys.argv) > 1:  # the test's migrated database, copied (tests/helpers/migrated_sqlite.py)
        sqlite_copy(Path(sys.argv[1]), folder / "site.sqlite3")
    else:
        manage("migrate", "-v0")
    manage(
        "shell", "-c",
        "from django.contrib.auth.models import Group, User; "
        "User.objects.create_user('fac', is_staff=True).groups.add(Group.objects.get(name='faculty'))",
    )  # fmt: skip
    manage("dicom_senders", "add", "ORTHANC", "--author", "fac", "--host", "127.0.0.1")
    command = ["receive_dicom", "--port", "0", "--bind", "127.0.0.1", "--stable-seconds", "1"]
    receiver = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        (folder / "orthanc").mkdir()
        orthanc, client = orthanc_start(folder / "orthanc")
        try:
            print(json.dumps(push_and_look(folder, client, receiver, manage)))
        finally:
            orthanc_stop(orthanc, client)
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.communicate(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def push_and_look(folder: Path, client, receiver, manage) -> dict:
    """Orthanc pushes the CT study; what reached the inbox once it is there."""
    port = int(receiver.stdout.readline().rsplit(":", 1)[1])
    first, second = sample("CT_small.dcm", InstanceNumber=1), sample("CT_small.dcm", InstanceNumber=2)
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    studies = set()
    for ds in (first, second, sample("MR_small.dcm")):
        answer = client.json("POST", "/instances", encoded(ds), "application/dicom")
        if ds.Modality == "CT":
            studies.add(answer["ParentStudy"])
    (study,) = studies
    modality = {"AET": "TEACHING", "Host": "127.0.0.1", "Port": port}
    client.request("PUT", "/modalities/teaching", json.dumps(modality).encode(), "application/json")
    client.request("POST", "/modalities/teaching/store", study.encode(), "text/plain")
    database = folder / "site.sqlite3"
    status = None
    for _ in range(3000):  # handed over after a quiet second: its gate task is queued
        with sqlite3.connect(database) as connection:
            row = connection.execute("SELECT status FROM receiver_receivedstudy").fetchone()
        status = row[0] if row else None
        if status == "processing":
            break
        time.sleep(0.02)
    manage("db_worker", "--batch", "--no-startup-delay")  # a task worker runs the gate, then exits
    with sqlite3.connect(database) as connection:
        status = connection.execute("SELECT status FROM receiver_receivedstudy").fetchone()[0]
    with sqlite3.connect(database) as connection:
        studies_received = connection.execute("SELECT count(*) FROM receiver_receivedstudy").fetchone()[0]
        accepted = connection.execute(
            "SELECT count(*) FROM receiver_receivedinstance WHERE status = 'accepted'"
        ).fetchone()[0]
        log = connection.execute(
            "SELECT calling_ae_title, outcome, accepted FROM receiver_associationlog"
        ).fetchall()
    stored = [path.read_bytes() for path in (folder / "media" / "received").rglob("*.dcm")]
    return {
        "status": status,
        "studies": studies_received,
        "accepted": accepted,
        "stored": len(stored),
        "planted": [text.decode() for text in PLANTED_TEXTS for data in stored if text in data],
        "quarantined": [str(p) for p in (folder / "quarantine").rglob("*") if p.is_file()],
        "log": log,
    }


if __name__ == "__main__":
    main()
