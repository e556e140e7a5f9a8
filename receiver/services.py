"""Writes to received studies: the gate, making a draft or adding to one, discarding, purging.

The gate (:func:`received_study_gate`) runs in a task worker, never in the receiver: each
quarantined instance is prepared by the ingest's own :func:`imaging.preparation.prepare` (bounded
decoding, the keep-list de-identification, pixel cleaning, burned-in flags) with the study's own
key, and only what it gives is written to media storage; the quarantined original is deleted then,
whatever the outcome.

Re-keying. A received study is de-identified with a key of its own (seed S, date shift d_S). "Create
a draft case" makes that key the new case's key, so nothing changes and later uploads to the case use
it too. "Add to one of my drafts" passes each gated file through the gate again with the case's seed
C and a shift of d_C - d_S: every UID u of the study becomes C(S(u)) (consistently within the study,
so its references hold), and every date ends shifted by d_C in all, as the case's own uploads are, so
intervals between the case's studies are kept. The case's key cannot give C(u) from the original u,
which the gate deleted: a UID shared with a study uploaded to the case directly is not matched. Should
the two shifts be equal (1 chance in 3651), the files are added as they are: their dates are right and
their UIDs stay S(u).
"""

import dataclasses
import logging
import secrets
import uuid
from collections import defaultdict
from datetime import timedelta
from io import BytesIO

import pydicom
import reversion
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from authoring import rules
from cases.modalities import MODALITY_LABELS
from cases.models import Case
from imaging.dicom.deidentify import Deidentifier
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_for_rendering
from imaging.dicom.render import png_bytes, render_frame, thumbnail
from imaging.models import DeidentificationKey, Image
from imaging.preparation import prepare
from imaging.rendering import THUMBNAIL_SIZE
from imaging.services import next_order, series_create
from imaging.upload_reports import without_file_name
from receiver.contexts import KEY_OBJECT_SELECTION
from receiver.headers import header_elements
from receiver.key_objects import read_key_objects
from receiver.models import ReceivedInstance, ReceivedStudy
from receiver.spooling import folder_delete, quarantine, study_folder

__all__ = [
    "ReceiverError",
    "StudySettled",
    "received_files_remove",
    "received_files_sweep",
    "received_purge",
    "received_study_add_to_case",
    "received_study_discard",
    "received_study_draft_create",
    "received_study_gate",
]

logger = logging.getLogger(__name__)

_SUMMARY_NAMES = 60  # attribute names listed per kind in a study's de-identification summary


class ReceiverError(Exception):
    """A request about a received study that cannot be met, in words for its author."""


# -- the gate ------------------------------------------------------------------------------------


