"""Pull a study over DICOMweb: find it and its instances with QIDO-RS, retrieve each instance with WADO-RS
(the well-kept ``dicomweb-client``), and spool it to quarantine like a received one, for the same gate.

Each instance is retrieved as the bytes the source sent and spooled unread: nothing of it is parsed before
the gate, whose reader is the bounded one every way into the archive shares (a deflated data set that
would inflate to gigabytes is refused there, not inflated here).

A pull is a received study from the moment it is asked for ("pull requested", in its owner's inbox), so
that whatever becomes of it is shown there: :func:`pull_request` records it, and a task
(:func:`receiver.tasks.dicomweb_pull_task`) runs :func:`pull_retrieve`, whose :class:`PullError` says in
words for the person who asked why nothing came (the source unreachable, the credentials refused, the
study not found, too large, nothing the archive accepts). The identifier asked for is kept on the row
only until the pull has run.
"""

import re
import time
import uuid
from email.message import Message

import requests
from dicomweb_client.api import DICOMwebClient
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db.models import QuerySet
from django.utils import timezone

from authoring import rules
from receiver.contexts import ACCEPTED_STORAGE_CLASSES
from receiver.models import DicomWebSource, ReceivedInstance, ReceivedStudy
from receiver.secrets import UnreadableSecret, secret_decrypt
from receiver.services import StudySettled
from receiver.spooling import new_study_key, quarantine, study_folder

__all__ = ["PullError", "pull_request", "pull_retrieve"]

_STUDY_INSTANCE_UID = "0020000D"
_SERIES_INSTANCE_UID = "0020000E"
_SOP_INSTANCE_UID = "00080018"
_SOP_CLASS_UID = "00080016"
_MODALITY = "00080060"
# WADO-RS: each instance as a DICOM file in the transfer syntax the source holds it in (PS3.18 8.7.3).
ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
#: Instances asked of a QIDO-RS search at a time.
PAGE = 500
# A DICOM UID (PS3.5 9.1): the source's UIDs go into the URLs asked of it, so nothing else may.
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
#: Seconds to connect to the source and to wait for each answer: a source that hangs fails the pull.
TIMEOUT = (10, 120)
TOO_MANY = "The study has more than {} instances."
TOO_LARGE = "The study is larger than {} bytes."
TOO_SLOW = "The pull took longer than {:g} seconds."


class PullError(Exception):
    """The study cannot be pulled, in words for the person who asked."""


def pull_request(*, source: DicomWebSource, by, study_uid: str = "", accession: str = "") -> ReceivedStudy:
    """Record `by`'s request to pull the study named by `study_uid` or `accession` from `source`: a
    received study in their inbox, "pull requested", for a task to retrieve (the caller enqueues it)."""
    if not rules.may_author(by):
        raise PermissionDenied("Only faculty and editors pull studies.")
    study_uid, accession = study_uid.strip(), accession.strip()
    if bool(study_uid) == bool(accession):
        raise PullError("Give a Study Instance UID or an accession number (one of the two).")
    seed, offset = new_study_key()
    now = timezone.now()
    asked = study_uid or accession
    kind = "Study Instance UID" if study_uid else "accession number"
    return ReceivedStudy.objects.create(
        source=source,
        owner=by,
        arrival_key=uuid.uuid4().hex,  # a pull is a study of its own: nothing to group it with
        status=ReceivedStudy.Status.REQUESTED,
        seed=seed,
        date_offset_days=offset,
        first_received_at=now,
        last_received_at=now,
        heartbeat_at=now,
        pull_study_uid=study_uid,
        pull_accession=accession,
        # Enough for its owner to tell their pulls apart, not the identifier itself.
        pull_hint=f"{kind} ending …{asked[-4:]}" if len(asked) > 8 else kind,
    )


def _session(source: DicomWebSource) -> requests.Session:
    session = requests.Session()
    if source.username:
        try:
            session.auth = (source.username, secret_decrypt(source.password_encrypted))
        except UnreadableSecret as error:
            raise PullError(
                "The source's password cannot be read with this server's SECRET_KEY (changed without keeping "
                "the old one in SECRET_KEY_FALLBACKS?): an editor should enter it again."
            ) from error
    return session


