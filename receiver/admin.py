"""The receiver in the admin: DICOM senders (editors), the association log (editors, read only), and
the inbox of received studies (faculty see their own, editors all) with its three actions."""

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from pydicom.uid import UID

from authoring import rules
from cases.models import Case
from receiver import services
from receiver.models import (
    AssociationLog,
    DicomSender,
    DicomWebSource,
    ReceivedInstance,
    ReceivedStudy,
    no_credentials_in_url,
)
from receiver.pulling import PullError
from receiver.secrets import secret_encrypt
from receiver.tasks import dicomweb_pull_enqueue


@admin.register(DicomSender)
class DicomSenderAdmin(admin.ModelAdmin):
    list_display = ["ae_title", "host", "author", "created_at"]
    search_fields = ["ae_title", "host"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "author":  # an inbox is for someone who writes cases
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(is_active=True)
                .filter(
                    Q(is_superuser=True)
                    | Q(
                        groups__permissions__codename="change_case",
                        groups__permissions__content_type__app_label="cases",
                    )
                )
                .distinct()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class DicomWebSourceForm(forms.ModelForm):
    url = forms.URLField(
        label="QIDO-RS/WADO-RS root URL",
        max_length=500,
        assume_scheme="https",
        validators=[no_credentials_in_url],
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored on the server and never shown back; leave empty to keep the one stored.",
    )

    class Meta:
        model = DicomWebSource
        fields = ["name", "url", "username"]

    def clean(self):
        cleaned = super().clean()
        # The stored password goes only where it went before: an editor who cannot read it must not be able
        # to send it to an address of their own.
        moved = {"url", "username"} & set(self.changed_data)
        if self.instance.password_encrypted and moved and not cleaned.get("password"):
            self.add_error("password", "Enter the password again: the source's address or username changed.")
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data["password"]:  # left empty: the stored one is kept
            self.instance.password_encrypted = secret_encrypt(self.cleaned_data["password"])
        return super().save(commit)


@admin.register(DicomWebSource)
class DicomWebSourceAdmin(admin.ModelAdmin):
    form = DicomWebSourceForm
    list_display = ["name", "url", "username"]


@admin.register(AssociationLog)
class AssociationLogAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "calling_ae_title",
        "address",
        "sender",
        "outcome",
        "accepted",
        "rejected",
        "received_bytes",
        "reason",
    ]
    list_filter = ["outcome"]
    list_select_related = ["sender"]
    readonly_fields = ["refused_classes"]

    @admin.display(description="SOP classes refused")
    def refused_classes(self, log):
        return ", ".join(f"{UID(uid).name} ({uid})" for uid in log.refused_sop_classes) or "—"

    def has_add_permission(self, request):
        return False  # written by the receiver only

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


#: The pull page lists its user's most recent pulls, this many.
PULLS_LISTED = 20


class PullForm(forms.Form):
    source = forms.ModelChoiceField(queryset=DicomWebSource.objects.all())
    study_uid = forms.CharField(label="Study Instance UID", required=False, max_length=64)
    accession = forms.CharField(label="or accession number", required=False, max_length=64)

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("study_uid")) == bool(cleaned.get("accession")):
            raise forms.ValidationError("Give a Study Instance UID or an accession number (one of the two).")
        return cleaned


class DraftChoiceForm(forms.Form):
    case = forms.ModelChoiceField(queryset=Case.objects.none(), label="Add to the draft")

    def __init__(self, *args, drafts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].queryset = drafts