def received_study_gate(*, study_id: int, run: QuerySet | None = None) -> ReceivedStudy:
    """Pass every quarantined instance of the study through the image gate; the study then waits in
    its owner's inbox, or has failed if no instance passed. Key Object Selection documents are read first:
    their teaching title and description go on the study, their references mark key images, and the
    document itself is not kept.

    `run` is the study's row while the calling task's run holds it (:mod:`receiver.tasks`): the gate stops
    (:class:`StudySettled`) once a sweep has taken the run's worker for dead and settled the study. Each
    instance is finished on its own (its row written, then its original deleted), so a run that dies
    half-way leaves the instances it finished, and the next run gates only the rest.
    """
    run = ReceivedStudy.objects.filter(pk=study_id) if run is None else run
    study = ReceivedStudy.objects.get(pk=study_id)
    if study.runs > 1:  # a run after a dead one: what it left half-done goes
        _dead_run_leftovers_remove(study)
    instances = list(study.instances.filter(status=ReceivedInstance.Status.QUARANTINED).order_by("pk"))
    documents = [i for i in instances if i.sop_class_uid == KEY_OBJECT_SELECTION]
    only_documents = not study.instances.exclude(sop_class_uid=KEY_OBJECT_SELECTION).exists()
    keys = _key_objects_read(documents)
    if documents and only_documents and keys.referenced:
        marked = _late_key_objects_apply(study, documents, keys, run)
        if marked is not None:
            return marked
    study.key_object_title, study.key_object_description = keys.title, keys.description
    key_uids = keys.referenced
    deidentifier = Deidentifier(seed=study.seed, date_offset_days=study.date_offset_days)
    for instance in instances:
        if instance.sop_class_uid == KEY_OBJECT_SELECTION:
            continue
        if not run.exists():
            raise StudySettled(study_id)
        _instance_gate(study, instance, deidentifier, key_uids, run)
    _thumbnails_make(study, run)
    with transaction.atomic():
        # The documents go with the end of the gate, not before: a run that dies keeps them for the next.
        ReceivedInstance.objects.filter(pk__in=[d.pk for d in documents]).delete()
        # Each finished instance kept its original's name until now, for a run after a dead one to delete
        # an original the dead one could not (it writes the row, then deletes the original).
        study.instances.exclude(status=ReceivedInstance.Status.QUARANTINED).exclude(
            quarantine_file=""
        ).update(quarantine_file="")
        summary = _summary(study)
        passed = summary["accepted"] > 0
        now = timezone.now()
        ended = run.update(
            status=ReceivedStudy.Status.READY if passed else ReceivedStudy.Status.FAILED,
            status_note="" if passed else _failure_note(summary, keys, only_documents=only_documents),
            gated_at=now,
            heartbeat_at=now,
            deidentification_summary=summary,
            key_object_title=study.key_object_title,
            key_object_description=study.key_object_description,
        )
        if not ended:
            raise StudySettled(study_id)
        held = [document.quarantine_file for document in documents]
        transaction.on_commit(lambda: [quarantine().delete(name) for name in held])
    study.refresh_from_db()
    return study


class StudySettled(Exception):
    """The study is no longer the calling run's: a sweep took its worker for dead and settled it."""


LONE_KEY_OBJECTS_NOTE = (
    "Only a key object selection arrived, and none of the images it selects is among the unused images of "
    "the same study from the same sender in this inbox: send the images first (or again), then the key "
    "object selection."
)
UNREADABLE_SELECTION_NOTE = "Only a key object selection arrived, and it could not be read."
NO_TEACHING_SELECTION_NOTE = (
    "Only a key object selection arrived, and it selects no images for teaching (its title is not "
    "“For Teaching” or “For Conference”)."
)
LATE_KEY_OBJECTS_NOTE = (
    "{marked} key image(s) marked by a key object selection received later ({at:%Y-%m-%d %H:%M})."
)


def _quarantined_bytes(instance: ReceivedInstance) -> bytes:
    with quarantine().open(instance.quarantine_file, "rb") as original:
        return original.read()


@dataclasses.dataclass
class _KeyObjects:
    """What a study's teaching KOS documents say: a title, a description for the author, and the original
    SOP Instance UIDs of its key images."""

    title: str = ""
    description: str = ""
    referenced: set[str] = dataclasses.field(default_factory=set)
    unreadable: int = 0


def _key_objects_read(documents: list[ReceivedInstance]) -> _KeyObjects:
    keys, descriptions = _KeyObjects(), []
    for document in documents:
        try:
            found = read_key_objects(_quarantined_bytes(document))
        except Exception:  # an unreadable KOS marks nothing; the images still arrive
            keys.unreadable += 1
            continue
        if found.for_teaching:
            keys.title = keys.title or found.title
            keys.referenced |= found.referenced
            if found.description:
                descriptions.append(found.description)
    keys.description = "\n\n".join(descriptions)
    return keys


def _lone_key_objects(keys: _KeyObjects) -> str:
    if keys.referenced:
        return LONE_KEY_OBJECTS_NOTE
    return UNREADABLE_SELECTION_NOTE if keys.unreadable else NO_TEACHING_SELECTION_NOTE


