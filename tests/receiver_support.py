"""Helpers of the receiver's tests: DICOM files with planted patient data, limits, a receiver."""

from io import BytesIO

import pydicom
from django.utils import timezone
from pydicom.data import get_testdata_file

from receiver import services
from receiver.models import AssociationLog, ReceivedStudy
from receiver.scp import Limits, Receiver
from receiver.spooling import Tally, instance_spool

PLANTED = {
    "PatientName": "Plantedname^Jane",
    "PatientID": "PLANTED-PID-4711",
    "PatientBirthDate": "19610203",
    "InstitutionName": "Planted General Hospital",
    "ReferringPhysicianName": "Plantedphysician^Bob",
    "AccessionNumber": "PLANTACC99",
    "StudyDate": "20200315",
}
PLANTED_TEXTS = [
    b"Plantedname",
    b"PLANTED-PID-4711",
    b"19610203",
    b"Planted General",
    b"Plantedphysician",
    b"PLANTACC99",
]


def sample(name: str, **changes) -> pydicom.Dataset:
    """A pydicom sample file with planted patient data (and any `changes`)."""
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    for keyword, value in {**PLANTED, **changes}.items():
        setattr(ds, keyword, value)
    return ds


def encoded(ds: pydicom.Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def assert_no_planted_data(data: bytes) -> None:
    for text in PLANTED_TEXTS:
        assert text not in data, text


def quarantined_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


LIMITS = Limits(max_instances=50, max_bytes=50 << 20, max_seconds=600, idle_seconds=30)


def make_receiver(limits: Limits) -> Receiver:
    scp = Receiver(ae_title="TEACHING", bind="127.0.0.1", port=0, stable_seconds=3600, limits=limits)
    scp.start()
    return scp


def receive(sender, *datasets) -> ReceivedStudy:
    """Spool `datasets` as the receiver does, then gate their study (the hand-over's task)."""
    log = AssociationLog.objects.create(
        sender=sender, calling_ae_title=sender.ae_title, address="127.0.0.1", started_at=timezone.now()
    )
    tally = Tally(log_id=log.pk, sender=sender)
    for ds in datasets:
        instance = instance_spool(
            tally=tally,
            data=encoded(ds),
            sop_class=str(ds.SOPClassUID),
            study_uid=str(ds.StudyInstanceUID),
            modality=str(ds.Modality),
        )
    return services.received_study_gate(study_id=instance.study_id)