@admin.register(ReceivedStudy)
class ReceivedStudyAdmin(admin.ModelAdmin):
    list_display = [
        "arrived",
        "modality",
        "origin",
        "owner",
        "status",
        "series_counts",
        "flagged",
        "key_object_title",
        "status_note",
    ]
    list_filter = ["status", "modality"]
    list_select_related = ["sender", "source", "owner"]
    actions = ["create_draft", "add_to_draft", "discard"]
    fields = [
        "status",
        "status_note",
        "modality",
        "sender",
        "source",
        "pull_hint",
        "owner",
        "first_received_at",
        "last_received_at",
        "gated_at",
        "series_table",
        "summary",
        "key_object_title",
        "key_object_description",
        "case",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                instance_count=Count("instances"),
                flagged_count=Count("instances", filter=Q(instances__needs_review=True)),
            )
        )
        if rules.is_editor(request.user):
            return queryset
        return queryset.filter(owner=request.user)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "Discard" deletes the files too
        return actions

    def has_add_permission(self, request):
        return False  # studies come in over DICOM

    def has_change_permission(self, request, obj=None):
        return False  # nothing to edit by hand: the actions act on it

    def has_delete_permission(self, request, obj=None):
        return False

    def has_use_permission(self, request):
        return rules.may_author(request.user) and request.user.has_perm("receiver.change_receivedstudy")

    def has_discard_permission(self, request):
        return rules.may_author(request.user) and request.user.has_perm("receiver.delete_receivedstudy")

    # -- columns and the study's page --------------------------------------------------------------

    @admin.display(description="Arrived", ordering="first_received_at")
    def arrived(self, study):
        return study.first_received_at

    @admin.display(description="From")
    def origin(self, study):
        if study.source_id:
            return f"{study.source} (pull: {study.pull_hint})" if study.pull_hint else str(study.source)
        return study.sender or "—"

    @admin.display(description="Instances")
    def series_counts(self, study):
        return study.instance_count

    @admin.display(description="Burned-in flags")
    def flagged(self, study):
        return study.flagged_count or "—"

    @admin.display(description="Series")
    def series_table(self, study):
        rows = defaultdict(
            lambda: {"count": 0, "flagged": 0, "rejected": 0, "thumbnail": None, "modality": ""}
        )
        for instance in study.instances.only(
            "pk", "series_uid", "status", "needs_review", "thumbnail", "modality", "study_id"
        ):
            row = rows[instance.series_uid or "—"]
            if instance.status == ReceivedInstance.Status.REJECTED:
                row["rejected"] += 1
                continue
            row["count"] += 1
            row["flagged"] += instance.needs_review
            row["modality"] = row["modality"] or instance.modality
            if instance.thumbnail:
                row["thumbnail"] = reverse(
                    "admin:receiver_receivedstudy_thumbnail", args=[study.pk, instance.pk]
                )
        return format_html(
            "<table><tr><th>Series</th><th>Modality</th><th>Instances</th><th>Burned-in flags</th>"
            "<th>Rejected</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        format_html('<img src="{}" alt="" width="80" height="80">', row["thumbnail"])
                        if row["thumbnail"]
                        else f"Series {number}",
                        row["modality"],
                        row["count"],
                        row["flagged"],
                        row["rejected"],
                    )
                    for number, row in enumerate(rows.values(), start=1)
                ),
            ),
        )

    @admin.display(description="De-identification")
    def summary(self, study):
        summary = study.deidentification_summary or {}
        if not summary:
            return "Not through the image gate yet."
        return format_html(
            "{} accepted, {} rejected, {} flagged for burned-in text, {} key images.<br>"
            "Removed: {}<br>Replaced: {}<br>Taken out of the pixel data: {}<br>Rejections: {}",
            summary.get("accepted", 0),
            summary.get("rejected", 0),
            summary.get("flagged", 0),
            summary.get("key_images", 0),
            ", ".join(summary.get("removed", [])) or "—",
            ", ".join(summary.get("replaced", [])) or "—",
            ", ".join(summary.get("pixel_data", [])) or "—",
            "; ".join(summary.get("rejections", [])) or "—",
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/thumbnail/<int:instance_id>/",
                view(self.thumbnail_view),
                name="receiver_receivedstudy_thumbnail",
            ),
            path("pull/", view(self.pull_view), name="receiver_receivedstudy_pull"),
            path(
                "<path:object_id>/add-to-draft/",
                view(self.add_to_draft_view),
                name="receiver_receivedstudy_add_to_draft",
            ),
            *super().get_urls(),
        ]

    def _study_or_404(self, request, object_id) -> ReceivedStudy:
        study = self.get_object(request, unquote(object_id))
        if study is None or not self.has_view_permission(request, study):
            raise Http404("No such received study.")
        return study

    def thumbnail_view(self, request, object_id, instance_id):
        study = self._study_or_404(request, object_id)
        instance = study.instances.filter(pk=instance_id).exclude(thumbnail="").first()
        if instance is None:
            raise Http404("No such thumbnail.")
        with instance.thumbnail.open("rb") as stored:
            response = HttpResponse(stored.read(), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    # -- actions -----------------------------------------------------------------------------------

    def _usable(self, request, queryset):
        return [study for study in queryset if services.may_use(request.user, study)]

    @admin.action(description="Create a draft case from the selected study", permissions=["use"])
    def create_draft(self, request, queryset):
        for study in self._usable(request, queryset):
            try:
                case = services.received_study_draft_create(study=study, by=request.user)
            except services.ReceiverError as error:
                self.message_user(request, f"{study}: {error}", messages.ERROR)
                continue
            link = reverse("admin:cases_case_change", args=[case.pk])
            self.message_user(
                request,
                format_html('Draft <a href="{}">{}</a> created: write its series labels.', link, case.title),
                messages.SUCCESS,
            )

    @admin.action(description="Add to one of my drafts…", permissions=["use"])
    def add_to_draft(self, request, queryset):
        studies = self._usable(request, queryset)
        if len(studies) != 1:
            self.message_user(request, "Select one study to add to a draft.", messages.WARNING)
            return None
        return redirect("admin:receiver_receivedstudy_add_to_draft", studies[0].pk)

    def add_to_draft_view(self, request, object_id):
        study = self._study_or_404(request, object_id)
        if not (self.has_use_permission(request) and services.may_use(request.user, study)):
            raise PermissionDenied
        drafts = rules.editable_cases(request.user).filter(author=study.owner, status=Case.Status.DRAFT)
        form = DraftChoiceForm(request.POST or None, drafts=drafts.order_by("-updated_at"))
        if request.method == "POST" and form.is_valid():
            case = form.cleaned_data["case"]
            try:
                services.received_study_add_to_case(study=study, case=case, by=request.user)
            except services.ReceiverError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                link = reverse("admin:cases_case_change", args=[case.pk])
                self.message_user(
                    request, format_html('Added to <a href="{}">{}</a>.', link, case.title), messages.SUCCESS
                )
                return redirect("admin:receiver_receivedstudy_changelist")
        return TemplateResponse(
            request,
            "admin/receiver/receivedstudy/add_to_draft.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": study,
                "title": "Add a received study to one of the drafts",
                "form": form,
            },
        )

    def pull_view(self, request):
        """Faculty pull a study over DICOMweb into their inbox: queued, since retrieval takes a while. The
        page lists their recent pulls, with why one failed."""
        if not self.has_use_permission(request):
            raise PermissionDenied
        form = PullForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                dicomweb_pull_enqueue(
                    source=data["source"],
                    by=request.user,
                    study_uid=data["study_uid"],
                    accession=data["accession"],
                )
            except PullError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request, "The study is being pulled; this page and your inbox show how it goes."
                )
                return redirect("admin:receiver_receivedstudy_pull")
        pulls = (
            ReceivedStudy.objects.filter(owner=request.user, source__isnull=False)
            .select_related("source")
            .order_by("-first_received_at", "-pk")[:PULLS_LISTED]
        )
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form}
        return TemplateResponse(
            request,
            "admin/receiver/receivedstudy/pull.html",
            {**context, "title": "Pull a study over DICOMweb", "pulls": pulls},
        )

    @admin.action(description="Discard the selected studies (their files go)", permissions=["discard"])
    def discard(self, request, queryset):
        studies = self._usable(request, queryset)
        for study in studies:
            services.received_study_discard(study=study, by=request.user)
        self.message_user(
            request, f"Discarded {len(studies)} received stud{'y' if len(studies) == 1 else 'ies'}."
        )