def _failure_note(summary: dict, keys: _KeyObjects, *, only_documents: bool) -> str:
    if only_documents:
        return _lone_key_objects(keys)
    reasons = "; ".join(summary.get("rejections", [])) or "no instance to gate"
    return f"No instance passed the image gate: {reasons}"[:500]


def _studies_the_documents_follow(study: ReceivedStudy) -> QuerySet:
    """The gated studies of the same sender and original Study Instance UID (the arrival key) in the same
    inbox: a PACS often sends the key object selection once the study is read, long after its images
    (and may have sent the images in more than one batch)."""
    gated = (ReceivedStudy.Status.READY, ReceivedStudy.Status.USED)
    earlier = ReceivedStudy.objects.filter(
        arrival_key=study.arrival_key, owner_id=study.owner_id, status__in=gated
    )
    return earlier.exclude(pk=study.pk)


def _late_key_objects_apply(
    study: ReceivedStudy, documents: list[ReceivedInstance], keys: _KeyObjects, run
) -> ReceivedStudy | None:
    """Mark the key images that the late documents reference in the earlier studies they follow, then
    delete the study that brought them; the (most recent) study marked, or None when they reference none
    of those studies' unused images (the documents' study then fails with the reason). The originals' UIDs
    are gone with the originals, so each reference is passed through each earlier study's own
    de-identification key and compared with the UIDs its gated files carry."""
    marks: dict[int, list[int]] = {}
    for earlier in _studies_the_documents_follow(study):
        deidentifier = Deidentifier(seed=earlier.seed, date_offset_days=earlier.date_offset_days)
        wanted = {deidentifier.uid(uid) for uid in keys.referenced}
        unused = earlier.instances.filter(status=ReceivedInstance.Status.ACCEPTED, used=False).exclude(
            file=""
        )
        marked = [instance.pk for instance in unused if _stored_uid(instance) in wanted]
        if marked:
            marks[earlier.pk] = marked
    if not marks:
        return None
    held = [document.quarantine_file for document in documents]
    with transaction.atomic():
        # Locked, and checked again: a study discarded or purged meanwhile is left out.
        studies = _studies_the_documents_follow(study).select_for_update().filter(pk__in=marks)
        marked_studies = list(studies.order_by("-last_received_at", "-pk"))
        if not marked_studies:
            return None
        if not run.delete()[1].get(ReceivedStudy._meta.label):
            raise StudySettled(study.pk)
        for earlier in marked_studies:
            _key_images_mark(earlier, marks[earlier.pk], keys, received_at=study.last_received_at)
        transaction.on_commit(lambda: _files_delete(study.pk, ([], held)))
    return marked_studies[0]


def _key_images_mark(
    earlier: ReceivedStudy, instance_ids: list[int], keys: _KeyObjects, *, received_at
) -> None:
    ReceivedInstance.objects.filter(pk__in=instance_ids).update(is_key_image=True)
    earlier.key_object_title = earlier.key_object_title or keys.title
    earlier.key_object_description = "\n\n".join(
        text for text in (earlier.key_object_description, keys.description) if text
    )
    earlier.status_note = LATE_KEY_OBJECTS_NOTE.format(
        marked=len(instance_ids), at=timezone.localtime(received_at)
    )
    earlier.deidentification_summary = _summary(earlier)
    earlier.save(
        update_fields=[
            "key_object_title",
            "key_object_description",
            "status_note",
            "deidentification_summary",
        ]
    )


def _stored_uid(instance: ReceivedInstance) -> str:
    with default_storage.open(instance.file.name, "rb") as stored:
        return _original_uid(stored.read(1 << 20))  # the header is at the start: its first megabyte


