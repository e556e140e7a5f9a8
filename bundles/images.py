"""A bundle's studies, series, images and arrows: every image file through the ingest, never as it came.

The image files of a bundle are not trusted for saying they were de-identified. Each series' files go
through :func:`imaging.services.images_ingest`, the one gate of the admin upload and ``import_images``:
validated, de-identified with the receiving case's own key (so UIDs and shifted dates are re-keyed by
this archive, consistently within the case) and re-encoded (a PNG is written afresh, without its text
chunks, EXIF or any other ancillary chunk). What the index row says about a file (kind, size, rows,
columns, frames, modality, slice position, the burned-in text flag) comes from that ingest; the
bundle gives only what an author chose: the image's place, caption and arrows. A burned-in text flag
is never cleared by a bundle: an image the ingest or the bundle flags arrives flagged and unreviewed,
whatever review the exporting archive recorded.

Studies, series and arrows are checked as the admin checks them (``full_clean()``, the series label
rule, the teaching view's slice and zoom, the window presets the images offer) before they are saved;
an error names the record (:class:`~bundles.records.RecordError`). The names of the files the
ingest stored are appended to the caller's list, so that a failed import can delete them again.
"""

from contextlib import suppress

from django.db import DatabaseError

from bundles.localisation import localisation_create
from bundles.records import RecordError, checked, record, record_list, values_of
from cases.models import Case, Finding
from imaging.inputs import InputFile
from imaging.models import Annotation, Image, Series, Study
from imaging.rendering import presets_of
from imaging.services import SeriesLabelError, check_series_label, images_ingest
from imaging.stacks import teaching_view_errors

__all__ = ["IMAGE_FIELDS", "case_images_create"]

STUDY_FIELDS = ["modality", "time_label", "order"]
SERIES_FIELDS = ["label", "order", "is_sample"]
TEACHING_VIEW_FIELDS = ["teaching_preset", "teaching_slice", "teaching_zoom"]
ANNOTATION_FIELDS = ["frame", "kind", "x", "y", "tail_x", "tail_y", "text"]
# What the bundle gives of an image: the author's choices, and a flag it may add but never clear.
IMAGE_CHOICES = ["order", "caption", "needs_review", "review_reason"]
# What export writes of an image row; the rest of it is the ingest's to say again.
IMAGE_FIELDS = [
    "kind",
    "sha256",
    "size_bytes",
    "modality",
    "rows",
    "columns",
    "frame_count",
    "sort_key",
    "slice_position",
    "order",
    "caption",
    "deid_report",
    "needs_review",
    "review_reason",
]

STUDY_KEYS = {*STUDY_FIELDS, "series"}
SERIES_KEYS = {*SERIES_FIELDS, *TEACHING_VIEW_FIELDS, "finding_order", "images", "localisation_questions"}
IMAGE_KEYS = {*IMAGE_FIELDS, "file", "reviewed", "annotations"}
ANNOTATION_KEYS = {*ANNOTATION_FIELDS, "finding_order"}
FLAGGED_BY_BUNDLE = "Flagged for a burned-in text review in the archive the bundle came from"


def _finding(findings: dict[int, Finding], order, where: str) -> Finding | None:
    if order is None:
        return None
    if isinstance(order, bool) or order not in findings:
        raise RecordError(f"{where}: the case has no finding with order {order!r}")
    return findings[order]


def case_images_create(
    data: dict, *, case: Case, findings: dict[int, Finding], files: dict[str, bytes], by, stored: list[str]
) -> int:
    """The studies, series, images and arrows of the case record `data` (checked already by
    :func:`bundles.records.case_records_create`); returns how many images arrive flagged.

    `files` are the bundle's files by path; the names of the files stored are added to `stored`.
    """
    where = f"case {data['slug']}"
    flagged = 0
    for study_index, study_data in enumerate(record_list(data, "studies", where), start=1):
        study_where = f"{where}, study {study_index}"
        study_data = record(study_data, study_where, STUDY_KEYS)
        study = Study(case=case, **values_of(study_data, Study, STUDY_FIELDS, study_where))
        checked(study, study_where).save()
        for series_index, series_data in enumerate(record_list(study_data, "series", study_where), start=1):
            series_where = f"{study_where}, series {series_index}"
            flagged += _series_create(
                record(series_data, series_where, SERIES_KEYS),
                study=study,
                findings=findings,
                files=files,
                by=by,
                stored=stored,
                where=series_where,
            )
    return flagged


