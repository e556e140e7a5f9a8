"""Image ingest: validate, de-identify, store, index. The admin upload and ``import_images`` share it.

Each file is accepted or rejected on its own, with a reason naming it. An accepted file is stored
de-identified — the original bytes never reach storage — and its row is written in the same
transaction; if the row cannot be written the stored file is deleted again, so a failure leaves
neither an orphan file nor a row. Rendering is deferred to first view (``imaging.rendering``).
"""

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO

import pydicom
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from cases.answer_words import answer_phrases
from imaging.dicom.deidentify import Deidentifier, dataset_to_bytes
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_dicom, slice_position, sort_key
from imaging.dicom.render import frame_count
from imaging.inputs import InputFile, expand_named_bytes
from imaging.models import DeidentificationKey, Image, Series, Study, Upload
from imaging.raster import read_raster, reencode_png

RASTER_REVIEW_REASON = "PNG/JPEG upload: screenshots often carry burned-in names; look before publishing"


@dataclass
class FileOutcome:
    name: str
    accepted: bool
    reason: str = ""
    image_id: int | None = None
    deidentification: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "accepted": self.accepted,
            "reason": self.reason,
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


def looks_like_dicom(name: str, data: bytes) -> bool:
    return data[128:132] == b"DICM" or name.lower().endswith((".dcm", ".dicom", ".ima"))


def deidentifier_for_case(case) -> Deidentifier:
    """One key per case keeps replaced UIDs and shifted dates consistent across all its uploads."""
    key, _ = DeidentificationKey.objects.get_or_create(
        case=case,
        defaults={"seed": secrets.token_hex(16), "date_offset_days": -secrets.randbelow(3650) - 365},
    )
    return Deidentifier(seed=key.seed, date_offset_days=key.date_offset_days)


def _prepare(item: InputFile, deidentifier: Deidentifier) -> tuple[bytes, dict, dict]:
    """Validated, de-identified bytes, the index fields, and the de-identification report."""
    if looks_like_dicom(item.name, item.data):
        dataset = read_dicom(item.data, name=item.name)
        report = deidentifier.deidentify(dataset)
        content = dataset_to_bytes(dataset)
        fields = {
            "kind": Image.Kind.DICOM,
            "modality": str(dataset.get("Modality", "")),
            "rows": int(dataset.Rows),
            "columns": int(dataset.Columns),
            "frame_count": frame_count(dataset),
            "sort_key": sort_key(dataset),
            "slice_position": slice_position(dataset),
            "needs_review": report.needs_review,
            "review_reason": report.review_reason,
        }
        return content, fields, report.as_dict()
    picture = read_raster(item.data, name=item.name)
    content = reencode_png(picture)
    fields = {
        "kind": Image.Kind.RASTER,
        "rows": picture.height,
        "columns": picture.width,
        "needs_review": True,
        "review_reason": RASTER_REVIEW_REASON,
    }
    return content, fields, {"re-encoded": "PNG without metadata (text, EXIF, ICC) was stored"}


def _stored_image(series: Series, content: bytes, fields: dict, report: dict, caption: str) -> Image:
    """An unsaved row whose de-identified file is already in storage."""
    image = Image(
        series=series,
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        deid_report=report,
        caption=caption,
        **fields,
    )
    image.file.save("upload", ContentFile(content), save=False)
    return image


class _PendingRows:
    """Rows written in batches: one commit per batch instead of per image (the commit dominated).

    If a batch cannot be written, the files of that batch are deleted again before the error goes
    on, so a failure leaves neither a row nor an orphan file.
    """

    BATCH_SIZE = 32

    def __init__(self) -> None:
        self.pending: list[tuple[Image, FileOutcome]] = []

    def add(self, image: Image, outcome: FileOutcome) -> None:
        self.pending.append((image, outcome))
        if len(self.pending) >= self.BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        images = [image for image, _ in self.pending]
        try:
            with transaction.atomic():
                Image.objects.bulk_create(images)
        except BaseException:
            self.discard()
            raise
        for image, outcome in self.pending:
            outcome.image_id = image.pk
        self.pending = []

    def discard(self) -> None:
        for image, _ in self.pending:
            image.file.delete(save=False)
        self.pending = []


def _renumber(series: Series) -> None:
    """Order a series by slice position: InstanceNumber, else position along the normal."""
    images = list(series.images.order_by("sort_key", "pk"))
    for position, image in enumerate(images, start=1):
        image.order = position
    Image.objects.bulk_update(images, ["order"])


def images_ingest(
    *,
    series: Series,
    files: Iterable[InputFile],
    by=None,
    caption: str = "",
    on_progress: Callable[[FileOutcome], None] | None = None,
) -> IngestResult:
    deidentifier = deidentifier_for_case(series.study.case)
    outcomes: list[FileOutcome] = []
    rows = _PendingRows()
    try:
        for item in expand_named_bytes(files):
            if isinstance(item, RejectedFile):
                outcome = FileOutcome(item.name, accepted=False, reason=item.reason)
            else:
                try:
                    content, fields, report = _prepare(item, deidentifier)
                except RejectedFile as rejection:
                    outcome = FileOutcome(item.name, accepted=False, reason=rejection.reason)
                else:
                    outcome = FileOutcome(item.name, accepted=True, deidentification=report)
                    rows.add(_stored_image(series, content, fields, report, caption), outcome)
            outcomes.append(outcome)
            if on_progress:
                on_progress(outcome)
        rows.flush()
    except BaseException:
        rows.discard()
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


@transaction.atomic
def series_create(
    *, case, label: str, modality: str, time_label: str = "Initial", finding=None, is_sample: bool = False
) -> Series:
    """A series in the case's study with that modality and time label (the study is created if new)."""
    check_series_label(case, label)
    study = Study.objects.filter(case=case, modality=modality, time_label=time_label).first()
    if study is None:
        study = Study.objects.create(
            case=case, modality=modality, time_label=time_label, order=next_order(case.studies.all())
        )
    return Series.objects.create(
        study=study, label=label, finding=finding, is_sample=is_sample, order=next_order(study.series.all())
    )


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
