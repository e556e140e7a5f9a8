"""A bundle's case record written as rows, each checked as the admin checks it, errors naming the record.

Every row is built only from the keys the format knows (an unknown key is refused, not ignored), each
of the JSON type its field takes; then it passes the model's ``full_clean()`` (choices, lengths,
constraints, uniqueness) and the rules the admin's forms add: a reference's URL is http or https, by
allow-list (``javascript:``, ``data:``, ``ftp:`` … are refused); a diagnosis's names are strings of at
most 200 characters, as its form takes them; a case's age is at most 130. Only then is the row saved.
An error names the case and the record ("case <slug>, reference 2: URL scheme must be http or https")
and is raised as :class:`RecordError`; the caller's transaction undoes what was saved before it.

What a bundle cannot set: a case arrives as a draft, never published, whatever its record says; its
author is the one the importer chose (or nobody), never a user the bundle names.

A diagnosis or region the archive does not know (by slug) is created from the bundle's entry, checked
like any other record; one it knows is kept as it is, except that a diagnosis learns the synonyms and
accepted answers it did not have (the import's report lists both kinds).
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, URLValidator
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from taggit.models import Tag

from cases.admin_forms import NamesField
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region

__all__ = [
    "CASE_FIELDS",
    "DIAGNOSIS_FIELDS",
    "DIFFERENTIAL_FIELDS",
    "FINDING_FIELDS",
    "REFERENCE_FIELDS",
    "CaseRecords",
    "RecordError",
    "case_records_create",
    "checked",
    "record",
    "record_list",
    "values_of",
]

# The case's own texts and facts, as the format carries them (export writes "status" too; see below).
CASE_FIELDS = [
    "title",
    "age",
    "sex",
    "age_sex_source",
    "clinical_history",
    "diagnosis_certainty",
    "diagnosis_proof",
    "treatment_outcome",
    "discussion",
    "teaching_points",
    "editors_notes",
    "attribution",
    "licence",
]
FINDING_FIELDS = ["modality", "study", "text", "editors_note", "order"]
DIFFERENTIAL_FIELDS = ["rationale", "added_by_editors", "editors_note", "indistinguishable", "order"]
REFERENCE_FIELDS = ["citation", "url", "doi", "pmid", "order"]
DIAGNOSIS_FIELDS = ["name", "synonyms", "accepted_answers", "summary", "summary_source", "editorial_summary"]
DIAGNOSIS_NAME_LISTS = ("synonyms", "accepted_answers")
REGION_FIELDS = ["name", "order"]

# Keys a record may have. Some are carried for the reader only and never imported: the exporting
# archive's status, publication date, author and revision summary.
CASE_KEYS = {
    "slug",
    *CASE_FIELDS,
    "final_diagnosis",
    "findings",
    "differential",
    "references",
    "regions",
    "tags",
    "studies",
    "created_at",
    "status",
    "published_at",
    "author",
    "revision_summary",
    "questions",  # these two: bundles.questions
    "quiz_format",
}
FINDING_KEYS = set(FINDING_FIELDS)
DIFFERENTIAL_KEYS = {"diagnosis", *DIFFERENTIAL_FIELDS}
REFERENCE_KEYS = set(REFERENCE_FIELDS)
DIAGNOSIS_KEYS = {"slug", *DIAGNOSIS_FIELDS}
REGION_KEYS = {"slug", "path"}
REGION_NODE_KEYS = {"slug", *REGION_FIELDS}

URL_SCHEMES = ("http", "https")  # an allow-list: anything else is refused
MAX_AGE = 130  # as the constraint case_age_plausible and the case form
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length


class RecordError(Exception):
    """A record of a bundle that cannot be imported; the message names the case and the record."""


@dataclass
class CaseRecords:
    """What :func:`case_records_create` made: the case, and its findings by their order (series and
    arrows name a finding by its order)."""

    case: Case
    findings: dict[int, Finding]


@dataclass
class DiagnosisChanges:
    """Diagnoses a bundle added to the archive, and existing ones that learned names from it."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


# -- checking a record ----------------------------------------------------------------------------


def record(value, where: str, keys: set[str]) -> dict:
    """`value` as a record (a JSON object) with only the `keys` the format knows."""
    if not isinstance(value, dict):
        raise RecordError(f"{where}: not a record (a JSON object)")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    return value


