"""Case bundles in the admin: the case list's action "Export selected cases as a bundle" (the cases the
user may see) and, for editors, the import page ``admin:cases_case_import``.

Both belong to the case list, so this module registers the case editor (``authoring.admin.CaseAdmin``)
again with them added: ``authoring`` knows nothing of bundles, and the URLs stay those of the case list.
Both run as tasks (``bundles.tasks``): the request records a job and goes to its page
(``admin:cases_case_bundle_job``), which shows its progress, then the import's report or the export's
download (``admin:cases_case_bundle_job_download``), to the user who asked and to editors.
"""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.timezone import localtime
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from authoring import rules
from authoring.admin import CaseAdmin
from bundles.models import BundleJob
from bundles.services import ImportReport, import_report_message
from bundles.tasks import bundle_export_enqueue, bundle_import_enqueue, bundle_storage, export_keep
from cases.models import Case

BUNDLE_UPLOAD_MAX_BYTES = 512 * 1024 * 1024  # settings.BUNDLE_UPLOAD_MAX_BYTES overrides it
FORM_OVERHEAD_BYTES = 1024 * 1024  # room for the multipart framing and the other fields
#: Seconds between reloads of a job's page while it is under way (a meta refresh: no inline script).
JOB_REFRESH_SECONDS = 2
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
            path("bundle-jobs/<int:pk>/", view(self.job_view), name="cases_case_bundle_job"),
            path(
                "bundle-jobs/<int:pk>/download/",
                view(self.job_download),
                name="cases_case_bundle_job_download",
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
        """Queue the selected cases' export and go to its page. ``queryset`` comes from ``get_queryset``,
        so it holds only cases this user may see, whatever primary keys the request names (and the task
        asks again which of them the user may see when it runs)."""
        case_ids = list(queryset.order_by().values_list("pk", flat=True))
        if not case_ids:
            self.message_user(request, "None of the selected cases can be exported.", messages.WARNING)
            return None
        job = bundle_export_enqueue(case_ids=case_ids, by=request.user)
        return redirect("admin:cases_case_bundle_job", job.pk)

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
            job = bundle_import_enqueue(
                bundle=form.cleaned_data["bundle"],
                on_conflict=form.cleaned_data["on_conflict"],
                by=request.user,
                author=form.cleaned_data["author"],
                max_total_bytes=2 * limit,
            )
            return redirect("admin:cases_case_bundle_job", job.pk)
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

    # -- a job's page and its download -------------------------------------------------------------

    def _job(self, request, pk: int) -> BundleJob:
        """The job, for the user who asked for it and for editors (who may see every case); 404 for
        anyone else, as for a job that does not exist."""
        job = get_object_or_404(BundleJob.objects.select_related("requested_by"), pk=pk)
        if job.requested_by_id != request.user.pk and not rules.is_editor(request.user):
            raise Http404
        return job

    def job_view(self, request, pk: int):
        job = self._job(request, pk)
        done = job.status == BundleJob.Status.DONE
        export = job.kind == BundleJob.Kind.EXPORT
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Export of {job.total} case(s)" if export else "Import of a case bundle",
            "job": job,
            "refresh_seconds": None if job.finished else JOB_REFRESH_SECONDS,
            "report": import_report_message(ImportReport(**job.report)) if done and not export else "",
            "download_url": reverse("admin:cases_case_bundle_job_download", args=[job.pk])
            if done and export and job.export_file
            else "",
            "kept_until": job.finished_at + export_keep() if done and export else None,
            "import_url": reverse("admin:cases_case_import"),
        }
        return TemplateResponse(request, "bundles/job.html", context)

    def job_download(self, request, pk: int):
        job = self._job(request, pk)
        if job.kind != BundleJob.Kind.EXPORT or job.status != BundleJob.Status.DONE or not job.export_file:
            raise Http404
        try:
            bundle = bundle_storage().open(job.export_file, "rb")
        except FileNotFoundError as error:  # deleted by the sweep a moment ago
            raise Http404 from error
        name = f"cases-{localtime(job.created_at):%Y%m%d-%H%M%S}.zip"
        return FileResponse(bundle, as_attachment=True, filename=name, content_type="application/zip")
