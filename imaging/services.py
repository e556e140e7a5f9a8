"""Image ingest: validate, de-identify, store, index. The admin upload and ``import_images`` share it.

Each file is accepted or rejected on its own, with a reason naming it. An accepted file is stored
de-identified — the original bytes never reach storage — through Django's storage API, so where
files live (a folder, a bucket) is a setting. Rows are written in batches; if a batch cannot be
written its stored files are deleted again, so a failure leaves neither an orphan file nor a row.
Rendering is deferred to first view (``imaging.rendering``).
"""

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO

import pydicom
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from cases.answer_words import answer_phrases
from cases.modalities import MODALITY_LABELS, modality_matches
from imaging.dicom.deidentify import Deidentifier
from imaging.dicom.errors import RejectedFile
from imaging.inputs import InputFile, expand_named_bytes
from imaging.models import DeidentificationKey, Image, Series, Study, Upload
from imaging.preparation import RASTER_REVIEW_REASON, Prepared, looks_like_dicom, prepare
from imaging.upload_reports import file_label, without_file_name

__all__ = [
    "RASTER_REVIEW_REASON",
    "FileOutcome",
    "IngestResult",
    "NothingAccepted",
    "SeriesLabelError",
    "check_series_label",
    "deidentifier_for_case",
    "files_check",
    "guess_modality",
    "images_ingest",
    "looks_like_dicom",
    "series_create",
    "series_import",
]


@dataclass
class FileOutcome:
    """What happened to one file of an upload.

    `name` is the name it was uploaded under: shown to the uploader while the upload runs and in
    the answer to it, never stored (it can name the patient). What is stored, :meth:`as_dict`,
    names the file by `position` and `sha256` instead.
    """

    name: str
    accepted: bool
    reason: str = ""
    image_id: int | None = None
    deidentification: dict = field(default_factory=dict)
    position: int = 0  # from 1, in the order of the upload (each zip entry counts)
    sha256: str = ""  # of the stored file if accepted, else of the bytes as uploaded (if read)

    @property
    def label(self) -> str:
        return file_label(self.position, self.sha256)

    def as_dict(self) -> dict:
        """The entry stored in ``Upload.report``: no file name, in the reason either."""
        return {
            "file": self.label,
            "accepted": self.accepted,
            "reason": without_file_name(self.reason, self.name),
            "image_id": self.image_id,
            "deidentification": self.deidentification,
        }


@dataclass
class IngestResult:
    upload: Upload
    outcomes: list[FileOutcome]

    @property
    def rejected(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.accepted]

    @property
    def accepted(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.accepted]


def _deidentification_key(case) -> DeidentificationKey:
    """One key per case keeps replaced UIDs and shifted dates consistent across all its uploads."""
    key, _ = DeidentificationKey.objects.get_or_create(
        case=case,
        defaults={"seed": secrets.token_hex(16), "date_offset_days": -secrets.randbelow(3650) - 365},
    )
    return key


def deidentifier_for_case(case) -> Deidentifier:
    """The case's Deidentifier (see :func:`_deidentification_key`)."""
    key = _deidentification_key(case)
    return Deidentifier(seed=key.seed, date_offset_days=key.date_offset_days)


#: Rows written per transaction: one commit per batch instead of per image (the commit dominated).
BATCH_SIZE = 32


def _prepare(item: InputFile | RejectedFile, deidentifier: Deidentifier) -> Prepared | RejectedFile:
    """The prepared file, or why it was rejected (a RejectedFile among the inputs stays one)."""
    if isinstance(item, RejectedFile):
        return item
    try:
        return prepare(item.name, item.data, deidentifier, memory_limit=settings.DECODE_MEMORY_LIMIT)
    except RejectedFile as rejection:
        return rejection


def _modality_checked(item: InputFile, prepared: Prepared, series_modality: str) -> Prepared | RejectedFile:
    """A DICOM file of another modality than its series' study is refused for that series, with the
    reason, never mixed in: a viewer windows a whole series with one set of presets. Equivalent codes
    pass (``cases.modalities``); a PNG/JPEG file, or a DICOM file without a Modality, carries none to
    compare and is accepted."""
    file_modality = prepared[1].get("modality", "").strip()
    if not file_modality or modality_matches(file_modality, series_modality):
        return prepared
    what = MODALITY_LABELS.get(file_modality.upper(), file_modality)
    rejection = RejectedFile(
        item.name,
        f"the file is {what}, the series is {MODALITY_LABELS.get(series_modality, series_modality)}: "
        "upload it to a series of its own modality",
    )
    rejection.sha256 = hashlib.sha256(item.data).hexdigest()
    return rejection


