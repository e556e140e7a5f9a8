"""The receiver's writes: association log rows, and each instance spooled to quarantine with its row.

Called from the receiver's threads (one per association); nothing here de-identifies or reads pixels.
The gate runs later, in a task (:mod:`receiver.tasks`).
"""

import contextlib
import hashlib
import hmac
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from imaging.quarantine import quarantine_storage
from receiver.models import AssociationLog, DicomSender, ReceivedInstance, ReceivedStudy

#: Rejected instances listed one by one in an association's log; past this only counted.
MAX_LOGGED_REJECTIONS = 100


def quarantine():
    """The quarantine storage (``settings.QUARANTINE_STORAGE``), shared with the uploads: their sweep
    touches only their own ``uploads/`` folder, and received instances live under ``received/``."""
    return quarantine_storage()


def study_folder(study_id: int) -> str:
    """The folder of a received study's own files, in media storage and (for a pull) in quarantine. Named by
    a keyed hash of the study's id, so that it cannot be guessed; removed whole with the study, so that a
    file a dead worker stored before its row was written goes with it."""
    message = f"received-files:{study_id}".encode()
    return "received/" + hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def folder_delete(storage, folder: str) -> int:
    """Delete every file of `folder` in `storage`, and the folder where the storage has folders; how many."""
    try:
        _, files = storage.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in files:
        storage.delete(f"{folder}/{name}")
    with contextlib.suppress(NotImplementedError, OSError):  # object stores have no folders to remove
        os.rmdir(storage.path(folder))
    return len(files)


def sender_for(*, ae_title: str, address: str) -> tuple[DicomSender | None, str]:
    """The configured sender calling as `ae_title` from `address`, or None and why not."""
    sender = DicomSender.objects.select_related("author").filter(ae_title=ae_title.strip()).first()
    if sender is None:
        return None, "unknown calling AE title"
    if sender.host and sender.host != address:
        return None, "calling from an address other than the sender's"
    if not sender.author.is_active:
        return None, "the sender's inbox owner is not an active user"
    return sender, ""


def association_open(
    *, sender: DicomSender | None, ae_title: str, address: str, reason: str = ""
) -> AssociationLog:
    """The log row of a new association: open, or already rejected (with `reason`) if no sender."""
    now = timezone.now()
    return AssociationLog.objects.create(
        sender=sender,
        calling_ae_title=ae_title.strip()[:16],
        address=address[:64],
        started_at=now,
        ended_at=None if sender else now,
        outcome=AssociationLog.Outcome.OPEN if sender else AssociationLog.Outcome.REJECTED,
        reason=reason,
    )


@dataclass
class Tally:
    """What one association did so far, kept in memory and written to its log row as it ends."""

    log_id: int
    sender: DicomSender
    accepted: int = 0
    rejected: int = 0
    received_bytes: int = 0
    rejections: list[dict] = field(default_factory=list)  # each refused instance's SOP class and reason
    refused_sop_classes: list[str] = field(default_factory=list)  # refused at negotiation: never sent
    finished: bool = False
    abort_reason: str = ""  # set when the receiver itself aborts the association
    in_transit: int = 0  # bytes of PDUs received since the last whole instance
    started: float = field(default_factory=time.monotonic)

    def reject(self, sop_class: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LOGGED_REJECTIONS:
            self.rejections.append({"sop_class": sop_class, "reason": reason})


def association_close(*, tally: Tally, outcome: str, reason: str = "") -> None:
    AssociationLog.objects.filter(pk=tally.log_id).update(
        ended_at=timezone.now(),
        outcome=outcome,
        reason=reason[:300],
        accepted=tally.accepted,
        rejected=tally.rejected,
        received_bytes=tally.received_bytes,
        rejections=tally.rejections,
        refused_sop_classes=tally.refused_sop_classes,
    )


def arrival_key(sender: DicomSender, study_uid: str) -> str:
    """Groups a sender's instances by study without storing the original Study Instance UID."""
    message = f"receiver-study:{sender.pk}:{study_uid.strip()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def new_study_key() -> tuple[str, int]:
    """A seed and a date shift of the study's own, drawn as imaging draws a case's."""
    return secrets.token_hex(16), -secrets.randbelow(3650) - 365


def instance_spool(
    *, tally: Tally, data: bytes, sop_class: str, study_uid: str, modality: str
) -> ReceivedInstance:
    """Write one received instance (as sent, with its file meta) to quarantine and record it.

    Its study is the one still receiving from this sender under the same Study Instance UID, or a
    new one. The file is written first; if its row cannot be, the file is deleted again, so nothing
    is ever half-stored.
    """
    storage = quarantine()
    name = storage.save(f"received/{uuid.uuid4().hex}.dcm", ContentFile(data))
    row = {"tally": tally, "name": name, "size": len(data), "sop_class": sop_class, "study_uid": study_uid}
    try:
        try:
            instance = _instance_row(**row, modality=modality)
        except IntegrityError:
            # Another association of the same sender started the same study at the same moment (one study
            # receiving per key): it exists now, so this instance joins it.
            instance = _instance_row(**row, modality=modality)
    except BaseException:
        storage.delete(name)
        raise
    tally.accepted += 1
    tally.received_bytes += len(data)
    return instance


@transaction.atomic
def _instance_row(*, tally: Tally, name: str, size: int, sop_class: str, study_uid: str, modality: str):
    now = timezone.now()
    key = arrival_key(tally.sender, study_uid)
    # One statement that finds and touches the study: a hand-over running at the same time either
    # took it before (nothing updated: a new study starts) or sees it touched and leaves it.
    study = ReceivedStudy.objects.filter(arrival_key=key, status=ReceivedStudy.Status.RECEIVING).first()
    touched = study is not None and ReceivedStudy.objects.filter(
        pk=study.pk, status=ReceivedStudy.Status.RECEIVING
    ).update(last_received_at=now)
    if not touched:
        seed, offset = new_study_key()
        study = ReceivedStudy.objects.create(
            sender=tally.sender,
            owner=tally.sender.author,
            arrival_key=key,
            seed=seed,
            date_offset_days=offset,
            modality=modality[:16],
            first_received_at=now,
            last_received_at=now,
        )
    return ReceivedInstance.objects.create(
        study=study,
        association_id=tally.log_id,
        sop_class_uid=sop_class[:64],
        quarantine_file=name,
        size_bytes=size,
        received_at=now,
    )