def _client(source: DicomWebSource, session: requests.Session) -> DICOMwebClient:
    client = DICOMwebClient(url=source.url, session=session, timeout=TIMEOUT)
    client.set_http_retry_params(wait_exponential_multiplier=settings.RECEIVER_PULL_RETRY_SECONDS * 1000)
    return client


def _study_uid(client: DICOMwebClient, *, study_uid: str, accession: str) -> str:
    filters = {"StudyInstanceUID": study_uid} if study_uid else {"AccessionNumber": accession}
    matches = client.search_for_studies(search_filters=filters, fields=["StudyInstanceUID"])
    if not matches:
        raise PullError("Study not found: no study on the source matches.")
    if len(matches) > 1:
        raise PullError(f"{len(matches)} studies on the source match; exactly one is needed.")
    return _checked_uid(_value(matches[0], _STUDY_INSTANCE_UID))


def source_error(error: Exception) -> str | None:
    """What a failed exchange with the source means, for the person who asked; None if it is not one."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        code = error.response.status_code
        if code in (401, 403):
            return f"The source refused the credentials (HTTP {code}): an editor should check the source's."
        if code == 404:
            return "Study not found: the source answered HTTP 404."
        return f"The source answered with an error (HTTP {code})."
    if isinstance(error, requests.Timeout):
        return "The source did not answer in time."
    if isinstance(error, requests.ConnectionError):
        return "The source could not be reached (no connection to its address)."
    if isinstance(error, requests.RequestException):
        return f"The exchange with the source failed ({type(error).__name__})."
    return None


def _past(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise PullError(TOO_SLOW.format(settings.RECEIVER_MAX_SECONDS))


def pull_retrieve(*, study: ReceivedStudy, run: QuerySet) -> int:
    """Find and retrieve the study `study` asks for, spooling each instance of an accepted SOP class to
    quarantine (in the study's own folder) with its row; how many. Stops (:class:`PullError`) past the
    receiver's limits, and with nothing once `run` (the study's row while this run holds it) is gone."""
    session = _session(study.source)
    client = _client(study.source, session)
    # Each answer has a timeout of its own; a source that trickles is bounded by this.
    deadline = time.monotonic() + settings.RECEIVER_MAX_SECONDS
    try:
        uid = _study_uid(client, study_uid=study.pull_study_uid, accession=study.pull_accession)
        count = size = 0
        for listed in _instances(client, uid, deadline=deadline):
            if not run.exists():
                raise StudySettled(study.pk)
            sop_class = _value(listed, _SOP_CLASS_UID)
            if sop_class not in ACCEPTED_STORAGE_CLASSES:
                continue
            url = _instance_url(study.source, uid, listed)
            for data in _retrieved(
                session, url, study_left=settings.RECEIVER_MAX_BYTES - size, deadline=deadline
            ):
                size += _spool(study, data, sop_class)
                count += 1
            if count > settings.RECEIVER_MAX_INSTANCES:
                raise PullError(TOO_MANY.format(settings.RECEIVER_MAX_INSTANCES))
            study.modality = study.modality or _value(listed, _MODALITY)[:16]
    except requests.RequestException as error:
        raise PullError(source_error(error)) from error
    if not count:
        raise PullError("The study holds no instance the archive accepts.")
    run.update(modality=study.modality, last_received_at=timezone.now())
    return count


def _instances(client: DICOMwebClient, uid: str, *, deadline: float) -> list[dict]:
    """The study's instances as QIDO-RS lists them, page after page until one brings nothing new (a source
    that ignores the offset sends the same page again), never more than the receiver's limit."""
    listed: list[dict] = []
    seen: set[str] = set()
    while True:
        page = client.search_for_instances(
            study_instance_uid=uid, fields=["Modality"], offset=len(listed), limit=PAGE
        )
        new = [item for item in page if _value(item, _SOP_INSTANCE_UID) not in seen]
        if not new:
            return listed
        seen.update(_value(item, _SOP_INSTANCE_UID) for item in new)
        listed += new
        if len(listed) > settings.RECEIVER_MAX_INSTANCES:
            raise PullError(TOO_MANY.format(settings.RECEIVER_MAX_INSTANCES))
        _past(deadline)


