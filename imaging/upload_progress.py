"""The page of a queued upload: files done of total, accepted, rejected with reasons, until it is done.

Served in the admin (``UploadAdmin.get_urls``) to those who may edit the upload's case, as its series
is. While the upload is queued or running the page reloads itself every few seconds (a meta refresh:
the pages carry no inline script); ``progress.json`` answers the same figures to a script.
"""

from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from imaging.models import Upload
from imaging.upload_reports import upload_summary

#: Seconds between reloads of the page while the upload is under way.
REFRESH_SECONDS = 2


def progress_figures(upload: Upload) -> dict:
    """What the page and its JSON say: status, counts and each refused file's reason."""
    summary = upload_summary(upload.report)
    return {
        "id": upload.pk,
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "note": upload.status_note,
        "total": upload.total,
        "done": upload.done,
        "accepted": upload.accepted,
        "rejected": upload.rejected,
        "rejections": [{"file": name, "reason": reason} for name, reason in summary.rejected],
        "finished": upload.finished,
    }


def progress_page(request, pk: int, model_admin):
    from imaging.admin import upload_report_html  # here: imaging.admin imports this module

    upload = model_admin.progress_upload(request, pk)
    series = upload.series
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Upload to {series.label}",
        "opts": Upload._meta,
        "upload": upload,
        "figures": progress_figures(upload),
        "report_html": upload_report_html(upload) if upload.status == Upload.Status.DONE else "",
        "refresh_seconds": None if upload.finished else REFRESH_SECONDS,
        "series_url": reverse("admin:imaging_series_change", args=[series.pk]),
        "json_url": reverse("admin:imaging_upload_progress_json", args=[upload.pk]),
    }
    return TemplateResponse(request, "imaging/upload_progress.html", context)


def progress_json(request, pk: int, model_admin):
    return JsonResponse(progress_figures(model_admin.progress_upload(request, pk)))
