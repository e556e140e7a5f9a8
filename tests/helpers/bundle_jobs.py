"""The admin's bundle jobs: the case list's export action, the job a request queued, its page, and the
seed archive they are tried on."""

import re

from django.test import Client
from taggit.models import Tag

from bundles.models import BundleJob
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from imaging.demo import demo_images_ensure
from imaging.models import Annotation, Image, Series, Study

CHANGELIST = "/admin/cases/case/"
JOB_PAGE = re.compile(r"^/admin/cases/case/bundle-jobs/(\d+)/$")
#: A seed case with sample images.
HAEMANGIOMA = "back-and-left-leg-pain-47f"
#: Every model a bundle import writes rows of.
ROW_MODELS = (
    Case,
    Finding,
    DifferentialItem,
    Reference,
    Diagnosis,
    Region,
    Tag,
    Study,
    Series,
    Image,
    Annotation,
)


def seed_archive(*, slugs: set[str] | None = None) -> dict[str, Case]:
    """The seed cases (loaded already) with their sample images (real stored DICOM files), by slug; only
    the cases of `slugs` get their images, when given."""
    demo_images_ensure(slugs=slugs)
    assert Image.objects.exists()
    return {case.slug: case for case in Case.objects.all()}


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ROW_MODELS}


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def export_action(client: Client, *cases: Case, **extra):
    return client.post(
        CHANGELIST, {"action": "export_bundle", "_selected_action": [c.pk for c in cases], **extra}
    )


def job_of(response) -> BundleJob:
    """The job a request queued: it answers with a redirect to the job's page."""
    assert response.status_code == 302, response.status_code
    match = JOB_PAGE.match(response["Location"])
    assert match, response["Location"]
    return BundleJob.objects.get(pk=match[1])


def job_page(client: Client, job: BundleJob):
    return client.get(f"/admin/cases/case/bundle-jobs/{job.pk}/")


def quarantined_bundles(quarantine_root) -> list:
    """Bundles waiting in quarantine for their import (the folder exists once one was stored)."""
    assert (quarantine_root / "bundle-imports").is_dir()
    return [path for path in (quarantine_root / "bundle-imports").rglob("*") if path.is_file()]
