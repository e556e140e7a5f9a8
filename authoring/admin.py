"""The case editor: one admin page per case, with its sections, workflow, history and completeness.

Who may do what is decided in ``authoring.rules``; the workflow moves only through
``authoring.services``. The status is read-only here: the buttons above the form lead to one small page
per step, with a note. The bundle export action and import page are added by ``bundles/admin.py``.
Diagnoses and regions, which the editor's autocompletes offer and its pop-ups create, are here too.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator
from django.db import models, transaction
from django.db.models import Count, Max, Prefetch
from django.forms.models import BaseInlineFormSet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from reversion.admin import VersionAdmin

from authoring import rules
from authoring.completeness import completeness, completeness_of, facts_of, with_completeness_counts
from authoring.history import case_versions, version_diff
from authoring.models import CaseSectionNotStated
from authoring.services import (
    PublishBlocked,
    SavedMeanwhile,
    TransitionNotAllowed,
    case_history_not_stated_set,
    case_publish,
    case_return_to_draft,
    case_save,
    case_submit_for_review,
    publish_blockers,
)
from cases import extensions
from cases.admin_forms import CaseRowForm, DiagnosisForm, WellFormedIdsMixin
from cases.modalities import MODALITY_CHOICES
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from cases.upkeep import case_upkeep_deferred
from imaging.models import Annotation, Image, Series, Study, Upload

CASE_OWNED_MODELS = (Study, Series, Image, Upload, Annotation)
MAX_AGE = 130  # as the constraint case_age_plausible


class CaseForm(WellFormedIdsMixin, forms.ModelForm):
    # The case's updated_at when the form was loaded: a save compares it with the row's, so two
    # authors saving the same case at once cannot silently overwrite each other.
    loaded_updated_at = forms.CharField(widget=forms.HiddenInput, required=False)
    history_not_stated = forms.BooleanField(
        required=False,
        label="Not stated in the source",
        help_text="Editors only: the source gives no clinical history. The page then reads “not stated in "
        "the source”, and the history no longer blocks publication.",
    )
    may_mark_not_stated = False  # set per request by CaseAdmin.get_form
    # Set by CaseAdmin.get_form when a save was refused because the case was saved meanwhile.
    saved_meanwhile: SavedMeanwhile | None = None

    class Meta:
        model = Case
        fields = [
            "slug",
            "title",
            "age",
            "sex",
            "age_sex_source",
            "clinical_history",
            "final_diagnosis",
            "diagnosis_certainty",
            "diagnosis_proof",
            "treatment_outcome",
            "discussion",
            "teaching_points",
            "editors_notes",
            "regions",
            "tags",
            "attribution",
            "licence",
            "author",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "age" in self.fields:  # absent when the whole form is read-only
            # The database's plausibility check, as an error shown beside the age.
            self.fields["age"].validators.append(MaxValueValidator(MAX_AGE))
            self.fields["age"].widget.attrs["max"] = MAX_AGE
        if self.instance.pk:
            self.fields["loaded_updated_at"].initial = self.instance.updated_at.isoformat()
            self.fields["history_not_stated"].initial = self.instance.sections_not_stated.filter(
                section=CaseSectionNotStated.Section.CLINICAL_HISTORY
            ).exists()
        self.fields["history_not_stated"].disabled = not self.may_mark_not_stated

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("history_not_stated") and (cleaned.get("clinical_history") or "").strip():
            self.add_error(
                "history_not_stated", "The clinical history is filled in: clear it, or untick this box."
            )
        if self.saved_meanwhile is not None:
            self._refuse_save_over(self.saved_meanwhile)
        return cleaned

    def _refuse_save_over(self, conflict: SavedMeanwhile):
        who = f" by {conflict.saved_by}" if conflict.saved_by else ""
        # The next save is a deliberate one: it may replace the other version.
        self.data = self.data.copy()
        self.data[self.add_prefix("loaded_updated_at")] = conflict.saved_at.isoformat()
        self.add_error(
            None,
            f"This case was saved{who} at {localize(localtime(conflict.saved_at))}, after you opened it. "
            "Nothing of yours has been saved, and what you typed is kept below. Compare with their version "
            "(Versions and compare, in a new tab), then save again to replace it with yours.",
        )


class OrderedInlineFormSet(BaseInlineFormSet):
    """Rows in an explicit order (unique per case): a new row left at 0 goes last, and rows can swap."""

    def clean(self):
        kept = [
            form
            for form in self.forms
            if hasattr(form, "cleaned_data") and form not in self.deleted_forms and form.cleaned_data
        ]
        taken = [form.cleaned_data["order"] for form in kept if form.cleaned_data.get("order")]
        next_order = max(taken, default=0) + 1
        for form in kept:
            if form.instance.pk is None and form.cleaned_data.get("order") == 0:
                form.cleaned_data["order"] = form.instance.order = next_order
                next_order += 1
        super().clean()

    def save(self, commit=True):
        if commit:
            self._free_changed_orders()
        return super().save(commit)

    def _free_changed_orders(self):
        """Move the rows whose order changes (or which go) out of the way first, so that a swap does not
        trip the database's unique order while the rows are saved one by one."""
        moving = [
            form.instance.pk
            for form in self.initial_forms
            if form.instance.pk and (form in self.deleted_forms or "order" in form.changed_data)
        ]
        if not moving:
            return
        rows = self.model._default_manager.filter(**{self.fk.name: self.instance})
        top = rows.aggregate(top=Max("order"))["top"] or 0
        for offset, pk in enumerate(moving, start=1):
            rows.filter(pk=pk).update(order=top + offset)