def _series_create(data: dict, *, study: Study, findings, files, by, stored: list[str], where: str) -> int:
    series = Series(
        study=study,
        finding=_finding(findings, data.get("finding_order"), where),
        **values_of(data, Series, SERIES_FIELDS, where),
    )
    checked(series, where, exclude=TEACHING_VIEW_FIELDS)  # the teaching view is checked with the images
    try:
        check_series_label(study.case, series.label)
    except SeriesLabelError as error:
        raise RecordError(f"{where}: {error}") from error
    series.save()

    images = _ingested(series, record_list(data, "images", where), files, by, stored, where)
    flagged = 0
    for index, (image_data, image) in enumerate(images, start=1):
        image_where = f"{where}, image {index} ({image_data['file']})"
        _image_choices_apply(image, image_data, image_where)
        flagged += image.needs_review
        for note_index, note in enumerate(record_list(image_data, "annotations", image_where), start=1):
            _annotation_create(
                note, image=image, findings=findings, where=f"{image_where}, arrow {note_index}"
            )

    localisation_create(data, series=series, images=[image for _, image in images], where=where)

    view = values_of(data, Series, TEACHING_VIEW_FIELDS, where)
    for name, value in view.items():
        setattr(series, name, value)
    problems = teaching_view_errors(series, slice_number=series.teaching_slice, zoom=series.teaching_zoom)
    first = next(iter(series.images.all()), None)
    presets = presets_of(first) if first is not None else {}
    if series.teaching_preset and series.teaching_preset not in presets:
        problems["teaching_preset"] = f"{series.teaching_preset!r} is not a window preset of these images"
    if problems:
        raise RecordError(f"{where}: " + "; ".join(f"{name}: {text}" for name, text in problems.items()))
    checked(series, where).save(update_fields=TEACHING_VIEW_FIELDS)
    return flagged


def _ingested(series: Series, records: list, files: dict[str, bytes], by, stored: list[str], where: str):
    """Each image record with the row the ingest made of its file, in the bundle's order."""
    records = [record(item, f"{where}, image {index}", IMAGE_KEYS) for index, item in enumerate(records, 1)]
    if not records:
        return []
    inputs = [InputFile(item["file"], files[item["file"]]) for item in records]  # checked by read_bundle
    try:
        result = images_ingest(series=series, files=inputs, by=by)
    except BaseException:
        # The ingest deletes the files of the batch it was writing; those of batches it had written
        # are this series' rows until the transaction rolls back.
        with suppress(DatabaseError):
            stored.extend(Image.objects.filter(series=series).values_list("file", flat=True))
        raise
    rows = Image.objects.in_bulk([outcome.image_id for outcome in result.accepted])
    stored.extend(image.file.name for image in rows.values())
    if len(result.outcomes) != len(records):  # read_bundle refuses zips, the one thing that expands
        raise RecordError(f"{where}: {len(records)} image files gave {len(result.outcomes)} images")
    for index, (item, outcome) in enumerate(zip(records, result.outcomes, strict=True), start=1):
        if not outcome.accepted:
            raise RecordError(
                f"{where}, image {index} ({item['file']}): refused by the ingest: {outcome.reason}"
            )
    return [(item, rows[outcome.image_id]) for item, outcome in zip(records, result.outcomes, strict=True)]


def _image_choices_apply(image: Image, data: dict, where: str) -> None:
    if data.get("kind") != image.kind:
        raise RecordError(f"{where}: the bundle says {data.get('kind')!r}, but the file is {image.kind!r}")
    choices = values_of(data, Image, IMAGE_CHOICES, where)
    image.order = choices.get("order", image.order)
    image.caption = choices.get("caption", image.caption)
    if choices.get("needs_review") and not image.needs_review:
        image.needs_review = True
        image.review_reason = choices.get("review_reason") or FLAGGED_BY_BUNDLE
    # reviewed_at stays empty as the ingest left it: "reviewed" is the exporting archive's record.
    checked(image, where).save(update_fields=["order", "caption", "needs_review", "review_reason"])


def _annotation_create(data, *, image: Image, findings, where: str) -> None:
    data = record(data, where, ANNOTATION_KEYS)
    annotation = Annotation(
        image=image,
        finding=_finding(findings, data.get("finding_order"), where),
        **values_of(data, Annotation, ANNOTATION_FIELDS, where),
    )
    checked(annotation, where)
    if annotation.frame >= image.frame_count:
        raise RecordError(
            f"{where}: frame {annotation.frame}, but the image has {image.frame_count} frame(s)"
        )
    annotation.save()