def _stored_image(series: Series, order: int, prepared: Prepared, caption: str) -> Image:
    """An unsaved row whose de-identified file is already in storage, under a random name."""
    content, fields, report = prepared
    image = Image(
        series=series,
        order=order,
        size_bytes=len(content),
        deid_report=report,
        caption=caption,
        **{**fields, "kind": Image.Kind(fields["kind"])},
    )
    image.file.save("upload", ContentFile(content), save=False)
    return image


def _write_rows(batch: list[tuple[Image, FileOutcome]]) -> None:
    """The batch's rows, in one transaction."""
    with transaction.atomic():
        Image.objects.bulk_create([image for image, _ in batch])
    for image, outcome in batch:
        outcome.image_id, outcome.sha256 = image.pk, image.sha256


def _renumber(series: Series) -> None:
    """Order a series by slice position: InstanceNumber, else position along the normal."""
    rows = series.images.order_by("sort_key", "pk").values_list("pk", "order")
    moved = [
        Image(pk=pk, order=position)
        for position, (pk, order) in enumerate(rows, start=1)
        if order != position
    ]
    Image.objects.bulk_update(moved, ["order"])


def images_ingest(
    *,
    series: Series,
    files: Iterable[InputFile | RejectedFile],
    by=None,
    caption: str = "",
    on_progress: Callable[[FileOutcome], None] | None = None,
) -> IngestResult:
    """Ingest `files` into `series`: one outcome per file, in order, and an Upload recording them.

    A :class:`RejectedFile` among `files` (refused before it was read) is recorded as rejected.

    A rejected file stores nothing. If storing or indexing fails, the files of the batch not yet
    committed are deleted again and the error goes on (earlier batches stay committed).
    """
    deidentifier = deidentifier_for_case(series.study.case)
    series_modality = series.study.modality
    outcomes: list[FileOutcome] = []
    batch: list[tuple[Image, FileOutcome]] = []  # stored, rows not yet written
    # New images go after the series' images in upload order, until _renumber puts them in
    # slice order: for files uploaded in order (a series' files usually are), nothing moves.
    order = next_order(series.images.all())
    try:
        for position, item in enumerate(expand_named_bytes(files), start=1):
            result = _prepare(item, deidentifier)
            if not isinstance(result, RejectedFile):
                result = _modality_checked(item, result, series_modality)
            if isinstance(result, RejectedFile):
                outcome = FileOutcome(
                    item.name, accepted=False, reason=result.reason, position=position, sha256=result.sha256
                )
            else:
                outcome = FileOutcome(item.name, accepted=True, deidentification=result[2], position=position)
                batch.append((_stored_image(series, order, result, caption), outcome))
                order += 1
                if len(batch) >= BATCH_SIZE:
                    _write_rows(batch)
                    batch = []
            outcomes.append(outcome)
            if on_progress:
                on_progress(outcome)
        _write_rows(batch)
    except BaseException:
        for image, _ in batch:  # stored, but their rows were never written
            image.file.delete(save=False)
        raise
    with transaction.atomic():
        _renumber(series)
        upload = Upload.objects.create(
            series=series,
            uploaded_by=by,
            accepted=sum(outcome.accepted for outcome in outcomes),
            rejected=sum(not outcome.accepted for outcome in outcomes),
            report=[outcome.as_dict() for outcome in outcomes],
        )
    return IngestResult(upload, outcomes)


def next_order(queryset) -> int:
    return (queryset.aggregate(top=Max("order"))["top"] or 0) + 1


class SeriesLabelError(ValueError):
    pass


def check_series_label(case, label: str) -> None:
    """The label residents see must not give the answer away (it is shown in quiz mode too)."""
    lowered = label.lower()
    for phrase in answer_phrases(case):
        if phrase and phrase.lower() in lowered:
            raise SeriesLabelError(
                f"The series label {label!r} names the diagnosis ({phrase!r}); use e.g. 'Sagittal T2'."
            )


