"""Image upload and review in the admin; the ingest itself is ``imaging.services.images_ingest``.

Studies, series and images follow their case's authoring rules (``cases.rules``), checked here in
one place, ``CaseScopedAdmin``: a row is changed only where its case may be edited, and every foreign
key to a case-owned row (a series' study, a study's case …) offers only rows of cases the user may
edit, so nothing is added to or moved into a case its author may no longer change (faculty: their own
drafts; editors: every case). That covers the add and change forms, "save as new" and the upload on
the series page, which all go through the same form; images are never added or moved in the admin.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from cases import rules
from imaging import extensions, upload_progress
from imaging.annotation_forms import AnnotationForm
from imaging.flags import image_flags_clear
from imaging.ingest_tasks import upload_enqueue
from imaging.models import Annotation, Image, Series, Study, Upload
from imaging.rendering import presets_of
from imaging.services import SeriesLabelError, check_series_label
from imaging.stacks import teaching_view_errors
from imaging.upload_reports import ACTIONS, counts_by_kind, upload_summary


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files (or a zip of a series) in one field, as Django's documentation shows."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_clean = super().clean
        if isinstance(data, list | tuple):
            return [single_clean(item, initial) for item in data]
        return [single_clean(data, initial)] if data else []


class SeriesForm(forms.ModelForm):
    upload = MultipleFileField(
        required=False,
        label="Add images",
        help_text="DICOM, PNG or JPEG files, or a .zip of a series. A worker de-identifies every file before "
        "it is stored; the upload's page shows its progress, and the report is shown below.",
    )

    class Meta:
        model = Series
        fields = [
            "study",
            "label",
            "finding",
            "is_sample",
            "order",
            "teaching_preset",
            "teaching_slice",
            "teaching_zoom",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The presets on offer are those the series' images can be rendered with.
        choices = [("", "The file's own window")]
        first_image = self.instance.images.first() if self.instance.pk else None
        if first_image is not None:
            choices += [(name, name.replace("_", " ").capitalize()) for name in presets_of(first_image)]
        self.fields["teaching_preset"] = forms.ChoiceField(
            choices=choices, required=False, label="Teaching preset"
        )

    def clean(self):
        cleaned = super().clean()
        errors = teaching_view_errors(
            self.instance if self.instance.pk else None,
            slice_number=cleaned.get("teaching_slice"),
            zoom=cleaned.get("teaching_zoom"),
        )
        for field, message in errors.items():
            self.add_error(field, message)
        study, finding = cleaned.get("study"), cleaned.get("finding")
        if study is not None and finding is not None and finding.case_id != study.case_id:
            self.add_error("finding", "This finding belongs to another case: choose one of the study's case.")
        return cleaned

    def clean_label(self):
        label = self.cleaned_data["label"]
        study = self.cleaned_data.get("study") or getattr(self.instance, "study", None)
        if study is not None:
            try:
                check_series_label(study.case, label)
            except SeriesLabelError as error:
                raise forms.ValidationError(str(error)) from error
        return label


#: How many of an upload's file names the answer to it lists.
QUEUED_NAMES_SHOWN = 20

# Foreign keys to case-owned rows, and the lookup from the related row to its case.
CASE_OF_RELATED = {"case": "pk", "study": "case", "series": "study__case", "finding": "case"}
# What a choice's name reads (it names its case: ``imaging.models``), read with the choices in one query.
CHOICE_RELATED = {"study": ["case"], "series": ["study__case"]}


def gate_message(db_field) -> str:
    what = "case" if db_field.name == "case" else f"{db_field.related_model._meta.verbose_name} of a case"
    return (
        f"Select a valid choice: a {what} you may edit. Faculty add and move studies, series and images "
        "only within their own draft cases."
    )


class CaseScopedAdmin(admin.ModelAdmin):
    """Imaging rows follow their case's authoring rules: faculty change only what belongs to their own
    draft cases; editors change everything (``cases.rules``)."""

    case_path = ""  # lookup from this model to its case

    def case_of(self, obj):
        for part in self.case_path.split("__"):
            obj = getattr(obj, part)
        return obj

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if rules.is_editor(request.user):
            return queryset
        return queryset.filter(**{f"{self.case_path}__author": request.user})

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or rules.may_edit(request.user, self.case_of(obj)))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or rules.may_edit(request.user, self.case_of(obj)))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Adding or moving a row into a case (a series' study, a study's case …) needs the right to edit
        # that case; any other choice is refused with a message saying so.
        path = CASE_OF_RELATED.get(db_field.name)
        if path is None:
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        editable = rules.editable_cases(request.user)
        choices = db_field.related_model.objects.filter(**{f"{path}__in": editable})
        kwargs["queryset"] = choices.select_related(*CHOICE_RELATED.get(db_field.name, []))
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.error_messages["invalid_choice"] = gate_message(db_field)
        return field

    def get_deleted_objects(self, objs, request):
        """A study's or series' upload reports go with it: whoever may delete the row needs no permission
        of their own for those (no role holds ``delete_upload``: the reports are a record)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        upload = str(Upload._meta.verbose_name)
        return deleted, counts, {name for name in perms_needed if str(name) != upload}, protected

    def editable(self, request, queryset):
        """The rows of `queryset` whose case the user may edit (an action's selection may name others)."""
        return queryset.filter(**{f"{self.case_path}__in": rules.editable_cases(request.user)})


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ["preview", "order", "caption", "kind", "modality", "frame_count", "flag"]
    readonly_fields = ["preview", "kind", "modality", "frame_count", "flag"]
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # images come in through the series' upload field, which de-identifies them

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("series__study__case")  # each row's name

    @admin.display(description="Image")
    def preview(self, image):
        return format_html(
            '<img src="{}" alt="" width="80" height="80">', reverse("image_thumbnail", args=[image.pk])
        )

    @admin.display(description="Burned-in text review")
    def flag(self, image):
        if image.is_flagged:
            return format_html("<strong>Needs review</strong>: {}", image.review_reason)
        if image.needs_review:
            return f"Cleared by {image.reviewed_by} on {image.reviewed_at:%Y-%m-%d}"
        return "—"