def record_list(parent: dict, key: str, where: str) -> list:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise RecordError(f"{where}: {key} is not a list")
    return value


def _json_type_fits(model_field: models.Field, value) -> bool:
    if value is None:
        return model_field.null
    if isinstance(model_field, models.BooleanField):
        return isinstance(value, bool)
    if isinstance(model_field, models.IntegerField):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(model_field, models.FloatField):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(model_field, models.JSONField):  # the lists of names of a diagnosis
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, str)


def values_of(data: dict, model: type[models.Model], names: list[str], where: str) -> dict:
    """The fields `names` that `data` holds, each of the JSON type its model field takes.

    Checked here because ``full_clean`` would turn a list into its text, or "1" into a number.
    """
    values = {}
    for name in names:
        if name not in data:
            continue  # an older bundle without the field: the model's default
        if not _json_type_fits(model._meta.get_field(name), data[name]):
            raise RecordError(f"{where}: {name} has the wrong type ({type(data[name]).__name__})")
        values[name] = data[name]
    return values


def _described(error: ValidationError) -> str:
    if not hasattr(error, "error_dict"):
        return "; ".join(error.messages)
    return "; ".join(
        message if name == NON_FIELD_ERRORS else f"{name}: {message}"
        for name, messages in error.message_dict.items()
        for message in messages
    )


def checked(instance: models.Model, where: str, *, exclude: list[str] | None = None) -> models.Model:
    """`instance` after the model's full validation, or a :class:`RecordError` naming `where`."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        raise RecordError(f"{where}: {_described(error)}") from error
    return instance


def _url_error(url: str) -> str:
    """Why `url` is no link to store ("" if it is one): http and https only, and well formed."""
    if not url:
        return ""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return "not a valid URL"
    if scheme not in URL_SCHEMES:
        return "URL scheme must be http or https"
    try:
        URLValidator(schemes=list(URL_SCHEMES))(url)
    except ValidationError as error:
        return _described(error)
    return ""


def _names(values: list[str], where: str) -> list[str]:
    """A diagnosis's list of names, as its admin form takes them: trimmed, none empty, none twice."""
    limit = NamesField.max_name_length
    too_long = [name for name in values if len(name.strip()) > limit]
    if too_long:
        raise RecordError(f"{where}: a name is at most {limit} characters; this one is {len(too_long[0])}")
    return list(dict.fromkeys(name.strip() for name in values if name.strip()))


def _slug(data: dict, where: str) -> str:
    slug = data.get("slug")
    if not isinstance(slug, str) or not slug:
        raise RecordError(f"{where}: no slug")
    return slug


# -- shared rows: diagnoses, regions, tags -------------------------------------------------------


def _diagnosis(entry, where: str, changes: DiagnosisChanges) -> Diagnosis:
    entry = record(entry, where, DIAGNOSIS_KEYS)
    slug = _slug(entry, where)
    values = values_of(entry, Diagnosis, DIAGNOSIS_FIELDS, where)
    for name in DIAGNOSIS_NAME_LISTS:
        values[name] = _names(values.get(name, []), f"{where}, {name}")
    diagnosis = Diagnosis.objects.filter(slug=slug).first()
    if diagnosis is None:
        diagnosis = Diagnosis(slug=slug, **values)
        checked(diagnosis, f"{where}: diagnosis {slug!r} is new to this archive, and its entry")
        diagnosis.save()
        changes.created.append(slug)
        return diagnosis
    # Keep the local entry; only learn the names it did not know.
    learned = []
    for name in DIAGNOSIS_NAME_LISTS:
        known = {item.lower() for item in getattr(diagnosis, name)}
        extra = [item for item in values[name] if item.lower() not in known]
        if extra:
            setattr(diagnosis, name, [*getattr(diagnosis, name), *extra])
            learned.append(name)
    if learned:
        checked(diagnosis, f"{where}: diagnosis {slug!r}")
        diagnosis.save(update_fields=learned)
        if slug not in changes.updated:
            changes.updated.append(slug)
    return diagnosis