def series_create(
    *, case, label: str, modality: str, time_label: str = "Initial", finding=None, is_sample: bool = False
) -> Series:
    """A series in the case's study with that modality and time label (the study is created if new)."""
    series, _study_created = _series_and_study(
        case=case, label=label, modality=modality, time_label=time_label, finding=finding, is_sample=is_sample
    )
    return series


@transaction.atomic
def _series_and_study(
    *, case, label: str, modality: str, time_label: str, finding, is_sample: bool
) -> tuple[Series, bool]:
    """:func:`series_create`, and whether it created the study too."""
    check_series_label(case, label)
    study = Study.objects.filter(case=case, modality=modality, time_label=time_label).first()
    study_created = study is None
    if study_created:
        study = Study.objects.create(
            case=case, modality=modality, time_label=time_label, order=next_order(case.studies.all())
        )
    series = Series.objects.create(
        study=study, label=label, finding=finding, is_sample=is_sample, order=next_order(study.series.all())
    )
    return series, study_created


class NothingAccepted(Exception):
    """Every file of an import into a new series was rejected: the series is not kept (nor a study made
    for it), so a failed import leaves nothing behind. ``result`` names each file and its reason."""

    def __init__(self, result: IngestResult) -> None:
        self.result = result
        super().__init__(f"every file was rejected ({len(result.rejected)}): nothing was imported")


def series_import(
    *,
    case,
    label: str,
    modality: str,
    time_label: str = "Initial",
    finding=None,
    is_sample: bool = False,
    files: Iterable[InputFile | RejectedFile],
    by=None,
    caption: str = "",
    on_progress: Callable[[FileOutcome], None] | None = None,
) -> IngestResult:
    """`files` ingested into a new series of `case` (:func:`series_create`, then :func:`images_ingest`).

    Raises :class:`NothingAccepted` when every file was rejected: the new series, its upload report,
    and a study and de-identification key created for it are removed again. If the ingest fails, they
    are removed too unless images were stored before the failure (those batches stay committed).
    """
    made_key = not DeidentificationKey.objects.filter(case=case).exists()
    series, made_study = _series_and_study(
        case=case, label=label, modality=modality, time_label=time_label, finding=finding, is_sample=is_sample
    )
    try:
        result = images_ingest(series=series, files=files, by=by, caption=caption, on_progress=on_progress)
    except BaseException:
        _remove_if_empty(series, made_study=made_study, made_key=made_key)
        raise
    if not result.accepted:
        _remove_if_empty(series, made_study=made_study, made_key=made_key)
        raise NothingAccepted(result)
    return result


@transaction.atomic
def _remove_if_empty(series: Series, *, made_study: bool, made_key: bool) -> None:
    """Undo :func:`series_import`'s rows when it stored no image: the series (its Upload rows go with
    it), and the study and the case's key if it made them and nothing else uses them."""
    if series.images.exists():
        return
    study, case = series.study, series.study.case
    series.delete()
    if made_study and not study.series.exists():
        study.delete()
    if made_key and not Image.objects.filter(series__study__case=case).exists():
        DeidentificationKey.objects.filter(case=case).delete()


def files_check(files: Iterable[InputFile | RejectedFile]) -> list[FileOutcome]:
    """Each file's verdict as :func:`images_ingest` would give it, storing nothing and writing no row.

    For a caller that cannot make the series yet (its modality is unknown) and must still say which
    files would be rejected, and why. Each file is prepared in full with a throwaway key, so this costs
    what an ingest costs; the prepared bytes are dropped.
    """
    deidentifier = Deidentifier()  # a fresh random key: nothing it produces is kept
    outcomes = []
    for item in expand_named_bytes(files):
        result = _prepare(item, deidentifier)
        if isinstance(result, RejectedFile):
            outcomes.append(FileOutcome(item.name, accepted=False, reason=result.reason))
        else:
            outcomes.append(FileOutcome(item.name, accepted=True))
    return outcomes


def guess_modality(files: Iterable[InputFile]) -> str:
    """The Modality of the first readable DICOM header, or "" (raster files carry none)."""
    for item in files:
        if looks_like_dicom(item.name, item.data):
            try:
                dataset = pydicom.dcmread(
                    BytesIO(item.data), stop_before_pixels=True, specific_tags=["Modality"]
                )
            except Exception:
                continue
            if dataset.get("Modality"):
                return str(dataset.Modality).upper()
    return ""
