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
from receiver.pulling import PullError, dicomweb_pull
source = DicomWebSource.objects.create(name="orthanc", url="http://127.0.0.1:{port}/dicom-web")
fac = User.objects.get(username="fac")
print(dicomweb_pull(source=source, by=fac, accession="PLANTACC99").pk)
try:
    dicomweb_pull(source=source, by=fac, accession="NO-SUCH-STUDY")
except PullError as error:
    print("refused:", error)
"""


def start_orthanc(folder: Path) -> tuple[subprocess.Popen, OrthancClient]:
    folder.mkdir()
    config = {
        "Name": "pull-test",
        "HttpPort": free_port(),
        "DicomPort": free_port(),
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with (folder / "orthanc.log").open("wb") as log:
        process = subprocess.Popen(
            [ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
        )
    client = OrthancClient(config["HttpPort"])
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
    }

    def manage(*args) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
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
        for ds in (first, second, sample("MR_small.dcm", AccessionNumber="OTHERACC")):
            client.json("POST", "/instances", encoded(ds), "application/dicom")
        output = manage("shell", "-c", PULL.format(port=client.port))
        manage("db_worker", "--batch", "--no-startup-delay")  # a task worker runs the gate, then exits
    finally:
        orthanc_stop(orthanc, client)
    try:
        with sqlite3.connect(folder / "site.sqlite3") as connection:
            studies = connection.execute(
                "SELECT status, modality, source_id FROM receiver_receivedstudy"
            ).fetchall()
            accepted = connection.execute(
                "SELECT count(*) FROM receiver_receivedinstance WHERE status = 'accepted'"
            ).fetchone()[0]
        stored = [path.read_bytes() for path in (folder / "media" / "received").glob("*.dcm")]
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
