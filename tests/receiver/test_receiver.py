"""The receiver driven by pynetdicom as the client: senders, C-ECHO, C-STORE, the gate, the log."""

import resource
import subprocess
import sys
import time

import pytest
from django.core.files.storage import default_storage
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, MRImageStorage, Verification

from receiver.handover import studies_hand_over
from receiver.models import AssociationLog, DicomSender, ReceivedInstance, ReceivedStudy
from tests.helpers.bombs import deflate_bomb_dicom
from tests.helpers.receiver import (
    Limits,
    assert_no_planted_data,
    make_receiver,
    quarantined_files,
    sample,
)

pytest_plugins = ["tests.helpers.receiver_fixtures"]

pytestmark = pytest.mark.django_db(transaction=True)


def associate(receiver, ae_title="PACS1", contexts=(Verification, CTImageStorage, MRImageStorage)):
    client = AE(ae_title=ae_title)
    for context in contexts:
        client.add_requested_context(context)
    return client.associate("127.0.0.1", receiver.port, ae_title="TEACHING")


def wait_for_log(outcomes=("released", "aborted", "rejected")) -> AssociationLog:
    """The association's log row once the receiver has written how it ended (it does so on its thread)."""
    for _ in range(1500):  # written on the receiver's thread, soon after (on a busy machine, later)
        log = AssociationLog.objects.order_by("-pk").first()
        if log is not None and log.outcome in outcomes:
            return log
        time.sleep(0.02)
    raise AssertionError("the association was never logged as ended")


def test_echo_from_a_configured_sender(receiver, sender):
    assoc = associate(receiver)
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000
    log = wait_for_log()
    assert (log.sender, log.calling_ae_title, log.address) == (sender, "PACS1", "127.0.0.1")
    assert log.outcome == "released"


def test_an_unknown_ae_title_is_rejected_and_nothing_stored(receiver, sender, quarantine_root):
    assoc = associate(receiver, ae_title="STRANGER")
    assert assoc.is_rejected
    log = wait_for_log()
    assert (log.sender, log.calling_ae_title, log.outcome) == (None, "STRANGER", "rejected")
    assert log.reason == "unknown calling AE title"
    assert not ReceivedStudy.objects.exists()
    assert quarantined_files(quarantine_root) == []


def test_a_known_ae_title_from_another_address_is_rejected(receiver, faculty):
    DicomSender.objects.create(ae_title="PACS1", host="10.9.8.7", author=faculty)
    assoc = associate(receiver)
    assert assoc.is_rejected
    log = wait_for_log()
    assert log.outcome == "rejected" and "other than the sender's" in log.reason


def test_stored_instances_are_quarantined_grouped_by_study_and_logged(receiver, sender, quarantine_root):
    ct, mr = sample("CT_small.dcm"), sample("MR_small.dcm")
    assoc = associate(receiver)
    assert [assoc.send_c_store(ct).Status, assoc.send_c_store(mr).Status] == [0, 0]
    assoc.release()
    log = wait_for_log()
    assert (log.outcome, log.accepted, log.rejected) == ("released", 2, 0)
    studies = ReceivedStudy.objects.order_by("modality")
    assert [(s.modality, s.status, s.owner, s.instances.count()) for s in studies] == [
        ("CT", "receiving", sender.author, 1),
        ("MR", "receiving", sender.author, 1),
    ]
    assert len(quarantined_files(quarantine_root)) == 2
    # Nothing of the original identifiers is kept in a row, the Study Instance UID included.
    assert ct.StudyInstanceUID not in {s.arrival_key for s in studies}


def test_instances_of_one_study_over_two_associations_form_one_study(receiver, sender):
    first, second = sample("CT_small.dcm"), sample("CT_small.dcm")
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    for ds in (first, second):
        assoc = associate(receiver)
        assert assoc.send_c_store(ds).Status == 0
        assoc.release()
        wait_for_log()
    assert ReceivedStudy.objects.get().instances.count() == 2


