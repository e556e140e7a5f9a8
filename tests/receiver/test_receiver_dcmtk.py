"""Integration: Debian's dcmtk (``echoscu``, ``storescu``) against the receiver on 127.0.0.1, and bad
input over the network (unknown AE, unsupported SOP class, corrupt instance, too much, a cut).

dcmtk is installed by ``make test`` when missing; without it these tests fail rather than skip, so a CI
run without it cannot pass unnoticed.
"""

import contextlib
import socket
import threading
import time

import pytest
from django.core.files.storage import default_storage
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from receiver.handover import studies_hand_over
from receiver.models import AssociationLog, DicomSender, ReceivedInstance, ReceivedStudy
from tests.helpers.dcmtk import dcmtk, storescu
from tests.helpers.receiver import (
    PLANTED_TEXTS,
    Limits,
    assert_no_planted_data,
    make_receiver,
    quarantined_files,
    sample,
)

pytest_plugins = ["tests.helpers.receiver_fixtures"]
pytestmark = pytest.mark.django_db(transaction=True)


def ended_logs(count: int = 1) -> list[AssociationLog]:
    """The association log rows, once `count` of them say how their association ended."""
    for _ in range(1500):  # the receiver writes the row on its own thread, soon after (a busy machine: later)
        logs = list(AssociationLog.objects.exclude(outcome="open").order_by("pk"))
        if len(logs) >= count:
            return logs
        time.sleep(0.02)
    raise AssertionError("the associations were never logged as ended")


def written(tmp_path, name: str, ds) -> str:
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def test_echoscu_from_a_sender_and_from_a_stranger(receiver, sender):
    assert dcmtk("echoscu", "-aet", "PACS1", "-aec", "TEACHING", "127.0.0.1", receiver.port).returncode == 0
    stranger = dcmtk("echoscu", "-aet", "STRANGER", "-aec", "TEACHING", "127.0.0.1", receiver.port)
    assert stranger.returncode != 0 and "Rejected" in stranger.stderr + stranger.stdout
    first, second = ended_logs(2)
    assert (first.outcome, first.sender) == ("released", sender)
    assert (second.outcome, second.calling_ae_title, second.reason) == (
        "rejected",
        "STRANGER",
        "unknown calling AE title",
    )


def test_storescu_sends_a_study_that_reaches_the_inbox_without_patient_data(
    receiver, sender, tmp_path, quarantine_root
):
    files = []
    for number in (1, 2, 3):
        ds = sample("CT_small.dcm", InstanceNumber=number)
        ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{number}"
        files.append(written(tmp_path, f"ct{number}.dcm", ds))
    sent = storescu(receiver.port, *files)
    assert sent.returncode == 0, sent.stderr
    (log,) = ended_logs()
    assert (log.outcome, log.accepted, log.rejected) == ("released", 3, 0)
    assert studies_hand_over(stable_seconds=0) == 1
    study = ReceivedStudy.objects.get()
    assert (study.status, study.owner, study.instances.filter(status="accepted").count()) == (
        "ready",
        sender.author,
        3,
    )
    assert quarantined_files(quarantine_root) == []
    for instance in study.instances.all():
        with default_storage.open(instance.file.name) as stored:
            assert_no_planted_data(stored.read())
    # Nothing planted anywhere in what the database keeps of the study either.
    rows = repr(list(ReceivedInstance.objects.values())) + repr(list(ReceivedStudy.objects.values()))
    assert not any(text.decode() in rows for text in PLANTED_TEXTS)


def test_a_wrong_host_is_rejected_and_nothing_stored(receiver, faculty, tmp_path, quarantine_root):
    DicomSender.objects.create(ae_title="PACS1", host="192.0.2.44", author=faculty)
    sent = storescu(receiver.port, written(tmp_path, "ct.dcm", sample("CT_small.dcm")))
    assert sent.returncode != 0
    (log,) = ended_logs()
    assert log.outcome == "rejected"
    assert not ReceivedStudy.objects.exists() and quarantined_files(quarantine_root) == []


def test_an_unsupported_sop_class_is_refused_and_logged(receiver, sender, tmp_path, quarantine_root):
    dose = sample("rtdose.dcm")  # RT Dose: not an image storage class the ingest reads
    sent = storescu(receiver.port, written(tmp_path, "dose.dcm", dose))
    assert sent.returncode != 0 or "no presentation context" in sent.stderr.lower()
    (log,) = ended_logs()
    assert log.accepted == 0
    assert str(dose.SOPClassUID) in log.refused_sop_classes
    assert str(CTImageStorage) not in log.refused_sop_classes
    assert not ReceivedStudy.objects.exists() and quarantined_files(quarantine_root) == []