def _attribute_list(names: list[tuple[str, int]], files: int) -> str:
    """'PatientName, StudyDate (2 of 3 files)': a count only where an attribute was not in every file."""
    return ", ".join(
        name if count == files else f"{name} ({count} of {files} files)" for name, count in names
    )


def _kind_table(by_kind: dict[str, dict[str, int]], heading: str):
    """Attributes counted by kind (rows) and action (columns), with a total row."""
    header = format_html_join("", "<th>{}</th>", ((action.capitalize(),) for action in ACTIONS))
    rows = format_html_join(
        "",
        "<tr><th>{}</th>{}</tr>",
        (
            (kind[0].upper() + kind[1:], format_html_join("", "<td>{}</td>", ((counts[a],) for a in ACTIONS)))
            for kind, counts in by_kind.items()
        ),
    )
    totals = format_html_join(
        "", "<td>{}</td>", ((sum(counts[a] for counts in by_kind.values()),) for a in ACTIONS)
    )
    return format_html(
        '<table class="deid-summary"><thead><tr><th>{}</th>{}</tr></thead><tbody>{}'
        "<tr><th>Total</th>{}</tr></tbody></table>",
        heading,
        header,
        rows,
        totals,
    )


def _folded(summary: str, lines):
    """`lines` as paragraphs folded under `summary`: the details a reader opens only if needed."""
    return format_html(
        "<details><summary>{}</summary>{}</details>",
        summary,
        format_html_join("", "<p>{}</p>", ((line,) for line in lines)),
    )


def upload_report_html(upload: Upload):
    """One upload's report: its verdicts, then what de-identification did, summed over its files: counts
    of attributes by kind, with the attributes themselves folded below."""
    summary = upload_summary(upload.report)
    created = upload.created_at.strftime("%Y-%m-%d %H:%M")
    if upload.status == Upload.Status.DONE:
        lines = [format_html("{}: {} accepted, {} rejected", created, upload.accepted, upload.rejected)]
    else:  # queued, running or failed (what it had stored removed): its page says more
        lines = [
            format_html(
                '{}: <a href="{}">{}</a>, {} of {} file(s) handled. {}',
                created,
                reverse("admin:imaging_upload_progress", args=[upload.pk]),
                upload.get_status_display(),
                upload.done,
                upload.total,
                upload.status_note,
            )
        ]
    lines += [format_html("Rejected {}: {}", name, reason) for name, reason in summary.rejected]
    lines += [
        format_html("<strong>Needs review</strong> {}: {}", name, reason) for name, reason in summary.flagged
    ]
    if summary.re_encoded:
        lines.append(
            format_html(
                "{} PNG/JPEG file(s) re-encoded without metadata, each flagged for an editor's look",
                summary.re_encoded,
            )
        )
    parts = [format_html_join("", "<p>{}</p>", ((line,) for line in lines))]
    if summary.dicom_files:
        files = summary.dicom_files
        parts.append(_kind_table(summary.by_kind, f"Attributes of {files} DICOM file(s)"))
        details = [
            format_html(
                "{} in {} DICOM file(s), {} attribute(s): {}",
                action.capitalize(),
                files,
                len(summary.attributes[action]),
                _attribute_list(summary.attributes[action], files) or "none",
            )
            for action in ACTIONS
        ]
        parts.append(_folded("Every attribute, by action", details))
    return format_html(
        '<div class="upload-report">{}</div>', format_html_join("", "{}", ((p,) for p in parts))
    )


