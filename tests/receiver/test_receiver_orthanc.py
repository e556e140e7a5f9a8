"""Integration with a real PACS: Debian's Orthanc pushes a study to ``receive_dicom`` through its REST
``/modalities/{id}/store``, both in a network namespace of the test's own
(tests/helpers/receiver_orthanc_push.py).

Needs root (``unshare -n``) and Debian's ``orthanc``, installed by ``make test`` when missing; without them
this test fails rather than skips."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.migrated_sqlite import template

HELPER = Path(__file__).resolve().parents[1] / "helpers" / "receiver_orthanc_push.py"


def test_orthanc_pushes_a_study_that_reaches_the_inbox_without_patient_data():
    assert Path("/usr/sbin/Orthanc").exists(), "Debian's orthanc is not installed"
    assert shutil.which("unshare"), "unshare (util-linux) is missing"
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable, str(HELPER),
         str(template())],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["status"] == "ready"
    assert (found["studies"], found["accepted"], found["stored"]) == (1, 2, 2)  # the CT study, not the MR
    assert found["planted"] == [] and found["quarantined"] == []
    assert found["log"] == [["ORTHANC", "released", 2]]


PULL_HELPER = Path(__file__).resolve().parents[1] / "helpers" / "receiver_orthanc_pull.py"


def test_a_study_pulled_over_dicomweb_from_orthanc_reaches_the_inbox_without_patient_data():
    assert Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so").exists(), (
        "orthanc-dicomweb is not installed"
    )
    namespace = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"']
    done = subprocess.run(
        [*namespace, sys.executable, str(PULL_HELPER), str(template())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    pulled, not_found, refused, away, broken, too_many = found["studies"]
    assert pulled[:4] == ["orthanc", "ready", "CT", ""]  # by its accession number: the CT, not the MR
    assert (found["accepted"], found["stored"]) == (2, 2)
    assert found["planted"] == [] and found["quarantined"] == []
    # Each failed pull is in its owner's inbox with the reason; no identifier asked for is kept.
    assert not_found[:2] == ["orthanc", "failed"] and "Study not found" in not_found[3]
    assert refused[:2] == ["wrong password", "failed"] and "refused the credentials (HTTP 401)" in refused[3]
    assert away[:2] == ["away", "failed"] and "could not be reached" in away[3]
    assert broken[:2] == ["orthanc", "failed"] and broken[3].startswith("No instance passed the image gate: ")
    assert too_many[:2] == ["orthanc", "failed"] and too_many[3] == "The study has more than 1 instances."
    assert all(study[4:] == ["", ""] for study in found["studies"])
