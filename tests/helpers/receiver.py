"""Helpers of the receiver's tests: DICOM files with planted patient data, limits, a receiver."""

from django.utils import timezone

from receiver import services
from receiver.models import AssociationLog, ReceivedStudy
from receiver.scp import Limits, Receiver
from receiver.spooling import Tally, instance_spool
from tests.helpers.receiver_samples import PLANTED, PLANTED_TEXTS, assert_no_planted_data, encoded, sample

__all__ = [
    "LIMITS",
    "PLANTED",
    "PLANTED_TEXTS",
    "Limits",
    "assert_no_planted_data",
    "encoded",
    "make_receiver",
    "quarantined_files",
    "receive",
    "sample",
    "spool",
]


def quarantined_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


LIMITS = Limits(max_instances=50, max_bytes=50 << 20, max_seconds=600, idle_seconds=30)


def make_receiver(limits: Limits) -> Receiver:
    scp = Receiver(ae_title="TEACHING", bind="127.0.0.1", port=0, stable_seconds=3600, limits=limits)
    scp.start()
    return scp


def receive(sender, *datasets) -> ReceivedStudy:
    """Spool `datasets` as the receiver does, then gate their study (the hand-over's task)."""
    return services.received_study_gate(study_id=spool(sender, *datasets).pk)


def spool(sender, *datasets) -> ReceivedStudy:
    """Spool `datasets` as the receiver does: their study, still receiving."""
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
    return instance.study
