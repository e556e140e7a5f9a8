"""Case bundles in the admin: the case list's action "Export selected cases as a bundle" (the cases the
user may see) and, for editors, the import page ``admin:cases_case_import``.

Both belong to the case list, so this module registers the case editor (``authoring.admin.CaseAdmin``)
again with them added: ``authoring`` knows nothing of bundles, and the URLs stay those of the case list.
"""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.timezone import localtime
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from authoring import rules
from authoring.admin import CaseAdmin
from bundles.services import BundleError, ImportReport, SlugClash, export_bundle_tempfile, import_bundle
from cases.models import Case

BUNDLE_UPLOAD_MAX_BYTES = 512 * 1024 * 1024  # settings.BUNDLE_UPLOAD_MAX_BYTES overrides it
FORM_OVERHEAD_BYTES = 1024 * 1024  # room for the multipart framing and the other fields
IMPORT_CONFLICT_CHOICES = [
    ("error", "Stop: import nothing, and name the cases that exist already"),
    ("skip", "Skip those cases: keep the existing ones, import the others"),
    ("rename", "Import them under a new slug (<slug>-2, <slug>-3 …)"),
    (
        "replace",
        "Replace the existing cases: they are deleted, with their images, quiz attempts and workflow record",
    ),
]


def bundle_upload_limit() -> int:
    return getattr(settings, "BUNDLE_UPLOAD_MAX_BYTES", BUNDLE_UPLOAD_MAX_BYTES)


def may_import_bundles(user) -> bool:
    """Editors (and superusers): an import creates cases in any state and may replace existing ones."""
    return rules.is_editor(user) and user.has_perm("cases.add_case")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