@admin.register(Series)
class SeriesAdmin(CaseScopedAdmin):
    case_path = "study__case"
    form = SeriesForm
    list_display = ["__str__", "study", "is_sample", "image_count"]
    list_select_related = ["study__case"]
    search_fields = ["label", "study__case__title"]
    inlines = [ImageInline]
    readonly_fields = ["upload_reports"]

    class Media:
        css = {"all": ["css/series-images.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(image_total=Count("images"))  # counted with the list

    @admin.display(description="Images", ordering="image_total")
    def image_count(self, series):
        return series.image_total

    @admin.display(description="De-identification reports")
    def upload_reports(self, series):
        uploads = [upload_report_html(upload) for upload in series.uploads.order_by("created_at")]
        return format_html_join("", "{}", ((html,) for html in uploads)) or "No uploads yet."

    def save_related(self, request, form, formsets, change):
        """Uploaded files go to quarantine and a worker ingests them; the answer is the upload's page."""
        super().save_related(request, form, formsets, change)
        files = form.cleaned_data.get("upload") or []
        if files:
            request.queued_upload = upload_enqueue(series=form.instance, files=files, by=request.user)
            request.queued_names = [file.name for file in files]

    def response_add(self, request, obj, post_url_continue=None):
        return self._to_upload_page(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._to_upload_page(request) or super().response_change(request, obj)

    def _to_upload_page(self, request):
        upload = getattr(request, "queued_upload", None)
        if upload is None:
            return None
        # The names are said once, in this answer, and never stored (they can name the patient); the
        # report names each file by its place in the upload.
        names = request.queued_names
        shown = ", ".join(f"{place} {name}" for place, name in enumerate(names[:QUEUED_NAMES_SHOWN], start=1))
        more = f" and {len(names) - QUEUED_NAMES_SHOWN} more" if len(names) > QUEUED_NAMES_SHOWN else ""
        messages.info(
            request,
            f"{upload.total} file(s) queued ({shown}{more}); each is de-identified before it is stored. The "
            "report names a file by its place in the upload (each entry of a zip counts as a file).",
        )
        return HttpResponseRedirect(reverse("admin:imaging_upload_progress", args=[upload.pk]))


def drawing_board(image: Image, *, editable: bool) -> dict:
    """What the image page's drawing board needs: a URL per frame, the arrows as stored (for a page
    without the table's inputs), and where the image stands in its series."""
    series = image.series
    siblings = list(series.images.values_list("pk", flat=True))
    number = siblings.index(image.pk) + 1

    def image_url(pk):
        return reverse("admin:imaging_image_change", args=[pk])

    annotations = [
        {
            "kind": note.kind,
            "frame": note.frame,
            "x": note.x,
            "y": note.y,
            "tailX": note.tail_x,
            "tailY": note.tail_y,
            "text": note.text,
        }
        for note in image.annotations.all()
    ]
    frame_urls = [
        reverse("image_frame", args=[image.pk, "default", index]) for index in range(image.frame_count)
    ]
    return {
        "editable": editable,
        "columns": image.columns,
        "rows": image.rows,
        "frame_count": image.frame_count,
        "frame_urls": frame_urls,
        "frame_urls_json": json.dumps(frame_urls),
        "annotations_json": json.dumps(annotations),
        "position": {
            "number": number,
            "count": len(siblings),
            "label": series.label,
            "previous_url": image_url(siblings[number - 2]) if number > 1 else "",
            "next_url": image_url(siblings[number]) if number < len(siblings) else "",
            "case_url": reverse("admin:cases_case_change", args=[series.study.case_id]),
        },
    }


class AnnotationInline(admin.TabularInline):
    model = Annotation
    form = AnnotationForm
    extra = 0
    verbose_name = "arrow or label"
    verbose_name_plural = "Arrows and labels (each row is one drawn on the board above)"
    fields = ["frame", "kind", "x", "y", "tail_x", "tail_y", "text", "finding"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("image__series__study__case")  # each row's name

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "finding" and getattr(request, "image_case_id", None):
            kwargs["queryset"] = db_field.related_model.objects.filter(case_id=request.image_case_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Image)
class ImageAdmin(CaseScopedAdmin):
    case_path = "series__study__case"
    list_display = ["__str__", "kind", "modality", "review"]
    list_select_related = ["series__study__case", "reviewed_by"]
    list_filter = ["needs_review", "kind"]
    file_fields = [
        "series",
        "kind",
        "sha256",
        "size_bytes",
        "modality",
        "rows",
        "columns",
        "frame_count",
        "deidentification",
    ]
    readonly_fields = ["review", *file_fields]
    # The drawing board (change_form.html) comes first, the table of its arrows right after the
    # caption; the file's facts are folded away between them. A flag waiting for review is not.
    fieldsets = [
        (None, {"fields": ["caption", "order", "review"]}),
        ("File and de-identification", {"fields": file_fields, "classes": ["collapse"]}),
    ]
    actions = ["clear_flag"]
    inlines = [AnnotationInline]
    change_form_template = "admin/imaging/image/change_form.html"

    class Media:
        js = ["js/annotate.js"]
        css = {"all": ["css/annotate.css"]}

    def get_inlines(self, request, obj):
        return [*self.inlines, *extensions.image_admin_inlines]

    def get_object(self, request, object_id, from_field=None):
        image = super().get_object(request, object_id, from_field)
        if image is not None:
            request.image_case_id = image.series.study.case_id  # limits the finding choices to this case
        return image

    def change_view(self, request, object_id, form_url="", extra_context=None):
        image = self.get_object(request, object_id)
        if image is not None:
            board = drawing_board(image, editable=self.has_change_permission(request, image))
            extra_context = {**(extra_context or {}), "board": board}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Burned-in text review")
    def review(self, image):
        """Said only of an image that was flagged: an unflagged one has nothing to review."""
        if image.is_flagged:
            return format_html("<strong>Needs review</strong>: {}", image.review_reason)
        if image.needs_review:
            return f"Cleared by {image.reviewed_by or 'a former user'} on {image.reviewed_at:%Y-%m-%d}"
        return "—"

    @admin.display(description="De-identification")
    def deidentification(self, image):
        report = image.deid_report or {}
        if "re-encoded" in report:
            return report["re-encoded"]
        lines = [
            format_html(
                "{}, {} attribute(s): {}", action.capitalize(), len(names), ", ".join(names) or "none"
            )
            for action in ACTIONS
            for names in [report.get(action, [])]
        ]
        if report.get("pixel_data"):
            lines.append(format_html("Taken out of the pixel data: {}", "; ".join(report["pixel_data"])))
        return format_html(
            "{}{}",
            _kind_table(counts_by_kind(report), "Attributes"),
            _folded("Every attribute, by action", lines),
        )

    @admin.action(
        description="Clear the burned-in text flag (I have looked at the pixels)", permissions=["clear_flag"]
    )
    def clear_flag(self, request, queryset):
        updated = image_flags_clear(images=self.editable(request, queryset), by=request.user)
        self.message_user(request, f"{updated} image flag(s) cleared.", messages.SUCCESS)

    def has_clear_flag_permission(self, request):
        return request.user.has_perm("imaging.clear_image_flag")

    def has_add_permission(self, request):
        return False  # images come in through a series upload, which de-identifies them


@admin.register(Study)
class StudyAdmin(CaseScopedAdmin):
    case_path = "case"
    list_display = ["__str__", "case", "order"]
    list_select_related = ["case"]


@admin.register(Upload)
class UploadAdmin(CaseScopedAdmin):
    case_path = "series__study__case"  # faculty read the reports of their own cases' uploads only
    list_display = ["__str__", "status", "uploaded_by", "created_at"]
    list_select_related = ["series__study__case", "uploaded_by"]
    list_filter = ["status"]
    readonly_fields = [
        "series",
        "uploaded_by",
        "status",
        "status_note",
        "total",
        "done",
        "accepted",
        "rejected",
        "summary",
    ]
    exclude = ["report", "quarantined", "runs", "started_at", "heartbeat_at", "images_after"]

    @admin.display(description="De-identification report")
    def summary(self, upload):
        return upload_report_html(upload)

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        page = self.admin_site.admin_view(upload_progress.progress_page)
        figures = self.admin_site.admin_view(upload_progress.progress_json)
        this = {"model_admin": self}
        return [
            path("<int:pk>/progress/", page, this, name="imaging_upload_progress"),
            path("<int:pk>/progress.json", figures, this, name="imaging_upload_progress_json"),
            *super().get_urls(),
        ]

    def progress_upload(self, request, pk: int) -> Upload:
        """The upload, if `request`'s user may edit its case (as for its series); else 404."""
        upload = get_object_or_404(self.get_queryset(request).select_related("series__study__case"), pk=pk)
        case = self.case_of(upload)
        if not (self.has_view_permission(request, upload) and rules.may_edit(request.user, case)):
            raise Http404("No such upload.")
        return upload