def test_hand_over_gates_the_study_and_empties_the_quarantine(receiver, sender, quarantine_root):
    assoc = associate(receiver)
    assert assoc.send_c_store(sample("CT_small.dcm")).Status == 0
    assoc.release()
    wait_for_log()
    assert studies_hand_over(stable_seconds=3600) == 0  # not quiet long enough yet
    assert studies_hand_over(stable_seconds=0) == 1  # the immediate backend runs the gate here
    study = ReceivedStudy.objects.get()
    assert study.status == "ready"
    instance = study.instances.get()
    assert instance.status == ReceivedInstance.Status.ACCEPTED
    assert quarantined_files(quarantine_root) == []
    with default_storage.open(instance.file.name) as stored:
        assert_no_planted_data(stored.read())
    assert study.deidentification_summary["accepted"] == 1
    assert "InstitutionName" in study.deidentification_summary["removed"]
    assert studies_hand_over(stable_seconds=0) == 0  # once only


def test_an_unreadable_instance_is_refused_and_nothing_kept(receiver, sender, quarantine_root):
    broken = sample("CT_small.dcm")
    del broken.StudyInstanceUID
    assoc = associate(receiver)
    assert assoc.send_c_store(broken).Status == 0xC000
    assoc.release()
    log = wait_for_log()
    assert (log.accepted, log.rejected) == (0, 1)
    assert log.rejections[0]["reason"].startswith("the header cannot be read")
    assert quarantined_files(quarantine_root) == [] and not ReceivedStudy.objects.exists()


def test_an_association_open_too_long_is_aborted_at_its_next_instance(sender, quarantine_root, media_root):
    receiver = make_receiver(Limits(max_instances=100, max_bytes=1 << 30, max_seconds=0, idle_seconds=30))
    try:
        assoc = associate(receiver)
        status = assoc.send_c_store(sample("CT_small.dcm")).get("Status")  # None: aborted before an answer
        assert status != 0x0000
        log = wait_for_log()
    finally:
        receiver.shutdown()
    assert (log.outcome, log.accepted, log.rejected) == ("aborted", 0, 1)
    assert log.reason == "association open longer than 0 seconds"
    assert quarantined_files(quarantine_root) == [] and not ReceivedStudy.objects.exists()


def test_a_silent_association_is_aborted(sender, quarantine_root, media_root):
    receiver = make_receiver(Limits(max_instances=100, max_bytes=1 << 30, max_seconds=600, idle_seconds=1))
    try:
        assoc = associate(receiver)
        assert assoc.send_c_echo().Status == 0
        log = wait_for_log()  # nothing more is sent: the receiver gives up after a second of silence
    finally:
        receiver.shutdown()
    assert (log.outcome, log.reason) == ("aborted", "nothing received for 1 s")


#: A sender in a process of its own that sends a file as it is on disk, deflated: pynetdicom's client
#: otherwise decodes the file first (its STORE_SEND_CHUNKED_DATASET option, set as its documentation shows).
RAW_SENDER = """
import sys
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pynetdicom import AE, _config
from pynetdicom.sop_class import CTImageStorage
_config.STORE_SEND_CHUNKED_DATASET = True
client = AE(ae_title="PACS1")
client.add_requested_context(CTImageStorage, [DeflatedExplicitVRLittleEndian])
assoc = client.associate("127.0.0.1", int(sys.argv[1]), ae_title="TEACHING")
print(assoc.send_c_store(sys.argv[2]).Status)
assoc.release()
"""


def test_a_deflate_bomb_is_read_by_the_receiver_without_inflating_it_and_refused_by_the_gate(
    receiver, sender, quarantine_root, media_root, tmp_path
):
    path = tmp_path / "bomb.dcm"
    path.write_bytes(deflate_bomb_dicom(inflated=1 << 30))  # a megabyte or so that inflates to 1 GiB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, of this process: the receiver's
    sent = subprocess.run(
        [sys.executable, "-c", RAW_SENDER, str(receiver.port), str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert sent.stdout.split() == ["0"], sent.stderr[-2000:]
    assert wait_for_log().accepted == 1
    studies_hand_over(stable_seconds=0)  # the gate, here too
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 256 << 10  # far from 1 GiB
    instance = ReceivedInstance.objects.get()
    assert (instance.status, bool(instance.file)) == ("rejected", False)
    assert "limit" in instance.reason
    assert quarantined_files(quarantine_root) == []