def _region(entry, where: str) -> Region:
    """The region, created with its missing parents (root first) from the bundle's path to it."""
    entry = record(entry, where, REGION_KEYS)
    slug = _slug(entry, where)
    path = record_list(entry, "path", where)
    if not path:
        raise RecordError(f"{where}: the path to region {slug!r} is empty")
    parent = None
    for depth, node in enumerate(path, start=1):
        node_where = f"{where}, path step {depth}"
        node = record(node, node_where, REGION_NODE_KEYS)
        node_slug = _slug(node, node_where)
        region = Region.objects.filter(slug=node_slug).first()
        if region is None:
            region = Region(
                slug=node_slug, parent=parent, **values_of(node, Region, REGION_FIELDS, node_where)
            )
            checked(region, f"{node_where}: region {node_slug!r}")
            region.save()
        parent = region
    if parent.slug != slug:
        raise RecordError(f"{where}: the path ends at {parent.slug!r}, not at the region {slug!r}")
    return parent


def _tags(data: dict, where: str) -> list[str]:
    tags = record_list(data, "tags", where)
    for index, tag in enumerate(tags, start=1):
        if not isinstance(tag, str) or not tag.strip() or len(tag) > TAG_MAX_LENGTH:
            raise RecordError(
                f"{where}, tag {index}: not a tag name (text of 1 to {TAG_MAX_LENGTH} characters)"
            )
    return tags


# -- the case and its text rows -------------------------------------------------------------------


def _created_at(data: dict, where: str):
    value = data.get("created_at")
    if value is None:
        return timezone.now()
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise RecordError(f"{where}: created_at is not a date and time")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def case_records_create(data, *, slug: str, author, changes: DiagnosisChanges) -> CaseRecords:
    """The case of a bundle record, as a draft of `author`, with its findings, differential,
    references, regions and tags; every row checked before it is saved. Raises :class:`RecordError`.
    """
    where = f"case {data.get('slug') if isinstance(data, dict) else '?'}"
    data = record(data, where, CASE_KEYS)
    case = Case(
        slug=slug,
        **values_of(data, Case, CASE_FIELDS, where),
        status=Case.Status.DRAFT,  # whatever the bundle says: an editor publishes it after review
        published_at=None,
        author=author,
        created_at=_created_at(data, where),
    )
    if data.get("final_diagnosis") is not None:
        case.final_diagnosis = _diagnosis(data["final_diagnosis"], f"{where}, final diagnosis", changes)
    if case.age is not None:
        try:
            MaxValueValidator(MAX_AGE)(case.age)
        except ValidationError as error:
            raise RecordError(f"{where}: age: {_described(error)}") from error
    checked(case, where)
    case.save()

    findings = {}
    for index, item in enumerate(record_list(data, "findings", where), start=1):
        item_where = f"{where}, finding {index}"
        item = record(item, item_where, FINDING_KEYS)
        finding = Finding(case=case, **values_of(item, Finding, FINDING_FIELDS, item_where))
        checked(finding, item_where).save()
        findings[finding.order] = finding

    for index, item in enumerate(record_list(data, "differential", where), start=1):
        item_where = f"{where}, differential item {index}"
        item = record(item, item_where, DIFFERENTIAL_KEYS)
        if item.get("diagnosis") is None:
            raise RecordError(f"{item_where}: no diagnosis")
        differential = DifferentialItem(
            case=case,
            diagnosis=_diagnosis(item["diagnosis"], item_where, changes),
            **values_of(item, DifferentialItem, DIFFERENTIAL_FIELDS, item_where),
        )
        checked(differential, item_where).save()

    for index, item in enumerate(record_list(data, "references", where), start=1):
        item_where = f"{where}, reference {index}"
        item = record(item, item_where, REFERENCE_KEYS)
        reference = Reference(case=case, **values_of(item, Reference, REFERENCE_FIELDS, item_where))
        problem = _url_error(reference.url)
        if problem:
            raise RecordError(f"{item_where}: {problem}")
        checked(reference, item_where).save()

    regions = [
        _region(entry, f"{where}, region {index}")
        for index, entry in enumerate(record_list(data, "regions", where), start=1)
    ]
    case.regions.set(regions)
    case.tags.set(_tags(data, where))
    return CaseRecords(case, findings)