ROW_CEILING = 100


class CaseRowInline:
    """Inline rows follow the case: editable exactly when the case is (``authoring.rules.may_edit``)."""

    formset = OrderedInlineFormSet
    form = CaseRowForm
    # No case has this many findings, differential items or references; a forged form count beyond
    # it is refused before a form is built (Django's own ceiling is 1,000 more than max_num).
    max_num = ROW_CEILING

    def get_formset(self, request, obj=None, **kwargs):
        # The ceiling itself, not ``self.max_num``: the admin sets that to 0 on a read-only case, and a
        # one-to-one row's formset (quiz's format) allows one form whatever max_num says.
        kwargs.setdefault("absolute_max", ROW_CEILING)
        return super().get_formset(request, obj, **kwargs)

    def _case_allows(self, request, obj) -> bool:
        return obj is None or rules.may_edit(request.user, obj)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._case_allows(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._case_allows(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._case_allows(request, obj)


@cache
def as_case_row_inline(inline: type) -> type:
    """An inline another app adds to the case editor (``cases.extensions.case_admin_inlines``), under
    the same rules as the editor's own rows."""
    return type(inline.__name__, (CaseRowInline, inline), {"__module__": inline.__module__})


ORDER_HELP = "Position in the list; a new row left at 0 goes last."


class FindingInline(CaseRowInline, admin.StackedInline):
    model = Finding
    extra = 0
    fields = [("modality", "study", "order"), "text", "editors_note"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "order":
            field.help_text = ORDER_HELP
        return field


COMPACT_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 3, "cols": 50})}}


class DifferentialItemInline(CaseRowInline, admin.TabularInline):
    model = DifferentialItem
    extra = 0
    formfield_overrides = COMPACT_TEXT
    autocomplete_fields = ["diagnosis"]
    fields = ["order", "diagnosis", "rationale", "editors_note", "added_by_editors", "indistinguishable"]


class ReferenceInline(CaseRowInline, admin.TabularInline):
    model = Reference
    extra = 0
    # A link typed without a scheme is taken as https (Django 6's default, chosen now).
    formfield_overrides = {**COMPACT_TEXT, models.URLField: {"assume_scheme": "https"}}
    fields = ["order", "citation", "url", "doi", "pmid"]


class StudyInline(CaseRowInline, admin.TabularInline):
    model = Study
    extra = 0
    show_change_link = True
    fields = ["order", "modality", "time_label"]
    verbose_name_plural = "Studies (save, then add their series and images in the list below)"


class ModalityFilter(admin.SimpleListFilter):
    """Cases with a finding in a modality (a radiograph counts as CR and DX alike)."""

    title = "modality"
    parameter_name = "modality"

    def lookups(self, request, model_admin):
        used = set(Finding.objects.values_list("modality", flat=True).distinct())
        return [(code, label) for code, label in MODALITY_CHOICES if code in used]

    def queryset(self, request, queryset):
        return queryset.with_modality(self.value()) if self.value() else queryset


def images_tree(user, case: Case) -> dict:
    """The case's studies → series → images for the case editor, in three queries however many images
    there are. Edit links only for those who may edit the case; a flagged image's thumbnail only for
    those who may review it (the thumbnail view would refuse the others)."""
    images = Image.objects.defer("deid_report").annotate(note_count=Count("annotations"))
    series = Series.objects.prefetch_related(Prefetch("images", queryset=images))
    studies = case.studies.prefetch_related(Prefetch("series", queryset=series))
    return {
        "studies": studies,
        "editable": rules.may_edit(user, case),
        "may_see_flagged": rules.may_see_flagged_image(user, case),
    }