def test_a_corrupt_instance_is_quarantined_then_rejected_by_the_gate_and_nothing_kept(
    receiver, sender, tmp_path, quarantine_root
):
    corrupt = sample("CT_small.dcm")
    corrupt.PixelData = corrupt.PixelData[: len(corrupt.PixelData) // 2]  # half the pixels: a broken file
    sent = storescu(receiver.port, written(tmp_path, "corrupt.dcm", corrupt))
    assert sent.returncode == 0, sent.stderr
    ended_logs()
    studies_hand_over(stable_seconds=0)
    instance = ReceivedInstance.objects.get()
    assert (instance.status, bool(instance.file), instance.quarantine_file) == ("rejected", False, "")
    assert instance.reason
    assert quarantined_files(quarantine_root) == []


def test_an_association_sending_too_many_instances_is_aborted(sender, tmp_path, quarantine_root, media_root):
    receiver = make_receiver(Limits(max_instances=2, max_bytes=1 << 30, max_seconds=600, idle_seconds=30))
    try:
        files = []
        for number in (1, 2, 3, 4):
            ds = sample("CT_small.dcm", InstanceNumber=number)
            ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{number}"
            files.append(written(tmp_path, f"ct{number}.dcm", ds))
        sent = storescu(receiver.port, *files)
        assert sent.returncode != 0
        (log,) = ended_logs()
    finally:
        receiver.shutdown()
    assert (log.outcome, log.accepted) == ("aborted", 2)
    assert log.reason == "more than 2 instances in one association"
    assert ReceivedInstance.objects.count() == 2 and len(quarantined_files(quarantine_root)) == 2


def test_an_association_sending_too_many_bytes_is_aborted(sender, quarantine_root, media_root):
    receiver = make_receiver(Limits(max_instances=100, max_bytes=10_000, max_seconds=600, idle_seconds=30))
    try:
        client = AE(ae_title="PACS1")
        client.add_requested_context(CTImageStorage)
        assoc = client.associate("127.0.0.1", receiver.port, ae_title="TEACHING")
        assoc.send_c_store(sample("CT_small.dcm"))  # about 39 kB
        (log,) = ended_logs()
    finally:
        receiver.shutdown()
    assert (log.outcome, log.accepted, log.rejected) == ("aborted", 0, 1)
    assert "bytes" in log.reason
    assert quarantined_files(quarantine_root) == []


def cutting_proxy(target_port: int, cut_after: int, *, stall: bool = False) -> tuple[int, threading.Thread]:
    """A TCP proxy on 127.0.0.1 that passes `cut_after` bytes from its client, then closes both ends; or,
    with `stall`, passes nothing more (a sender trickling one PDU) and closes both ends once the receiver
    has closed its own."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        client, _ = listener.accept()
        listener.close()
        server = socket.create_connection(("127.0.0.1", target_port))
        passed = 0
        receiver_closed = threading.Event()

        def replies() -> None:
            try:
                while data := server.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            receiver_closed.set()

        threading.Thread(target=replies, daemon=True).start()
        try:
            while passed < cut_after and (data := client.recv(min(65536, cut_after - passed))):
                server.sendall(data)
                passed += len(data)
            if stall:
                receiver_closed.wait(timeout=120)
        finally:
            # shutdown, not only close: the reply thread's pending recv would keep the sockets open.
            for end in (server, client):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_an_association_cut_half_way_through_an_instance_stores_nothing(
    receiver, sender, tmp_path, quarantine_root
):
    path = written(tmp_path, "ct.dcm", sample("CT_small.dcm"))
    port, proxy = cutting_proxy(receiver.port, cut_after=20_000)  # the association and half the instance
    sent = storescu(port, path)
    proxy.join(timeout=30)
    assert sent.returncode != 0
    (log,) = ended_logs()
    assert (log.outcome, log.accepted) == ("aborted", 0)
    assert not ReceivedInstance.objects.exists() and quarantined_files(quarantine_root) == []


def test_a_pixel_bomb_is_refused_by_the_gate_before_decoding_and_nothing_kept(
    receiver, sender, tmp_path, quarantine_root
):
    bomb = sample("CT_small.dcm", Rows=60000, Columns=60000)  # 3.6 G pixels declared over 32 kB of data
    sent = storescu(receiver.port, written(tmp_path, "b.dcm", bomb))
    assert sent.returncode == 0, sent.stderr
    ended_logs()
    studies_hand_over(stable_seconds=0)
    instance = ReceivedInstance.objects.get()
    assert (instance.status, bool(instance.file)) == ("rejected", False)
    assert "limit" in instance.reason
    assert quarantined_files(quarantine_root) == []


def test_a_sender_trickling_one_instance_is_cut_off_at_the_time_limit(sender, tmp_path, quarantine_root):
    # Idle far longer than the time limit: only the time limit can end this association.
    receiver = make_receiver(Limits(max_instances=100, max_bytes=1 << 30, max_seconds=2, idle_seconds=600))
    try:
        port, proxy = cutting_proxy(receiver.port, cut_after=20_000, stall=True)  # half an instance, then
        sent = storescu(port, written(tmp_path, "ct.dcm", sample("CT_small.dcm")))
        proxy.join(timeout=60)
        (log,) = ended_logs()
    finally:
        receiver.shutdown()
    assert sent.returncode != 0
    assert (log.outcome, log.accepted, log.reason) == ("aborted", 0, "association open longer than 2 seconds")
    assert not ReceivedInstance.objects.exists() and quarantined_files(quarantine_root) == []


def test_an_instance_over_the_size_limit_is_cut_off_as_it_arrives(sender, tmp_path, quarantine_root):
    limits = Limits(
        max_instances=100, max_bytes=1 << 30, max_seconds=600, idle_seconds=30, max_instance_bytes=20_000
    )
    receiver = make_receiver(limits)
    try:
        sent = storescu(receiver.port, written(tmp_path, "ct.dcm", sample("CT_small.dcm")))  # about 39 kB
        (log,) = ended_logs()
    finally:
        receiver.shutdown()
    assert sent.returncode != 0
    assert (log.outcome, log.accepted, log.rejected) == ("aborted", 0, 1)
    assert log.reason == "an instance larger than 20000 bytes"
    assert not ReceivedInstance.objects.exists() and quarantined_files(quarantine_root) == []