def _instance_gate(
    study: ReceivedStudy,
    instance: ReceivedInstance,
    deidentifier: Deidentifier,
    key_uids: set[str],
    run: QuerySet,
) -> None:
    """Gate one instance: its row is written first (only while this run holds the study, and if no other
    run finished the instance), then its original leaves quarantine, whatever the gate said. The row keeps
    the original's name until the gate's end (see :func:`_dead_run_leftovers_remove`)."""
    name = f"instance-{instance.pk}.dcm"  # the gate names files in its reasons; never the sender's
    held = instance.quarantine_file
    waiting = ReceivedInstance.objects.filter(
        pk=instance.pk, status=ReceivedInstance.Status.QUARANTINED, study__in=run
    )
    data = _quarantined_bytes(instance)
    is_key_image = bool(key_uids) and _original_uid(data) in key_uids
    try:
        content, fields, report = prepare(name, data, deidentifier, memory_limit=settings.DECODE_MEMORY_LIMIT)
    except Exception as error:
        if isinstance(error, RejectedFile):
            reason = without_file_name(error.reason, name)
        else:  # a reader's own failure on an odd file refuses that file, not the whole study
            logger.warning("The gate failed on received instance %s", instance.pk, exc_info=True)
            reason = f"the image gate could not read it ({type(error).__name__})"
        if waiting.update(
            status=ReceivedInstance.Status.REJECTED,
            reason=reason[:500],
            is_key_image=is_key_image,
        ):
            quarantine().delete(held)
        return
    stored = default_storage.save(f"{study_folder(study.pk)}/{uuid.uuid4().hex}.dcm", ContentFile(content))
    try:
        header = pydicom.dcmread(
            BytesIO(content), stop_before_pixels=True, specific_tags=["SeriesInstanceUID"]
        )
        finished = waiting.update(
            status=ReceivedInstance.Status.ACCEPTED,
            file=stored,
            series_uid=str(header.get("SeriesInstanceUID", "") or "")[:64],
            modality=fields.get("modality", "")[:16],
            image_fields=fields,  # with the SHA-256 of the stored bytes
            deid_report=report,
            needs_review=bool(fields.get("needs_review")),
            review_reason=fields.get("review_reason", "")[:300],
            is_key_image=is_key_image,
        )
    except BaseException:
        default_storage.delete(stored)
        raise
    if finished:
        quarantine().delete(held)
    else:  # another run finished it first: its file is the one the row names
        default_storage.delete(stored)


def _dead_run_leftovers_remove(study: ReceivedStudy) -> int:
    """Delete what a dead run left: the originals of instances it finished (it writes the row, then deletes
    the original), and the files of the study's folder in media storage that no row names (stored before
    it could write the row). The run that calls it has claimed the study, so a stalled earlier run can no
    longer name a file (its writes are conditional on holding the study). How many gated files went."""
    finished = study.instances.exclude(status=ReceivedInstance.Status.QUARANTINED).exclude(quarantine_file="")
    for name in finished.values_list("quarantine_file", flat=True):
        quarantine().delete(name)
    folder = study_folder(study.pk)
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    named = set()
    for instance in study.instances.all():
        named.update(field.name for field in (instance.file, instance.thumbnail) if field)
    unnamed = [f"{folder}/{name}" for name in files if f"{folder}/{name}" not in named]
    for name in unnamed:
        default_storage.delete(name)
    return len(unnamed)