@dataclass(frozen=True)
class Step:
    """A workflow step offered on the change form, with its own page and note."""

    name: str
    allowed: Callable
    service: Callable
    done: str

    def label(self, user, case: Case) -> str:
        if self.name == "submit":
            return "Submit for review"
        if self.name == "publish":
            return "Publish"
        if case.status == Case.Status.PUBLISHED:
            return "Unpublish (back to draft)"
        return "Return to the author (draft)" if rules.is_editor(user) else "Withdraw from review"


STEPS = {
    step.name: step
    for step in [
        Step("submit", rules.may_submit, case_submit_for_review, "submitted for review"),
        Step("publish", rules.may_publish, case_publish, "published"),
        Step("return", rules.may_return_to_draft, case_return_to_draft, "returned to draft"),
    ]
}


class TransitionForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        required=False,
        help_text="For the record and for the author: what was done, what to change.",
    )


@admin.register(Case)
class CaseAdmin(VersionAdmin):
    form = CaseForm
    list_display = ["title", "status", "author", "final_diagnosis", "completeness_score", "updated_at"]
    list_filter = ["status", "regions", ModalityFilter, ("author", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "slug", "final_diagnosis__name", "author__username"]
    autocomplete_fields = ["final_diagnosis", "regions"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [FindingInline, DifferentialItemInline, ReferenceInline, StudyInline]
    readonly_fields = ["status", "completeness_summary"]
    change_list_template = "admin/cases/case/change_list.html"

    class Media:
        css = {"all": ["css/case-editor.css"]}

    fieldsets = [
        (None, {"fields": ["title", "slug", ("age", "sex"), "age_sex_source", "loaded_updated_at"]}),
        ("Workflow", {"fields": ["status", "author", "completeness_summary"]}),
        ("Clinical history", {"fields": ["clinical_history", "history_not_stated"]}),
        ("Diagnosis", {"fields": ["final_diagnosis", "diagnosis_certainty", "diagnosis_proof"]}),
        ("Teaching", {"fields": ["treatment_outcome", "discussion", "teaching_points", "editors_notes"]}),
        ("Browsing", {"fields": ["regions", "tags"]}),
        ("Source", {"fields": ["attribution", "licence"]}),
    ]

    def get_inlines(self, request, obj):
        return [*self.inlines, *map(as_case_row_inline, extensions.case_admin_inlines)]

    # Who sees and changes what.

    def get_queryset(self, request):
        cases = super().get_queryset(request).visible_to(request.user).select_related("author")
        return with_completeness_counts(cases)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or rules.may_edit(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or rules.may_delete(request.user, obj))

    def get_deleted_objects(self, objs, request):
        """A case's studies, series, images and upload reports go with it: whoever may delete the case
        needs no separate permission for each of them (editors lack ``delete_upload``, for one)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {str(model._meta.verbose_name) for model in CASE_OWNED_MODELS}
        return deleted, counts, {name for name in perms_needed if str(name) not in owned}, protected

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if not rules.is_editor(request.user):
            readonly.append("author")  # set to the faculty member who creates the case
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.may_mark_not_stated = rules.may_mark_not_stated(request.user)
        form.saved_meanwhile = getattr(request, "case_saved_meanwhile", None)
        return form

    # Saving.

    def save_model(self, request, obj, form, change):
        if change:
            loaded = parse_datetime(form.cleaned_data.get("loaded_updated_at") or "")
            case_save(case=obj, loaded_updated_at=loaded, by=request.user)
            return
        if obj.author_id is None:
            obj.author = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.may_mark_not_stated and "history_not_stated" in form.changed_data:
            case_history_not_stated_set(
                case=form.instance, not_stated=form.cleaned_data["history_not_stated"], by=request.user
            )

    # Columns and read-only fields.

    @admin.display(description="Complete")
    def completeness_score(self, case):
        state = completeness(facts_of(case))
        return f"{state.score} %" + (" · ready" if state.publishable else "")

    @admin.display(description="Completeness")
    def completeness_summary(self, case):
        if not case.pk:
            return "Shown once the case is saved."
        state = completeness_of(case)
        items = format_html_join(
            "",
            "<li>{} {}{}</li>",
            (
                ("✓" if section.filled else "✗", section.label, "" if section.required else " (recommended)")
                for section in state.sections
            ),
        )
        return format_html("<strong>{} %</strong> complete<ul>{}</ul>", state.score, items)

    # The change form's workflow panel and tools.

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A case saved by someone else since this form was loaded is not overwritten: the save is rolled
        back (``case_save`` raises before any row is written), and the form comes back as it was posted,
        saying so. The case's search document and facet sets are refreshed once, after the case and all
        its inline rows are saved, not after each row."""
        try:
            with transaction.atomic(), case_upkeep_deferred():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except SavedMeanwhile as conflict:
            request.case_saved_meanwhile = conflict
            return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, unquote(object_id))
        if case is not None:
            extra_context = {
                **(extra_context or {}),
                **self._workflow_context(request, case),
                "images_tree": images_tree(request.user, case),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _workflow_context(self, request, case: Case) -> dict:
        steps = [
            (
                step.label(request.user, case),
                reverse("admin:cases_case_transition", args=[case.pk, step.name]),
            )
            for step in STEPS.values()
            if step.allowed(request.user, case)
        ]
        return {
            "workflow": {
                "status": case.get_status_display(),
                "steps": steps,
                "blockers": publish_blockers(case),
                "transitions": case.transitions.select_related("by"),
            },
            "preview_url": reverse("case_preview", args=[case.slug]),
            "quiz_preview_url": reverse("quiz_preview", args=[case.slug]),
            "versions_url": reverse("admin:cases_case_versions", args=[case.pk]),
        }

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/workflow/<slug:step>/",
                view(self.transition_view),
                name="cases_case_transition",
            ),
            path("<path:object_id>/versions/", view(self.versions_view), name="cases_case_versions"),
            *super().get_urls(),
        ]

    def _case_or_404(self, request, object_id) -> Case:
        case = self.get_object(request, unquote(object_id))
        if case is None or not self.has_view_or_change_permission(request, case):
            raise Http404("No such case.")
        return case

    def _page(self, request, case, template: str, title: str, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": case,
                "title": title,
                **context,
            },
        )

    def transition_view(self, request, object_id, step):
        case = self._case_or_404(request, object_id)
        if step not in STEPS:
            raise Http404("No such step.")
        step = STEPS[step]
        if not step.allowed(request.user, case):
            raise PermissionDenied
        form = TransitionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                step.service(case=case, by=request.user, note=form.cleaned_data["note"])
            except (PublishBlocked, TransitionNotAllowed) as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"“{case}” was {step.done}.", messages.SUCCESS)
                return redirect("admin:cases_case_change", case.pk)
        label = step.label(request.user, case)
        return self._page(
            request,
            case,
            "admin/cases/case/transition.html",
            f"{label}: {case}",
            form=form,
            step_label=label,
            blockers=publish_blockers(case) if step.name == "publish" else [],
            summary=completeness_of(case) if step.name == "publish" else None,
        )

    def versions_view(self, request, object_id):
        """Every saved version, two of them compared field by field, and a way to restore one."""
        case = self._case_or_404(request, object_id)
        versions = list(case_versions(case))
        by_id = {str(version.pk): version for version in versions}
        chosen = request.GET.get("from"), request.GET.get("to")
        diff = None
        if all(chosen):
            if not all(pk in by_id for pk in chosen):
                raise Http404("No such version of this case.")
            diff = version_diff(by_id[chosen[0]], by_id[chosen[1]])
        may_restore = self.has_change_permission(request, case)
        rows = [
            (
                version,
                reverse("admin:cases_case_revision", args=[case.pk, version.pk]) if may_restore else "",
            )
            for version in versions
        ]
        return self._page(
            request,
            case,
            "admin/cases/case/versions.html",
            f"Versions of “{case}”",
            rows=rows,
            diff=diff,
            chosen_from=chosen[0] or (str(versions[1].pk) if len(versions) > 1 else ""),
            chosen_to=chosen[1] or (str(versions[0].pk) if versions else ""),
        )

    # Restoring an earlier version (django-reversion's revision view).

    def revision_view(self, request, object_id, version_id, extra_context=None):
        """Restore an earlier version's text and rows, never its workflow state: publishing and
        unpublishing go through the services, so the status stays what it is now."""
        case = self._case_or_404(request, object_id)
        if not self.has_change_permission(request, case):
            raise PermissionDenied
        request.workflow_state = {"status": case.status, "published_at": case.published_at}
        return super().revision_view(request, object_id, version_id, extra_context)

    def get_object(self, request, object_id, from_field=None):
        case = super().get_object(request, object_id, from_field)
        kept = getattr(request, "workflow_state", None)
        if case is not None and kept:
            for name, value in kept.items():
                setattr(case, name, value)
        return case

    def recoverlist_view(self, request, extra_context=None):
        if not rules.is_editor(request.user):
            raise PermissionDenied
        return super().recoverlist_view(request, extra_context)

    def recover_view(self, request, version_id, extra_context=None):
        if not rules.is_editor(request.user):
            raise PermissionDenied
        return super().recover_view(request, version_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        # Only editors are offered django-reversion's "Recover deleted cases".
        extra_context = {**(extra_context or {}), "has_change_permission": rules.is_editor(request.user)}
        return super().changelist_view(request, extra_context)


@admin.register(Diagnosis)
class DiagnosisAdmin(admin.ModelAdmin):
    form = DiagnosisForm
    list_display = ["name", "slug"]
    search_fields = ["name", "synonyms"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "order"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