class BundleSizeLimit(FileUploadHandler):
    """Stops reading an uploaded file once it passes the limit, before it is kept anywhere."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.request.bundle_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


class BundleImportForm(forms.Form):
    bundle = forms.FileField(
        label="Bundle (.zip)",
        help_text="A case bundle made by “Export selected cases as a bundle” or by manage.py export_cases.",
    )
    on_conflict = forms.ChoiceField(
        label="When a case in the bundle has a slug that exists here",
        choices=IMPORT_CONFLICT_CHOICES,
        initial="error",
        widget=forms.RadioSelect,
    )
    author = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Me",
        label="Author of the imported cases",
        help_text="The cases arrive as this author's drafts, never published; an editor publishes them after "
        "the usual checks.",
    )

    def __init__(self, *args, user, limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.limit = limit
        self.fields["bundle"].widget.attrs["accept"] = ".zip,application/zip"
        # Those who write cases (authoring.rules.may_author): faculty and editors.
        self.fields["author"].queryset = (
            get_user_model()
            .objects.with_perm(
                "cases.change_case", is_active=True, backend="django.contrib.auth.backends.ModelBackend"
            )
            .distinct()
            .order_by("username")
        )

    def clean_bundle(self):
        bundle = self.cleaned_data["bundle"]
        if bundle.size > self.limit:
            raise forms.ValidationError(
                f"The file is {_megabytes(bundle.size)}, more than the {_megabytes(self.limit)} this page "
                "accepts; import it with manage.py import_cases instead."
            )
        return bundle

    def clean_on_conflict(self):
        policy = self.cleaned_data["on_conflict"]
        if policy == "replace" and not self.user.has_perm("cases.delete_case"):
            raise forms.ValidationError("Replacing cases deletes them, which you may not do.")
        return policy


def import_report_message(report: ImportReport) -> str:
    parts = [
        f"Imported {len(report.imported)} case(s)"
        + (f": {', '.join(report.imported)}." if report.imported else ".")
    ]
    if report.renamed:
        parts.append(
            "Renamed (the slug existed): "
            + ", ".join(f"{old} → {new}" for old, new in report.renamed.items())
            + "."
        )
    if report.replaced:
        parts.append(f"Replaced: {', '.join(report.replaced)}.")
    if report.skipped:
        parts.append(f"Skipped (exist already): {', '.join(report.skipped)}.")
    if report.imported:
        parts.append(
            f"They are drafts of {report.author or 'nobody'}, to be published after the usual checks; "
            f"{report.images_flagged} image(s) wait for a burned-in text review."
        )
    if report.diagnoses_created:
        parts.append(f"New diagnoses from the bundle: {', '.join(report.diagnoses_created)}.")
    if report.diagnoses_updated:
        updated = ", ".join(report.diagnoses_updated)
        parts.append(f"Diagnoses given synonyms or accepted answers by the bundle: {updated}.")
    return " ".join(parts)


admin.site.unregister(Case)


@admin.register(Case)
class CaseWithBundlesAdmin(CaseAdmin):
    actions = ["export_bundle"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "import/", self._importers_only(view(csrf_exempt(self.import_view))), name="cases_case_import"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        # Only editors are offered the bundle import.
        extra_context = {
            **(extra_context or {}),
            "bundle_import_url": reverse("admin:cases_case_import")
            if may_import_bundles(request.user)
            else "",
        }
        return super().changelist_view(request, extra_context)

    @admin.action(description="Export selected cases as a bundle", permissions=["view"])
    def export_bundle(self, request, queryset):
        """The selected cases as a bundle download. ``queryset`` comes from ``get_queryset``, so it holds
        only cases this user may see, whatever primary keys the request names."""
        cases = Case.objects.filter(pk__in=queryset.order_by().values("pk")).order_by("pk")
        if not cases.exists():
            self.message_user(request, "None of the selected cases can be exported.", messages.WARNING)
            return None
        bundle, _manifest = export_bundle_tempfile(cases)
        name = f"cases-{localtime():%Y%m%d-%H%M%S}.zip"
        return FileResponse(bundle, as_attachment=True, filename=name, content_type="application/zip")

    def _importers_only(self, view):
        """A logged-in user who may not import gets 403 (not the admin's log-in page); the anonymous
        are sent on to ``view``, which asks them to log in."""

        @wraps(view)
        def guarded(request, *args, **kwargs):
            if request.user.is_authenticated and not may_import_bundles(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    def import_view(self, request):
        """Exempt from the CSRF middleware only so that the upload's size can be checked before the body
        is read; the form itself is CSRF-checked (``_import_form_view``)."""
        if not may_import_bundles(request.user):
            raise PermissionDenied
        limit = bundle_upload_limit()
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit + FORM_OVERHEAD_BYTES:
                # Refused without reading the body: nothing is parsed, stored or changed.
                form = BundleImportForm(user=request.user, limit=limit)
                return self._import_page(request, form, too_large=length, status=413)
            request.upload_handlers.insert(0, BundleSizeLimit(request, limit))
        return csrf_protect(self._import_form_view)(request)

    def _import_form_view(self, request):
        limit = bundle_upload_limit()
        form = BundleImportForm(request.POST or None, request.FILES or None, user=request.user, limit=limit)
        if request.method == "POST" and getattr(request, "bundle_too_large", False):
            return self._import_page(request, form, too_large=limit + 1, status=413)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["bundle"]
            try:
                report = import_bundle(
                    upload,
                    on_conflict=form.cleaned_data["on_conflict"],
                    by=request.user,
                    author=form.cleaned_data["author"],
                    max_total_bytes=2 * limit,
                )
            except BundleError as error:
                if isinstance(error, SlugClash):
                    form.add_error(
                        "on_conflict",
                        f"These cases exist already: {', '.join(error.slugs)}. Choose whether to skip, "
                        "rename or replace them, and upload the bundle again.",
                    )
                else:
                    form.add_error(None, f"Bundle rejected: {error}")
            else:
                level = messages.SUCCESS if report.imported else messages.WARNING
                self.message_user(request, import_report_message(report), level)
                return redirect("admin:cases_case_changelist")
        return self._import_page(request, form)

    def _import_page(self, request, form, *, too_large: int = 0, status: int = 200):
        limit = bundle_upload_limit()
        return TemplateResponse(
            request,
            "admin/cases/case/import.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Import a case bundle",
                "form": form,
                "limit": _megabytes(limit),
                "too_large": _megabytes(too_large) if too_large else "",
            },
            status=status,
        )
