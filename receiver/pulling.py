"""Pull a study over DICOMweb: find it with QIDO-RS, retrieve it with WADO-RS (the well-kept
``dicomweb-client``), spool it to quarantine like a received one, and hand it to the same gate.

Runs in a task (:func:`receiver.tasks.dicomweb_pull_task`): retrieval takes as long as the study is large.
"""

import secrets
import uuid
from io import BytesIO

import requests
from dicomweb_client.api import DICOMwebClient
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from pydicom.dataset import FileMetaDataset

from authoring import rules
from receiver.contexts import ACCEPTED_STORAGE_CLASSES
from receiver.models import DicomWebSource, ReceivedInstance, ReceivedStudy
from receiver.spooling import new_study_key, quarantine
from receiver.tasks import received_study_gate_task

_STUDY_INSTANCE_UID = "0020000D"


class PullError(Exception):
    """The study cannot be pulled, in words for the person who asked."""


def _client(source: DicomWebSource) -> DICOMwebClient:
    session = requests.Session()
    if source.username:
        session.auth = (source.username, source.password)
    return DICOMwebClient(url=source.url, session=session)


def _study_uid(client: DICOMwebClient, *, study_uid: str, accession: str) -> str:
    filters = {"StudyInstanceUID": study_uid} if study_uid else {"AccessionNumber": accession}
    matches = client.search_for_studies(search_filters=filters, fields=["StudyInstanceUID"])
    if len(matches) != 1:
        raise PullError(f"{len(matches)} studies match on the source; exactly one is needed.")
    return str(matches[0][_STUDY_INSTANCE_UID]["Value"][0])


def dicomweb_pull(*, source: DicomWebSource, by, study_uid: str = "", accession: str = "") -> ReceivedStudy:
    """The study named by `study_uid` or `accession` on `source`, spooled into `by`'s inbox and handed to
    the gate. Instances of a SOP class the receiver does not accept are left on the source."""
    if not rules.may_author(by):
        raise PermissionDenied("Only faculty and editors pull studies.")
    if bool(study_uid) == bool(accession):
        raise PullError("Give a Study Instance UID or an accession number (one of the two).")
    client = _client(source)
    uid = _study_uid(client, study_uid=study_uid.strip(), accession=accession.strip())
    seed, offset = new_study_key()
    now = timezone.now()
    study = ReceivedStudy.objects.create(
        source=source,
        owner=by,
        arrival_key=secrets.token_hex(32),  # a pull is a study of its own: nothing to group it with
        status=ReceivedStudy.Status.PROCESSING,
        seed=seed,
        date_offset_days=offset,
        first_received_at=now,
        last_received_at=now,
    )
    held: list[str] = []
    try:
        for dataset in client.iter_study(uid):
            sop_class = str(dataset.get("SOPClassUID", ""))
            if sop_class not in ACCEPTED_STORAGE_CLASSES:
                continue
            held.append(_spool(study, dataset, sop_class))
            study.modality = study.modality or str(dataset.get("Modality", "") or "")[:16]
    except BaseException:
        with transaction.atomic():
            study.delete()
        for name in held:
            quarantine().delete(name)
        raise
    if not held:
        study.delete()
        raise PullError("The study holds no instance the archive accepts.")
    study.last_received_at = timezone.now()
    study.save(update_fields=["modality", "last_received_at"])
    received_study_gate_task.enqueue(study.pk)
    return study


def _spool(study: ReceivedStudy, dataset, sop_class: str) -> str:
    """One retrieved instance written to quarantine as a DICOM file, and its row; returns the file's name."""
    if not isinstance(getattr(dataset, "file_meta", None), FileMetaDataset) or "TransferSyntaxUID" not in (
        dataset.file_meta
    ):
        raise PullError("The source sent an instance without its transfer syntax.")
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    name = quarantine().save(f"received/{uuid.uuid4().hex}.dcm", ContentFile(data))
    try:
        ReceivedInstance.objects.create(
            study=study, sop_class_uid=sop_class[:64], quarantine_file=name, size_bytes=len(data),
            received_at=timezone.now(),
        )  # fmt: skip
    except BaseException:
        quarantine().delete(name)
        raise
    return name