def _thumbnails_make(study: ReceivedStudy, run: QuerySet) -> None:
    """One thumbnail per series, of its middle instance's middle frame, for the inbox."""
    by_series: dict[str, list[ReceivedInstance]] = defaultdict(list)
    for instance in study.instances.filter(status=ReceivedInstance.Status.ACCEPTED):
        by_series[instance.series_uid].append(instance)
    for members in by_series.values():
        members.sort(key=lambda i: (i.image_fields.get("sort_key") or 0, i.pk))
        middle = members[len(members) // 2]
        frame = int(middle.image_fields.get("frame_count") or 1) // 2
        try:
            with default_storage.open(middle.file.name, "rb") as gated:
                dataset = read_for_rendering(
                    gated.read(),
                    name=f"instance {middle.pk}",
                    frame=frame,
                    memory_limit=settings.DECODE_MEMORY_LIMIT,
                )
            picture = png_bytes(thumbnail(render_frame(dataset, frame), THUMBNAIL_SIZE))
        except Exception:  # decoders raise what their libraries raise; the series is shown without one
            logger.warning("No thumbnail for received instance %s", middle.pk, exc_info=True)
            continue
        stored = default_storage.save(
            f"{study_folder(study.pk)}/{uuid.uuid4().hex}.png", ContentFile(picture)
        )
        previous = middle.thumbnail.name  # a thumbnail of an earlier run, if it died after making it
        if ReceivedInstance.objects.filter(pk=middle.pk, study__in=run).update(thumbnail=stored):
            if previous:
                default_storage.delete(previous)
        else:
            default_storage.delete(stored)


def _original_uid(data: bytes) -> str:
    try:
        header = header_elements(data, ["SOPInstanceUID"])
    except Exception:
        return ""
    return str(header.get("SOPInstanceUID", "") or "").strip()


def _summary(study: ReceivedStudy) -> dict:
    """What the gate did to the study, in the inbox: counts, and the attributes removed or replaced."""
    removed, replaced, pixel_data, reasons = set(), set(), set(), set()
    counts = defaultdict(int)
    for instance in study.instances.all():
        counts[instance.status] += 1
        counts["flagged"] += instance.needs_review
        counts["key_images"] += instance.is_key_image
        removed.update(instance.deid_report.get("removed", []))
        replaced.update(instance.deid_report.get("replaced", []))
        pixel_data.update(instance.deid_report.get("pixel_data", []))
        if instance.reason:
            reasons.add(instance.reason)
    return {
        "accepted": counts[ReceivedInstance.Status.ACCEPTED],
        "rejected": counts[ReceivedInstance.Status.REJECTED],
        "flagged": counts["flagged"],
        "key_images": counts["key_images"],
        "removed": _names(removed),
        "replaced": _names(replaced),
        "pixel_data": _names(pixel_data),
        "rejections": sorted(reasons)[:20],
    }


def _names(names: set[str]) -> list[str]:
    """Named attributes first, then private and unknown tags ``(gggg,eeee)``; at most a screenful."""
    return sorted(names, key=lambda name: (name.startswith("("), name))[:_SUMMARY_NAMES]


# -- into a case ---------------------------------------------------------------------------------


def may_use(user, study: ReceivedStudy) -> bool:
    """The inbox's owner uses a study; editors may act on every inbox."""
    return rules.may_author(user) and (study.owner_id == user.pk or rules.is_editor(user))


def usable_instances(study: ReceivedStudy) -> list[ReceivedInstance]:
    """What a draft takes from the study: its key images when a teaching KOS came with it, else every
    accepted image; never one already used."""
    instances = study.instances.filter(status=ReceivedInstance.Status.ACCEPTED, used=False)
    if study.key_object_title:
        instances = instances.filter(is_key_image=True)
    return list(instances.order_by("series_uid", "pk"))


def _ready(study: ReceivedStudy, by) -> list[ReceivedInstance]:
    if not may_use(by, study):
        raise PermissionDenied("Only the inbox's owner or an editor may use a received study.")
    if study.status == ReceivedStudy.Status.FAILED:
        raise ReceiverError(f"This study failed: {study.status_note or 'see its page'}")
    if study.status not in (ReceivedStudy.Status.READY, ReceivedStudy.Status.USED):
        raise ReceiverError("This study has not passed the image gate yet.")
    instances = usable_instances(study)
    if not instances:
        raise ReceiverError("No accepted image of this study is left to use.")
    return instances


def _draft_slug() -> str:
    return f"received-{secrets.token_hex(4)}"  # neutral: it must not hint at a diagnosis


@transaction.atomic
def received_study_draft_create(*, study: ReceivedStudy, by) -> Case:
    """A new draft authored by the inbox's owner, with the study's images; the study's key becomes
    the case's key. Series labels are left empty for the author to write (never copied from headers)."""
    instances = _ready(study, by)
    modality = _modality(instances[0].modality)
    # The case's first version in its history, as the admin and a bundle import record one.
    with reversion.create_revision(atomic=False):
        reversion.set_user(by)
        reversion.set_comment("Created from a study received over DICOM")
        case = Case.objects.create(
            slug=_draft_slug(),
            title=f"Untitled draft from a received {MODALITY_LABELS[modality]} study",
            status=Case.Status.DRAFT,
            author=study.owner,
        )
    DeidentificationKey.objects.create(case=case, seed=study.seed, date_offset_days=study.date_offset_days)
    _images_add(case, instances, time_label="Initial", deidentifier=None)
    _mark_used(study, case)
    return case


@transaction.atomic
def received_study_add_to_case(*, study: ReceivedStudy, case: Case, by) -> Case:
    """Add the study's images to `case`, a draft of `by`'s, as a study of its own, re-keyed through the
    case's key (see the module's docstring)."""
    instances = _ready(study, by)
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status != Case.Status.DRAFT or not rules.may_edit(by, case) or case.author_id != study.owner_id:
        raise PermissionDenied("A received study is added only to a draft of the inbox's owner.")
    key = DeidentificationKey.objects.filter(case=case).first()
    deidentifier = None
    if key is None:  # a draft with no image yet: it takes the study's key, as a new draft would
        DeidentificationKey.objects.create(
            case=case, seed=study.seed, date_offset_days=study.date_offset_days
        )
    elif key.seed != study.seed:
        shift = key.date_offset_days - study.date_offset_days
        # A zero shift (the two keys drew the same one) leaves the files as they are: their dates carry
        # the case's shift already, and the Deidentifier refuses to record a shift of nothing.
        deidentifier = Deidentifier(seed=key.seed, date_offset_days=shift) if shift else None
    _images_add(case, instances, time_label=f"Study {case.studies.count() + 1}", deidentifier=deidentifier)
    _mark_used(study, case)
    return case


def _modality(code: str) -> str:
    code = (code or "").upper()
    return code if code in MODALITY_LABELS else "OT"


def _images_add(case: Case, instances: list[ReceivedInstance], *, time_label: str, deidentifier) -> None:
    """One series per received series, its images in slice order; files already gated, re-keyed if
    `deidentifier` is given. New files are deleted again if anything fails; the received files once
    the transaction commits."""
    by_series: dict[str, list[ReceivedInstance]] = defaultdict(list)
    for instance in instances:
        by_series[instance.series_uid].append(instance)
    stored: list[str] = []
    try:
        for members in by_series.values():
            series = series_create(
                case=case, label="", modality=_modality(members[0].modality), time_label=time_label
            )
            order = next_order(series.images.all())
            members.sort(key=lambda i: (i.image_fields.get("sort_key") or 0, i.pk))
            for instance in members:
                image = _image(series, instance, deidentifier, order)
                stored.append(image.file.name)
                image.save()
                order += 1
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    received = [instance.file.name for instance in instances]
    ReceivedInstance.objects.filter(pk__in=[i.pk for i in instances]).update(used=True, file="")
    transaction.on_commit(lambda: [default_storage.delete(name) for name in received])


def _image(series, instance: ReceivedInstance, deidentifier, order: int) -> Image:
    with default_storage.open(instance.file.name, "rb") as gated:
        content = gated.read()
    fields, report = instance.image_fields, instance.deid_report
    if deidentifier is not None:
        name = f"instance-{instance.pk}.dcm"
        content, fields, report = prepare(
            name, content, deidentifier, memory_limit=settings.DECODE_MEMORY_LIMIT
        )
    image = Image(
        series=series,
        kind=Image.Kind.DICOM,
        sha256=fields["sha256"],
        size_bytes=len(content),
        modality=fields.get("modality", ""),
        rows=fields["rows"],
        columns=fields["columns"],
        frame_count=fields.get("frame_count", 1),
        sort_key=fields.get("sort_key") or 0,
        slice_position=fields.get("slice_position"),
        order=order,
        deid_report=report,
        needs_review=bool(fields.get("needs_review")),
        review_reason=fields.get("review_reason", ""),
    )
    image.file.save("received", ContentFile(content), save=False)
    return image


def _mark_used(study: ReceivedStudy, case: Case) -> None:
    study.case = case
    study.status = ReceivedStudy.Status.USED
    study.save(update_fields=["case", "status"])


# -- discard and purge ---------------------------------------------------------------------------


@transaction.atomic
def received_study_discard(*, study: ReceivedStudy, by=None) -> None:
    """Delete the study, its rows and its files (gated and quarantined), once the deletion commits.
    `by` None: the system (purge)."""
    if by is not None and not may_use(by, study):
        raise PermissionDenied("Only the inbox's owner or an editor may discard a received study.")
    names = _file_names(study)
    study_id = study.pk
    study.delete()
    transaction.on_commit(lambda: _files_delete(study_id, names))


def received_files_remove(*, study: ReceivedStudy) -> None:
    """Remove every instance of `study`, its rows and its files (a dead or failed run's partial work), and
    leave the study's row for its owner to read what happened."""
    # The files first: a process stopped half-way leaves rows, which a later removal finds again.
    _files_delete(study.pk, _file_names(study))
    study.instances.all().delete()


def _file_names(study: ReceivedStudy) -> tuple[list[str], list[str]]:
    """The files the study's rows name: (in media storage, in quarantine)."""
    gated, held = [], []
    for instance in study.instances.all():
        gated.extend(field.name for field in (instance.file, instance.thumbnail) if field)
        if instance.quarantine_file:
            held.append(instance.quarantine_file)
    return gated, held


def _files_delete(study_id: int, names: tuple[list[str], list[str]]) -> None:
    """Delete the named files, and the study's folders (with any file stored before its row was written)."""
    gated, held = names
    for name in gated:
        default_storage.delete(name)
    for name in held:
        quarantine().delete(name)
    folder_delete(default_storage, study_folder(study_id))
    folder_delete(quarantine(), study_folder(study_id))


#: A spooled file that no row names is left this long: the receiver writes the file before its row.
SPOOL_GRACE = timedelta(hours=1)
_NAMES_PER_QUERY = 500  # well under SQLite's limit on a query's parameters


def received_files_sweep() -> int:
    """Delete what a stopped process left under ``received/``: spooled files no row names (the receiver
    stopped between a file and its row) once past :data:`SPOOL_GRACE`, and the folders of studies that
    no longer exist (a process stopped between a discard's commit and its files' deletion). A study's
    folder is made only once its row is committed, so an unknown folder is never a live study's. How many
    files went."""
    known = {study_folder(pk) for pk in ReceivedStudy.objects.values_list("pk", flat=True)}
    cutoff = timezone.now() - SPOOL_GRACE
    deleted = 0
    for storage in (default_storage, quarantine()):
        try:
            folders, files = storage.listdir("received")
        except FileNotFoundError:
            continue
        for folder in folders:
            if f"received/{folder}" not in known:
                deleted += folder_delete(storage, f"received/{folder}")
        if storage is default_storage:
            continue  # gated files live in the studies' folders; loose ones are from before them
        loose = [f"received/{name}" for name in files]
        named = set()
        for start in range(0, len(loose), _NAMES_PER_QUERY):
            rows = ReceivedInstance.objects.filter(
                quarantine_file__in=loose[start : start + _NAMES_PER_QUERY]
            )
            named.update(rows.values_list("quarantine_file", flat=True))
        for name in loose:
            if name not in named and storage.get_modified_time(name) < cutoff:
                storage.delete(name)
                deleted += 1
    return deleted


def received_purge(*, now=None) -> int:
    """Discard every received study whose last instance arrived more than ``RECEIVED_STUDY_DAYS`` ago,
    used or not (what a draft took is the case's by then); returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.RECEIVED_STUDY_DAYS)
    purged = 0
    for study in ReceivedStudy.objects.filter(last_received_at__lt=cutoff):
        received_study_discard(study=study)
        purged += 1
    return purged
