"""A case's revision history (django-reversion) and the field-by-field difference of two versions.

Every revision of a case holds the case and all its findings, differential items, references and
tag rows at that moment (``follow``), so two versions compare as two complete snapshots. Studies and
images are deliberately not followed: restoring an old text must never delete images uploaded since.
"""

import difflib
from dataclasses import dataclass, field

import reversion
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.utils.formats import localize
from django.utils.html import escape, format_html
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from reversion.models import Version
from taggit.models import Tag

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region, TaggedCase

CASE_FOLLOW = ("findings", "differential_items", "references", "taggedcase_set")
ROW_MODELS = (Finding, DifferentialItem, Reference, TaggedCase)
# Bookkeeping that changes on every save or that is the row's link to the case itself.
SKIPPED_FIELDS = {"id", "case", "content_object", "created_at", "updated_at"}
MISSING = "—"


def case_follows() -> tuple[str, ...]:
    """The case's own rows, and those other apps keep for it (an app config's ``case_history_follows``:
    quiz's questions). The app registry lists every app's config before any app's models load."""
    others = (
        name for config in apps.get_app_configs() for name in getattr(config, "case_history_follows", ())
    )
    return (*CASE_FOLLOW, *others)


def register_case_history() -> None:
    for model in ROW_MODELS:
        if not reversion.is_registered(model):
            reversion.register(model)
    if not reversion.is_registered(Case):
        # Tags are followed as rows (their through model has its own key); the manager is no field value.
        reversion.register(Case, follow=case_follows(), exclude=["tags"])


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: SafeString
    new: SafeString


@dataclass(frozen=True)
class RowChange:
    label: str
    state: str  # "added", "removed" or "changed"
    changes: tuple[FieldChange, ...]
    summary: str = ""  # a whole sentence, e.g. "Target added on image 3, frame 2", where the app gives one


@dataclass
class RowGroup:
    title: str
    rows: list[RowChange] = field(default_factory=list)


@dataclass(frozen=True)
class VersionDiff:
    case_changes: tuple[FieldChange, ...]
    groups: tuple[RowGroup, ...]

    @property
    def is_empty(self) -> bool:
        return not self.case_changes and not any(group.rows for group in self.groups)


class _Names:
    """Display names of the related objects both versions mention, loaded once per model."""

    MODELS = {Diagnosis: "name", Region: "name", Tag: "name"}

    def __init__(self, wanted: dict[type[models.Model], set]):
        self.names: dict[type[models.Model], dict] = {}
        for model, pks in wanted.items():
            if model is get_user_model():
                rows = model.objects.filter(pk__in=pks)
                self.names[model] = {user.pk: user.get_username() for user in rows}
            else:
                attribute = self.MODELS[model]
                self.names[model] = dict(model.objects.filter(pk__in=pks).values_list("pk", attribute))

    def __call__(self, model, pk) -> str:
        name = self.names.get(model, {}).get(pk)
        return name if name is not None else f"#{pk} (deleted)"


def _related_model(model, field_name):
    return model._meta.get_field(field_name).related_model


def _wanted_names(snapshots: list[tuple[type[models.Model], dict]]) -> dict:
    wanted: dict[type[models.Model], set] = {}
    for model, values in snapshots:
        for name, value in values.items():
            related = _related_model(model, name)
            if related is None or value in (None, ""):
                continue
            pks = value if isinstance(value, list) else [value]
            wanted.setdefault(related, set()).update(pks)
    return wanted


def _display(model, name: str, value, names: _Names) -> str:
    model_field = model._meta.get_field(name)
    if value is None or value == "" or value == []:
        return ""
    if model_field.many_to_many:
        return ", ".join(sorted(names(model_field.related_model, pk) for pk in value))
    if model_field.is_relation:
        return names(model_field.related_model, value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "tzinfo"):
        return localize(localtime(value))
    return str(value)


def _marked(old: str, new: str) -> tuple[SafeString, SafeString]:
    """Both texts escaped, with removed words in <del> and added words in <ins>."""
    if not old or not new:
        return (escape(old) or mark_safe(MISSING), escape(new) or mark_safe(MISSING))
    old_words, new_words = old.split(" "), new.split(" ")
    old_parts, new_parts = [], []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        before, after = " ".join(old_words[i1:i2]), " ".join(new_words[j1:j2])
        if tag == "equal":
            old_parts.append(escape(before))
            new_parts.append(escape(after))
            continue
        if before:
            old_parts.append(format_html("<del>{}</del>", before))
        if after:
            new_parts.append(format_html("<ins>{}</ins>", after))
    return mark_safe(" ".join(old_parts)), mark_safe(" ".join(new_parts))