def _value(listed: dict, tag: str) -> str:
    values = (listed.get(tag) or {}).get("Value") or [""]
    return str(values[0] or "")


def _checked_uid(uid: str) -> str:
    """A UID the source named, which goes into the addresses asked of it: nothing but a UID may."""
    if not _UID.fullmatch(uid) or len(uid) > 64:
        raise PullError(
            f"The source named a study, series or instance by something not a DICOM UID: {uid[:80]!r}."
        )
    return uid


def _instance_url(source: DicomWebSource, study_uid: str, listed: dict) -> str:
    """The WADO-RS address of one listed instance."""
    series, instance = (
        _checked_uid(_value(listed, tag)) for tag in (_SERIES_INSTANCE_UID, _SOP_INSTANCE_UID)
    )
    return f"{source.url.rstrip('/')}/studies/{study_uid}/series/{series}/instances/{instance}"


def _retrieved(session: requests.Session, url: str, *, study_left: int, deadline: float) -> list[bytes]:
    """The DICOM files of one WADO-RS answer, as sent, nothing of them read as DICOM (dicomweb-client's own
    retrieval hands back data sets pydicom has read, inflating whatever was deflated). Read up to what the
    study may still take and what the gate reads of one instance (``DECODE_MEMORY_LIMIT``), before the
    deadline, uncompressed by HTTP, from the address asked only."""
    headers = {"Accept": ACCEPT, "Accept-Encoding": "identity"}
    with session.get(url, headers=headers, stream=True, timeout=TIMEOUT, allow_redirects=False) as response:
        response.raise_for_status()
        if response.is_redirect:
            raise PullError(
                "The source answered a retrieval with a redirect, which the archive does not follow."
            )
        content_type = response.headers.get("Content-Type", "")
        body = bytearray()
        for chunk in response.iter_content(1 << 16):
            body += chunk
            if len(body) > study_left:
                raise PullError(TOO_LARGE.format(settings.RECEIVER_MAX_BYTES))
            if len(body) > settings.DECODE_MEMORY_LIMIT:
                raise PullError(
                    f"An instance is larger than the image gate reads (DECODE_MEMORY_LIMIT, "
                    f"{settings.DECODE_MEMORY_LIMIT} bytes)."
                )
            _past(deadline)
    return _parts(body, content_type)


def _parts(body: bytearray, content_type: str) -> list[bytes]:
    """The bodies of a multipart/related answer (RFC 2046 5.1), exactly as sent; its boundary and type
    read by the standard library."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/related" or not isinstance(boundary, str) or not boundary:
        raise PullError(f"The source answered a retrieval with {content_type[:80]!r}, not DICOM files.")
    delimiter = b"--" + boundary.encode("latin-1")
    position = body.find(delimiter)
    parts = []
    while position >= 0 and not body.startswith(b"--", position + len(delimiter)):
        headers_end = body.find(b"\r\n\r\n", position)
        end = body.find(b"\r\n" + delimiter, headers_end)
        if headers_end < 0 or end < 0:
            raise PullError("The source's answer to a retrieval was cut short (a part without its end).")
        parts.append(memoryview(body)[headers_end + 4 : end].tobytes())  # one copy of each part, not two
        position = end + 2
    if position < 0:
        raise PullError("The source's answer to a retrieval holds no part.")
    return parts


def _spool(study: ReceivedStudy, data: bytes, sop_class: str) -> int:
    """One retrieved instance written to quarantine as the source sent it, and its row; returns its size."""
    name = quarantine().save(f"{study_folder(study.pk)}/{uuid.uuid4().hex}.dcm", ContentFile(data))
    try:
        ReceivedInstance.objects.create(
            study=study, sop_class_uid=sop_class[:64], quarantine_file=name, size_bytes=len(data),
            received_at=timezone.now(),
        )  # fmt: skip
    except BaseException:
        quarantine().delete(name)
        raise
    return len(data)
