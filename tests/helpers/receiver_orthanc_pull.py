"""Run by test_receiver_orthanc.py inside ``unshare -n``: Orthanc with Debian's DICOMweb plugin serves
QIDO-RS and WADO-RS; ``receiver.pulling.dicomweb_pull`` finds a study by its accession number, retrieves it
and passes it through the gate. Prints one JSON line: what reached the inbox."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.ingest import ORTHANC, OrthancClient, free_port, orthanc_stop  # noqa: E402
from tests.helpers.migrated_sqlite import sqlite_copy  # noqa: E402
from tests.helpers.receiver_samples import PLANTED_TEXTS, encoded, sample  # noqa: E402

PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PULL = """
from django.contrib.auth.models import User
from receiver.models import DicomWebSource
from receiver.secrets import secret_encrypt
from receiver.tasks import dicomweb_pull_enqueue
url = "http://127.0.0.1:{port}/dicom-web"
source = DicomWebSource.objects.create(
    name="orthanc", url=url, username="teach", password_encrypted=secret_encrypt("{password}")
)
wrong = DicomWebSource.objects.create(
    name="wrong password", url=url, username="teach", password_encrypted=secret_encrypt("wrong")
)
away = DicomWebSource.objects.create(name="away", url="http://127.0.0.1:{closed}/dicom-web")
fac = User.objects.get(username="fac")
for asked_of, accession in [(source, "PLANTACC99"), (source, "NO-SUCH-STUDY"), (wrong, "PLANTACC99"),
                            (away, "PLANTACC99"), (source, "BROKEN01")]:
    dicomweb_pull_enqueue(source=asked_of, by=fac, accession=accession)
"""
#: One more pull of the two-slice study, run by a worker allowed one instance per study.
PULL_AGAIN = """
from django.contrib.auth.models import User
from receiver.models import DicomWebSource
from receiver.tasks import dicomweb_pull_enqueue
source = DicomWebSource.objects.get(name="orthanc")
dicomweb_pull_enqueue(source=source, by=User.objects.get(username="fac"), accession="PLANTACC99")
"""
#: The password Orthanc asks of the archive's source (HTTP basic).
PASSWORD = "right-pw"


def start_orthanc(folder: Path) -> tuple[subprocess.Popen, OrthancClient]:
    folder.mkdir()
    config = {
        "Name": "pull-test",
        "HttpPort": free_port(),
        "DicomPort": free_port(),
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {"teach": PASSWORD},
        "Plugins": [PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with (folder / "orthanc.log").open("wb") as log:
        process = subprocess.Popen(
            [ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
        )
    client = OrthancClient(config["HttpPort"], auth=("teach", PASSWORD))
    for _ in range(300):
        try:
            client.json("GET", "/system")
            return process, client
        except Exception:
            client.connection.close()
            time.sleep(0.1)
    orthanc_stop(process, client)
    raise RuntimeError("Orthanc did not start")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="orthanc-pull-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'site.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "QUARANTINE_ROOT": str(folder / "quarantine"),
        # The unreachable source is still asked 5 times, without waiting 30 s in between.
        "RECEIVER_PULL_RETRY_SECONDS": "0.01",
    }

    def manage(*args, **settings) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **settings},
            capture_output=True,
            text=True,
        )
        if done.returncode:  # the command's own error, for the test's failure message
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    if len(sys.argv) > 1:  # the test's migrated database, copied (tests/helpers/migrated_sqlite.py)
        sqlite_copy(Path(sys.argv[1]), folder / "site.sqlite3")
    else:
        manage("migrate", "-v0")
    manage(
        "shell", "-c",
        "from django.contrib.auth.models import Group, User; "
        "User.objects.create_user('fac', is_staff=True).groups.add(Group.objects.get(name='faculty'))",
    )  # fmt: skip
    orthanc, client = start_orthanc(folder / "orthanc")
    try:
        first, second = sample("CT_small.dcm", InstanceNumber=1), sample("CT_small.dcm", InstanceNumber=2)
        second.SOPInstanceUID = first.SOPInstanceUID + ".2"
        # A study of its own (its own series and instance UIDs) whose pixel data falls short of what its
        # header declares: the gate refuses it.
        broken = sample(
            "MR_small.dcm", AccessionNumber="BROKEN01", Rows=4096, StudyInstanceUID="1.2.826.0.1.99.1",
            SeriesInstanceUID="1.2.826.0.1.99.1.1", SOPInstanceUID="1.2.826.0.1.99.1.1.1",
        )  # fmt: skip
        for ds in (first, second, sample("MR_small.dcm", AccessionNumber="OTHERACC"), broken):
            client.json("POST", "/instances", encoded(ds), "application/dicom")
        output = manage("shell", "-c", PULL.format(port=client.port, password=PASSWORD, closed=free_port()))
        manage("db_worker", "--batch", "--no-startup-delay")  # a task worker pulls, gates, then exits
        manage("shell", "-c", PULL_AGAIN)
        manage("db_worker", "--batch", "--no-startup-delay", RECEIVER_MAX_INSTANCES="1")
    finally:
        orthanc_stop(orthanc, client)
    try:
        with sqlite3.connect(folder / "site.sqlite3") as connection:
            studies = connection.execute(
                "SELECT s.name, r.status, r.modality, r.status_note, r.pull_accession, r.pull_study_uid "
                "FROM receiver_receivedstudy r JOIN receiver_dicomwebsource s ON s.id = r.source_id "
                "ORDER BY r.id"
            ).fetchall()
            accepted = connection.execute(
                "SELECT count(*) FROM receiver_receivedinstance WHERE status = 'accepted'"
            ).fetchone()[0]
        stored = [path.read_bytes() for path in (folder / "media" / "received").rglob("*.dcm")]
        print(json.dumps({
            "output": output,
            "studies": studies,
            "accepted": accepted,
            "stored": len(stored),
            "planted": [text.decode() for text in PLANTED_TEXTS for data in stored if text in data],
            "quarantined": [str(p) for p in (folder / "quarantine").rglob("*") if p.is_file()],
        }))  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