def _values(version: Version) -> dict:
    """The version's stored field values keyed by field name (foreign keys as primary keys)."""
    model = version.content_type.model_class()
    by_attname = version.field_dict
    values = {}
    for model_field in model._meta.get_fields():
        if model_field.name in SKIPPED_FIELDS or (not model_field.concrete and not model_field.many_to_many):
            continue
        key = model_field.attname if hasattr(model_field, "attname") else model_field.name
        if key in by_attname:
            values[model_field.name] = by_attname[key]
    return values


def _field_changes(model, old: dict, new: dict, names: _Names) -> tuple[FieldChange, ...]:
    changes = []
    for name in dict.fromkeys([*old, *new]):
        before = _display(model, name, old.get(name), names)
        after = _display(model, name, new.get(name), names)
        if before != after:
            marked_old, marked_new = _marked(before, after)
            label = str(model._meta.get_field(name).verbose_name)
            changes.append(FieldChange(label[:1].upper() + label[1:], marked_old, marked_new))
    return tuple(changes)


def _row_key(model, values: dict, version: Version):
    # Tags are re-created when re-set, so a tag row is the same row if it names the same tag.
    return values.get("tag") if model is TaggedCase else version.object_id


def _row_label(model, values: dict, names: _Names) -> str:
    if model is Finding:
        modality = _display(Finding, "modality", values.get("modality"), names)
        return f"{modality} · {values['study']}" if values.get("study") else modality
    if model is DifferentialItem:
        return names(Diagnosis, values.get("diagnosis"))
    if model is Reference:
        citation = values.get("citation", "")
        return citation if len(citation) <= 80 else citation[:79] + "…"
    return names(Tag, values.get("tag"))


def _rows_of(version: Version, model, case_pk) -> dict:
    case_field = "content_object_id" if model is TaggedCase else "case_id"
    rows = {}
    for row_version in version.revision.version_set.get_for_model(model):
        if str(row_version.field_dict.get(case_field)) != str(case_pk):
            continue
        values = _values(row_version)
        rows[_row_key(model, values, row_version)] = values
    return rows


GROUP_TITLES = {
    Finding: "Imaging findings",
    DifferentialItem: "Differential diagnosis",
    Reference: "References",
    TaggedCase: "Tags",
}


def version_diff(old: Version, new: Version) -> VersionDiff:
    """What changed from ``old`` to ``new`` (two versions of one case): case fields, then rows."""
    case_pk = old.object_id
    old_case, new_case = _values(old), _values(new)
    row_pairs = {
        model: (_rows_of(old, model, case_pk), _rows_of(new, model, case_pk)) for model in ROW_MODELS
    }
    snapshots = [(Case, old_case), (Case, new_case)]
    for model, (old_rows, new_rows) in row_pairs.items():
        snapshots += [(model, values) for values in [*old_rows.values(), *new_rows.values()]]
    names = _Names(_wanted_names(snapshots))

    groups = []
    for model, (old_rows, new_rows) in row_pairs.items():
        group = RowGroup(GROUP_TITLES[model])
        for key in dict.fromkeys([*old_rows, *new_rows]):
            before, after = old_rows.get(key), new_rows.get(key)
            label = _row_label(model, after or before, names)
            state = "added" if before is None else "removed" if after is None else "changed"
            if model is TaggedCase:
                # A tag row is nothing but its tag: it is either there or not.
                if state != "changed":
                    group.rows.append(RowChange(label, state, ()))
                continue
            changes = _field_changes(model, before or {}, after or {}, names)
            if changes:
                group.rows.append(RowChange(label, state, changes))
        groups.append(group)
    groups += _other_apps_groups(old, new)
    return VersionDiff(case_changes=_field_changes(Case, old_case, new_case, names), groups=tuple(groups))


def _other_apps_groups(old: Version, new: Version) -> list[RowGroup]:
    """Rows that other apps keep for the case (quiz's questions and targets), compared by those apps: an
    app config's ``case_history_changes`` names a function of (old revision, new revision, case pk) that
    answers ``[(title, [{"summary", "state", "changes": [(field, before, after)]}])]`` in plain text."""
    groups = []
    for config in apps.get_app_configs():
        path = getattr(config, "case_history_changes", None)
        if not path:
            continue
        for title, rows in import_string(path)(old.revision, new.revision, old.object_id):
            group = RowGroup(title)
            for row in rows:
                changes = tuple(
                    FieldChange(label, *_marked(before, after)) for label, before, after in row["changes"]
                )
                group.rows.append(RowChange(row["summary"], row["state"], changes, summary=row["summary"]))
            groups.append(group)
    return groups


def case_versions(case: Case):
    """The saved versions of a case, newest first, with who saved them."""
    return Version.objects.get_for_object(case).select_related("revision__user")
