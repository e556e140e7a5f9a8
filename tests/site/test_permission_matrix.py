"""The permission matrix: every role against every URL, each row with its exact expected outcome.

Roles (columns, in this order): ``anon`` (not logged in), ``resident``, ``staff`` (``is_staff`` and no
role: permissions decide, never ``is_staff``), ``director`` (a programme director, staff: its group's
permissions are the programme's alone, so everywhere here it has the access of staff without a role; its
programme pages are in tests/programme/test_programme_matrix.py), ``faculty`` (the author ``fac``; a
colleague ``fac2`` writes the other cases), ``editor``, ``admin`` (superuser).

The world (built once for the module, rolled back at its end): a published case (by ``fac2``), a draft
of ``fac``'s own, a draft of ``fac2``'s and a case in review (``fac2``), each with one stored DICOM image;
a resident's quiz attempt and review card; a deleted case's version (for django-reversion's recover pages).

Outcomes, one token per role:

- ``200``, ``403``, ``404``: that status;
- ``L``: 302 to the log-in page (the admin's under ``/admin/``, else the site's) with ``next`` = the URL;
- ``A``: 302 to the admin index (the admin's answer for an object outside the user's queryset);
- ``→/path`` (``→/path*`` for a prefix): 302 to that path.

Every 200 HTML page is also checked for leaks: no title nor slug of a case the role may not see appears
in it; case pages and previews must show their own case's title, lists and searches every case the role
may see. POST rows that try something forbidden check that nothing changed.

The admin rows cover every model registered in the admin: a model registered later without a row here fails
(``test_every_registered_admin_model_is_in_the_matrix`` and its own failing rows).
"""

import contextlib
import importlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import reversion
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings
from django.urls import Resolver404, URLResolver, clear_url_caches, get_resolver, resolve, reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from reversion.models import Version
from taggit.models import Tag

from bundles.services import export_bundle_tempfile
from bundles.tasks import bundle_export_enqueue, bundle_import_enqueue
from cases.models import Case, Region
from imaging.models import Image, Series, Upload
from imaging.rendering import render_path
from quiz.models import Mark, QuizAttempt, ReviewCard
from receiver.models import AssociationLog, DicomSender, DicomWebSource, ReceivedInstance, ReceivedStudy
from tests.helpers.accounts import make_user
from tests.helpers.authoring import FAST_HASHERS, complete_case
from tests.helpers.localisation import add_localisation, polygon
from tests.helpers.matrix import admin_page_cells
from tests.helpers.questions import add_question
from tests.helpers.sessions import client_as, sessions_for
from weekly.models import week_start_of
from weekly.services import weekly_case_schedule

# One group (`make test` runs with --dist loadgroup): the module's world is built by one worker, not by each.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("permission-matrix")]

ROLES = ["anon", "resident", "staff", "director", "faculty", "editor", "admin"]
DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED

# Each case's title and slug carry a word of its own, so a leak of either is found in any page.
CASES = {
    "pub": ("pangolin", PUBLISHED, "fac2"),
    "draft_own": ("quokka", DRAFT, "fac"),
    "draft_other": ("numbat", DRAFT, "fac2"),
    "review": ("wombat", REVIEW, "fac2"),
}
VISIBLE = {
    "anon": {"pub"},
    "resident": {"pub"},
    "staff": {"pub"},
    "director": {"pub"},
    "faculty": {"pub", "draft_own", "review"},
    "editor": set(CASES),
    "admin": set(CASES),
}
COMMON_WORD = "matrixcase"  # in every title: a search for it lists whatever the role may see


# -- The world -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_media(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix-media")


@pytest.fixture
def media_root(settings, world_media):
    """Overrides the suite's per-test media folder: the module's images live in one folder."""
    settings.MEDIA_ROOT = world_media
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return world_media


@pytest.fixture(scope="module")
def world_quarantine(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix-quarantine")


def quarantine_storages(location) -> dict:
    storages = django_settings.STORAGES
    return {**storages, "quarantine": {**storages["quarantine"], "OPTIONS": {"location": location}}}


@pytest.fixture
def quarantine_root(settings, world_quarantine):
    """Overrides the suite's per-test quarantine: the world's export waits for download in one folder."""
    settings.STORAGES = quarantine_storages(world_quarantine)
    return world_quarantine


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, world_media, world_quarantine):
    storages = quarantine_storages(world_quarantine)
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=world_media, STORAGES=storages),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)


def series_label(key: str) -> str:
    return f"Axial {CASES[key][0]} series"


def bundle_of(case: Case) -> bytes:
    bundle, _manifest = export_bundle_tempfile(Case.objects.filter(pk=case.pk))
    with bundle:
        bundle.seek(0)
        return bundle.read()


def build_world() -> SimpleNamespace:
    users = {
        "resident": make_user("res", "resident"),
        "res2": make_user("res2", "resident"),
        "staff": make_user("staffer", is_staff=True),
        "director": make_user("dir", "director", is_staff=True),
        "faculty": make_user("fac", "faculty", is_staff=True),
        "fac2": make_user("fac2", "faculty", is_staff=True),
        "editor": make_user("edi", "editor", is_staff=True),
        "admin": make_user("root", is_staff=True, is_superuser=True),
    }
    authors = {"fac": users["faculty"], "fac2": users["fac2"]}
    w = SimpleNamespace(users=users)
    region = Region.objects.create(name="Pelvis", slug="pelvis", order=1)
    for key, (word, status, author) in CASES.items():
        with reversion.create_revision():
            case = complete_case(
                slug=f"{word}-{COMMON_WORD}",
                title=f"Adult with hip pain {word} {COMMON_WORD}",
                status=status,
                author=authors[author],
            )
        case.regions.set([region])
        case.tags.set(["matrix-tag"])
        setattr(w, key, case)
        image = Image.objects.get(series__study__case=case)
        setattr(w, f"{key}_image", image)
        setattr(w, f"{key}_render", render_path(image.pk, "default-0.png"))  # its cached first frame
        setattr(w, f"{key}_series", image.series)
        setattr(w, f"{key}_study", image.series.study)
        setattr(w, f"{key}_upload", Upload.objects.get(series=image.series))
        Series.objects.filter(pk=image.series_id).update(label=series_label(key))
    w.bundle = bundle_of(w.pub)
    # Bundle jobs, run at once (the immediate backend): fac's export of two cases, waiting for download,
    # and an editor's import that skipped the one case it held.
    w.export_job = bundle_export_enqueue(case_ids=[w.pub.pk, w.draft_own.pk], by=users["faculty"])
    w.import_job = bundle_import_enqueue(
        bundle=SimpleUploadedFile("b.zip", w.bundle, "application/zip"),
        on_conflict="skip",
        by=users["editor"],
    )
    w.version = {key: Version.objects.get_for_object(getattr(w, key)).first() for key in CASES}
    with reversion.create_revision():
        gone = Case.objects.create(slug="gone-case", title="A deleted case")
    gone.delete()
    w.deleted_version = Version.objects.get_deleted(Case).get()
    w.diagnosis = w.pub.final_diagnosis
    w.region = region
    w.tag = Tag.objects.get(name="matrix-tag")
    w.group = Group.objects.get(name="resident")
    w.user = users["res2"]
    w.attempt = QuizAttempt.objects.create(user=users["res2"], case=w.pub, guess="x", mark=Mark.WRONG)
    w.draft_own_question = add_question(w.draft_own)
    w.pub_localisation = add_localisation(w.pub, w.pub_series, polygon(w.pub_image, [(1, 1), (9, 1), (9, 9)]))
    w.draft_other_question = add_question(w.draft_other)
    w.reviewcard = ReviewCard.objects.create(
        user=users["res2"], case=w.pub, due_on=timezone.localdate(), reviewed_at=timezone.now()
    )
    # A queued task as the database backend records it (the tests run tasks at once, recording none).
    w.dbtaskresult = DBTaskResult.objects.create(
        task_path="imaging.ingest_tasks.series_renders",
        args_kwargs={"args": [w.pub_upload.pk], "kwargs": {}},
        queue_name="default",
        backend_name="default",
        priority=0,
    )
    w.case_ct = ContentType.objects.get_for_model(Case).pk
    w.weeklycase = weekly_case_schedule(case=w.pub, week_start=week_start_of(timezone.localdate()))
    # Log-in throttling's records (django-axes): a lock-out, a successful log-in, a failure.
    client = {"user_agent": "matrix", "ip_address": "192.0.2.1", "http_accept": "*/*", "path_info": "/"}
    w.accessattempt = AccessAttempt.objects.create(
        username="res2", get_data="", post_data="", failures_since_start=5, **client
    )
    w.accesslog = AccessLog.objects.create(username="res2", **client)
    w.accessfailurelog = AccessFailureLog.objects.create(username="res2", locked_out=True, **client)
    # The DICOM receiver: a sender, its association's log, a received study in fac's inbox and in fac2's.
    w.dicomsender = DicomSender.objects.create(ae_title="MATRIXPACS", author=users["faculty"])
    w.dicomwebsource = DicomWebSource.objects.create(name="Matrix PACS", url="https://pacs.invalid/dicom-web")
    w.associationlog = AssociationLog.objects.create(
        sender=w.dicomsender, calling_ae_title="MATRIXPACS", address="192.0.2.9", started_at=timezone.now()
    )
    for key, owner in [("received_own", "faculty"), ("received_other", "fac2")]:
        study = ReceivedStudy.objects.create(
            owner=users[owner],
            arrival_key=key,
            seed="0" * 32,
            date_offset_days=-400,
            status="ready",
            modality="CT",
            first_received_at=timezone.now(),
            last_received_at=timezone.now(),
        )
        instance = ReceivedInstance.objects.create(study=study, received_at=timezone.now(), status="accepted")
        instance.thumbnail.save("thumbnail.png", ContentFile(b"\x89PNG not read by the matrix"), save=True)
        setattr(w, key, study)
        setattr(w, f"{key}_instance", instance)
    w.receivedstudy = w.received_own
    w.sessions = sessions_for(users)
    return w


# -- Rows ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    url: str  # formatted with the world: "{w.pub.slug}"
    outcomes: str  # six tokens, in the order of ROLES
    method: str = "get"
    data: dict = field(default_factory=dict)
    shows: str = ""  # "self:<case key>" or "visible": titles a 200 must contain
    unchanged: str = ""  # a check (see UNCHANGED) that the request changed nothing …
    changes: str = ""  # … except for these roles, whose change is the point of the row

    def expected(self, role: str) -> str:
        tokens = self.outcomes.split()
        assert len(tokens) == len(ROLES), self.name
        return tokens[ROLES.index(role)]


R = Row
SITE_ROWS = [
    # Public pages.
    R("home", "/", "200 200 200 200 200 200 200"),
    R("case list", "/cases/", "200 200 200 200 200 200 200", shows="visible"),
    R(
        "case list filtered",
        "/cases/?region=pelvis&tag=matrix-tag",
        "200 200 200 200 200 200 200",
        shows="visible",
    ),
    R("search", f"/cases/?q={COMMON_WORD}", "200 200 200 200 200 200 200", shows="visible"),
    R("search draft word", "/cases/?q=numbat", "200 200 200 200 200 200 200"),
    R("region", "/regions/pelvis/", "200 200 200 200 200 200 200", shows="visible"),
    R("diagnoses", "/diagnoses/", "200 200 200 200 200 200 200"),
    R("diagnosis", "/diagnoses/{w.diagnosis.slug}/", "200 200 200 200 200 200 200", shows="visible"),
    R("tag", "/tags/matrix-tag/", "200 200 200 200 200 200 200", shows="visible"),
    R("health", "/healthz", "200 200 200 200 200 200 200"),
    R(
        "hide diagnoses",
        "/preferences/hide-diagnoses/",
        "→/cases/ →/cases/ →/cases/ →/cases/ →/cases/ →/cases/ →/cases/",
        method="post",
        data={"hide": "1", "next": "/cases/"},
    ),
    R("login page", "/accounts/login/", "200 200 200 200 200 200 200"),
    R("logout", "/accounts/logout/", "→/ →/ →/ →/ →/ →/ →/", method="post"),
    # Case pages.
    R("case published", "/cases/{w.pub.slug}/", "200 200 200 200 200 200 200", shows="self:pub"),
    R("case own draft", "/cases/{w.draft_own.slug}/", "404 404 404 404 200 200 200", shows="self:draft_own"),
    R(
        "case other draft",
        "/cases/{w.draft_other.slug}/",
        "404 404 404 404 404 200 200",
        shows="self:draft_other",
    ),
    R("case in review", "/cases/{w.review.slug}/", "404 404 404 404 200 200 200", shows="self:review"),
    R("preview published", "/cases/{w.pub.slug}/preview/", "L 404 404 404 200 200 200", shows="self:pub"),
    R(
        "preview own draft",
        "/cases/{w.draft_own.slug}/preview/",
        "L 404 404 404 200 200 200",
        shows="self:draft_own",
    ),
    R(
        "preview other draft",
        "/cases/{w.draft_other.slug}/preview/",
        "L 404 404 404 404 200 200",
        shows="self:draft_other",
    ),
    R(
        "preview in review",
        "/cases/{w.review.slug}/preview/",
        "L 404 404 404 200 200 200",
        shows="self:review",
    ),
    # Quiz: only published cases, whoever asks.
    R("quiz published", "/cases/{w.pub.slug}/quiz/", "200 200 200 200 200 200 200"),
    R("quiz own draft", "/cases/{w.draft_own.slug}/quiz/", "404 404 404 404 404 404 404"),
    R("quiz other draft", "/cases/{w.draft_other.slug}/quiz/", "404 404 404 404 404 404 404"),
    R("quiz in review", "/cases/{w.review.slug}/quiz/", "404 404 404 404 404 404 404"),
    # The published case asks to point to the lesion after the diagnosis: the answer leads there.
    R(
        "reveal published",
        "/cases/{w.pub.slug}/quiz/",
        " ".join(["→/cases/{w.pub.slug}/quiz/localise/*"] * 7),
        "post",
        {"guess": "x"},
    ),
    R(
        "reveal own draft",
        "/cases/{w.draft_own.slug}/quiz/",
        "404 404 404 404 404 404 404",
        "post",
        {"guess": "x"},
        unchanged="no attempt at draft_own",
    ),
    R(
        "reveal other draft",
        "/cases/{w.draft_other.slug}/quiz/",
        "404 404 404 404 404 404 404",
        "post",
        {"guess": "x"},
        unchanged="no attempt at draft_other",
    ),
    R(
        "reveal in review",
        "/cases/{w.review.slug}/quiz/",
        "404 404 404 404 404 404 404",
        "post",
        {"guess": "x"},
        unchanged="no attempt at review",
    ),
    R(
        "override another's attempt",
        "/cases/{w.pub.slug}/quiz/override/",
        "404 404 404 404 404 404 404",
        "post",
        {"attempt": "{w.attempt.token}", "override": "correct"},
        unchanged="attempt not overridden",
    ),
    # A question is asked only within the asker's own attempt at its own (published) case.
    R(
        "quiz question of another's attempt",
        "/cases/{w.pub.slug}/quiz/questions/{w.draft_own_question.pk}/?attempt={w.attempt.token}",
        "404 404 404 404 404 404 404",
    ),
    R(
        "quiz question answered in another's attempt",
        "/cases/{w.draft_own.slug}/quiz/questions/{w.draft_own_question.pk}/",
        "404 404 404 404 404 404 404",
        "post",
        {"attempt": "{w.attempt.token}", "choice": "1"},
    ),
    # So is a localisation question ("point to the lesion").
    R(
        "quiz localisation of another's attempt",
        "/cases/{w.pub.slug}/quiz/localise/{w.pub_localisation.pk}/?attempt={w.attempt.token}",
        "404 404 404 404 404 404 404",
    ),
    R(
        "quiz localisation answered in another's attempt",
        "/cases/{w.pub.slug}/quiz/localise/{w.pub_localisation.pk}/",
        "404 404 404 404 404 404 404",
        "post",
        {"attempt": "{w.attempt.token}", "image": "{w.pub_image.pk}", "frame": "0", "x": "5", "y": "5"},
        unchanged="no click recorded",
    ),
    R("quiz preview published", "/cases/{w.pub.slug}/quiz/preview/", "L 404 404 404 200 200 200"),
    R("quiz preview own draft", "/cases/{w.draft_own.slug}/quiz/preview/", "L 404 404 404 200 200 200"),
    R("quiz preview other draft", "/cases/{w.draft_other.slug}/quiz/preview/", "L 404 404 404 404 200 200"),
    R("quiz preview in review", "/cases/{w.review.slug}/quiz/preview/", "L 404 404 404 200 200 200"),
    R("quiz start", "/quiz/", "200 200 200 200 200 200 200"),
    R(
        "quiz start post",
        "/quiz/",
        " ".join(["→/quiz/session/*"] * 7),
        "post",
        {"count": "5"},
    ),
    R(
        "quiz session of nobody",
        "/quiz/session/3f0c4b1e-8d5e-4c1a-9a57-2b7f6f0f2a11/",
        "404 404 404 404 404 404 404",
    ),
    R(
        "quiz score of nobody",
        "/quiz/session/3f0c4b1e-8d5e-4c1a-9a57-2b7f6f0f2a11/score/",
        "404 404 404 404 404 404 404",
    ),
    R("quiz review", "/quiz/review/", "L 200 200 200 200 200 200"),
    R(
        "quiz review post",
        "/quiz/review/",
        "L →/quiz/review/ →/quiz/review/ →/quiz/review/ →/quiz/review/ →/quiz/review/ →/quiz/review/",
        "post",
    ),
    R("quiz progress", "/quiz/progress/", "L 200 200 200 200 200 200"),
    # Case of the week and the feeds: public, for everyone (the week's case is the published one).
    R("case of the week", "/case-of-the-week/", "200 200 200 200 200 200 200"),
    R("new cases feed", "/feeds/cases.atom", "200 200 200 200 200 200 200"),
    R("case of the week feed", "/feeds/case-of-the-week.atom", "200 200 200 200 200 200 200"),
    # Image bytes, through the permission-checked views only.
    R("frame published", "/images/{w.pub_image.pk}/default/0.png", "200 200 200 200 200 200 200"),
    R("thumb published", "/images/{w.pub_image.pk}/thumb.png", "200 200 200 200 200 200 200"),
    R("frame own draft", "/images/{w.draft_own_image.pk}/default/0.png", "404 404 404 404 200 200 200"),
    R("thumb own draft", "/images/{w.draft_own_image.pk}/thumb.png", "404 404 404 404 200 200 200"),
    R("frame other draft", "/images/{w.draft_other_image.pk}/default/0.png", "404 404 404 404 404 200 200"),
    R("thumb other draft", "/images/{w.draft_other_image.pk}/thumb.png", "404 404 404 404 404 200 200"),
    R("frame in review", "/images/{w.review_image.pk}/default/0.png", "404 404 404 404 200 200 200"),
    R("thumb in review", "/images/{w.review_image.pk}/thumb.png", "404 404 404 404 200 200 200"),
    R(
        "frame other draft bad preset",
        "/images/{w.draft_other_image.pk}/bone/99.png",
        "404 404 404 404 404 404 404",
    ),
    # The viewer's first image, a small copy of a frame: answered exactly like the frame.
    R("frame thumb published", "/images/{w.pub_image.pk}/default/0.thumb.png", "200 200 200 200 200 200 200"),
    R(
        "frame thumb own draft",
        "/images/{w.draft_own_image.pk}/default/0.thumb.png",
        "404 404 404 404 200 200 200",
    ),
    R(
        "frame thumb other draft",
        "/images/{w.draft_other_image.pk}/default/0.thumb.png",
        "404 404 404 404 404 200 200",
    ),
    R(
        "frame thumb in review",
        "/images/{w.review_image.pk}/default/0.thumb.png",
        "404 404 404 404 200 200 200",
    ),
    R(
        "frame thumb other draft bad preset",
        "/images/{w.draft_other_image.pk}/bone/99.thumb.png",
        "404 404 404 404 404 404 404",
    ),
    # The stored values the viewer windows in the page: answered exactly like the frames.
    R("values published", "/images/{w.pub_image.pk}/values/0.raw", "200 200 200 200 200 200 200"),
    R("values own draft", "/images/{w.draft_own_image.pk}/values/0.raw", "404 404 404 404 200 200 200"),
    R("values other draft", "/images/{w.draft_other_image.pk}/values/0.raw", "404 404 404 404 404 200 200"),
    R("values in review", "/images/{w.review_image.pk}/values/0.raw", "404 404 404 404 200 200 200"),
    R(
        "values other draft bad frame",
        "/images/{w.draft_other_image.pk}/values/99.raw",
        "404 404 404 404 404 404 404",
    ),
    # Stored files are never served from MEDIA_URL, not even a published case's.
    R("raw media published", "/media/{w.pub_image.file.name}", "404 404 404 404 404 404 404"),
    R("raw media own draft", "/media/{w.draft_own_image.file.name}", "404 404 404 404 404 404 404"),
    R("raw media other draft", "/media/{w.draft_other_image.file.name}", "404 404 404 404 404 404 404"),
    R("raw media render", "/media/{w.draft_other_render}", "404 404 404 404 404 404 404"),
]

ADMIN_ROWS = [
    R("admin index", "/admin/", "L L 200 200 200 200 200"),
    R("admin login", "/admin/login/", "200 200 →/admin/ →/admin/ →/admin/ →/admin/ →/admin/"),
    R("admin password change", "/admin/password_change/", "L L 200 200 200 200 200"),
    R("admin password changed", "/admin/password_change/done/", "L L 200 200 200 200 200"),
    R("admin logout", "/admin/logout/", "→/admin/ →/admin/ →/ →/ →/ →/ →/", "post"),
    R("admin jsi18n", "/admin/jsi18n/", "L L 200 200 200 200 200"),
    R(
        "admin autocomplete diagnosis",
        "/admin/autocomplete/?term=&app_label=cases&model_name=case&field_name=final_diagnosis",
        "L L 403 403 200 200 200",
    ),
    R("admin app cases", "/admin/cases/", "L L 404 404 200 200 200"),
    R("admin app imaging", "/admin/imaging/", "L L 404 404 200 200 200"),
    R("admin app quiz", "/admin/quiz/", "L L 404 404 200 200 200"),
    R("admin app auth", "/admin/auth/", "L L 404 404 404 404 200"),
    R("admin app taggit", "/admin/taggit/", "L L 404 404 404 404 200"),
    R("admin app axes", "/admin/axes/", "L L 404 404 404 404 200"),
    R("admin app weekly", "/admin/weekly/", "L L 404 404 404 200 200"),
    R("admin app receiver", "/admin/receiver/", "L L 404 404 200 200 200"),
    # The inbox's own pages: a study outside the user's inbox answers 404 (editors see every inbox).
    R(
        "received study thumbnail own",
        "/admin/receiver/receivedstudy/{w.received_own.pk}/thumbnail/{w.received_own_instance.pk}/",
        "L L 404 404 200 200 200",
    ),
    R(
        "received study thumbnail other",
        "/admin/receiver/receivedstudy/{w.received_other.pk}/thumbnail/{w.received_other_instance.pk}/",
        "L L 404 404 404 200 200",
    ),
    R("received study pull", "/admin/receiver/receivedstudy/pull/", "L L 403 403 200 200 200"),
    R(
        "received study add to draft own",
        "/admin/receiver/receivedstudy/{w.received_own.pk}/add-to-draft/",
        "L L 404 404 200 200 200",
    ),
    R(
        "received study add to draft other",
        "/admin/receiver/receivedstudy/{w.received_other.pk}/add-to-draft/",
        "L L 404 404 404 200 200",
    ),
    R(
        "view on site published",
        "/admin/r/{w.case_ct}/{w.pub.pk}/",
        "L L 404 404 →/cases/{w.pub.slug}/ →/cases/{w.pub.slug}/ →/cases/{w.pub.slug}/",
    ),
    R(
        "view on site other draft",
        "/admin/r/{w.case_ct}/{w.draft_other.pk}/",
        "L L 404 404 404 →/cases/{w.draft_other.slug}/ →/cases/{w.draft_other.slug}/",
    ),
    R("tag merge page", "/admin/taggit/tag/merge-tags/", "L L 403 403 403 403 →/admin/taggit/tag/"),
    R(
        "tag merge post",
        "/admin/taggit/tag/merge-tags/",
        "L L 403 403 403 403 →/admin/taggit/tag/",
        "post",
        {"new_tag_name": "merged-by-matrix"},
        unchanged="no tag merged-by-matrix",
    ),
    R("user password", "/admin/auth/user/{w.user.pk}/password/", "L L 403 403 403 403 200"),
    # django-reversion: recover deleted cases (editors), restore a version, compare versions.
    R("recover list", "/admin/cases/case/recover/", "L L 403 403 403 200 200"),
    R("recover deleted", "/admin/cases/case/recover/{w.deleted_version.pk}/", "L L 403 403 403 200 200"),
    R(
        "revision own draft",
        "/admin/cases/case/{w.draft_own.pk}/history/{w.version[draft_own].pk}/",
        "L L 404 404 200 200 200",
    ),
    R(
        "revision other draft",
        "/admin/cases/case/{w.draft_other.pk}/history/{w.version[draft_other].pk}/",
        "L L 404 404 404 200 200",
    ),
    R(
        "revision published",
        "/admin/cases/case/{w.pub.pk}/history/{w.version[pub].pk}/",
        "L L 404 404 403 200 200",
    ),
    R("versions own draft", "/admin/cases/case/{w.draft_own.pk}/versions/", "L L 404 404 200 200 200"),
    R("versions other draft", "/admin/cases/case/{w.draft_other.pk}/versions/", "L L 404 404 404 200 200"),
    R("versions in review", "/admin/cases/case/{w.review.pk}/versions/", "L L 404 404 200 200 200"),
    R("versions published", "/admin/cases/case/{w.pub.pk}/versions/", "L L 404 404 200 200 200"),
    # Workflow pages: faculty cannot publish (the actual POST), nor move a colleague's case.
    R(
        "publish page in review",
        "/admin/cases/case/{w.review.pk}/workflow/publish/",
        "L L 404 404 403 200 200",
    ),
    R(
        "publish in review",
        "/admin/cases/case/{w.review.pk}/workflow/publish/",
        "L L 404 404 403 →/admin/cases/case/{w.review.pk}/change/ →/admin/cases/case/{w.review.pk}/change/",
        "post",
        {"note": "matrix"},
        unchanged="review still in review",
        changes="editor admin",
    ),
    R(
        "publish own draft",
        "/admin/cases/case/{w.draft_own.pk}/workflow/publish/",
        "L L 404 404 403 403 403",
        "post",
        {"note": "matrix"},
        unchanged="draft_own still draft",
    ),
    R(
        "submit page own draft",
        "/admin/cases/case/{w.draft_own.pk}/workflow/submit/",
        "L L 404 404 200 200 200",
    ),
    R(
        "submit other draft",
        "/admin/cases/case/{w.draft_other.pk}/workflow/submit/",
        "L L 404 404 404 →/admin/cases/case/{w.draft_other.pk}/change/"
        " →/admin/cases/case/{w.draft_other.pk}/change/",
        "post",
        {"note": "matrix"},
        unchanged="draft_other still draft",
        changes="editor admin",
    ),
    R(
        "unpublish published",
        "/admin/cases/case/{w.pub.pk}/workflow/return/",
        "L L 404 404 403 →/admin/cases/case/{w.pub.pk}/change/ →/admin/cases/case/{w.pub.pk}/change/",
        "post",
        {"note": "matrix"},
        unchanged="pub still published",
        changes="editor admin",
    ),
    R("unknown step", "/admin/cases/case/{w.pub.pk}/workflow/delete/", "L L 404 404 404 404 404"),
    R(
        "status posted in change form",
        "/admin/cases/case/{w.draft_own.pk}/change/",
        "L L 403 403 200 200 200",
        "post",
        {"status": "published", "title": "x"},
        unchanged="draft_own still draft",
    ),
    R(
        "delete action on changelist",
        "/admin/cases/case/",
        "L L 403 403 →/admin/cases/case/ 200 200",
        "post",
        {"action": "delete_selected", "_selected_action": "{w.draft_other.pk}"},
        unchanged="draft_other exists",
    ),
    # Case bundles: the export action exports only what the user may see; the import is for editors.
    R(
        "export action published and other draft",
        "/admin/cases/case/",
        "L L 403 403" + " →/admin/cases/case/bundle-jobs/*" * 3,
        "post",
        {"action": "export_bundle", "_selected_action": ["{w.pub.pk}", "{w.draft_other.pk}"]},
        shows="bundle:pub draft_other",
    ),
    R(
        "export action other draft only",
        "/admin/cases/case/",
        "L L 403 403 →/admin/cases/case/ →/admin/cases/case/bundle-jobs/* →/admin/cases/case/bundle-jobs/*",
        "post",
        {"action": "export_bundle", "_selected_action": ["{w.draft_other.pk}"]},
        shows="bundle:draft_other",
    ),
    R("import page", "/admin/cases/case/import/", "L 403 403 403 403 200 200"),
    R(
        "import without a file",
        "/admin/cases/case/import/",
        "L 403 403 403 403 200 200",
        "post",
        {"on_conflict": "rename"},
        unchanged="no case imported",
    ),
    R(
        "import a bundle",
        "/admin/cases/case/import/",
        "L 403 403 403 403 →/admin/cases/case/bundle-jobs/* →/admin/cases/case/bundle-jobs/*",
        "post",
        {
            "on_conflict": "rename",
            "bundle": lambda w: SimpleUploadedFile("b.zip", w.bundle, "application/zip"),
        },
        unchanged="no case imported",
        changes="editor admin",
    ),
    # A bundle job's page and an export's download: for the user who asked (fac, an editor) and editors.
    R(
        "bundle export job page",
        "/admin/cases/case/bundle-jobs/{w.export_job.pk}/",
        "L L 404 404 200 200 200",
    ),
    R(
        "bundle export download",
        "/admin/cases/case/bundle-jobs/{w.export_job.pk}/download/",
        "L L 404 404 200 200 200",
        shows="bundle:pub draft_own",
    ),
    R(
        "bundle import job page",
        "/admin/cases/case/bundle-jobs/{w.import_job.pk}/",
        "L L 404 404 404 200 200",
    ),
    R(
        "bundle import download",
        "/admin/cases/case/bundle-jobs/{w.import_job.pk}/download/",
        "L L 404 404 404 404 404",
    ),
    R("bundle job of nobody", "/admin/cases/case/bundle-jobs/999999/", "L L 404 404 404 404 404"),
    # An upload's progress page and its figures: for those who may edit the upload's case, as its series.
    *[
        R(f"upload {key} {page}", f"/admin/imaging/upload/{{w.{key}_upload.pk}}/{page}", outcomes)
        for key, outcomes in [
            ("draft_own", "L L 404 404 200 200 200"),
            ("draft_other", "L L 404 404 404 200 200"),
            ("review", "L L 404 404 404 200 200"),
            ("pub", "L L 404 404 404 200 200"),
        ]
        for page in ["progress/", "progress.json"]
    ],
]


# The admin pages of each registered model. Objects per model: the world attribute holding each one;
# for every object its change, delete and history page. Outcomes as above.
SUPERUSER_ONLY = "L L 403 403 403 403 200"


def model_pages(changelist: str, add: str, objects: dict[str, tuple[str, str, str]]) -> dict:
    return {"changelist": changelist, "add": add, "objects": objects}


def only_superusers(attribute: str) -> dict:
    return model_pages(SUPERUSER_ONLY, SUPERUSER_ONLY, {attribute: (SUPERUSER_ONLY,) * 3})


ADMIN_MODELS = {
    "auth.Group": only_superusers("group"),
    "auth.User": only_superusers("user"),
    "taggit.Tag": only_superusers("tag"),
    "quiz.QuizAttempt": only_superusers("attempt"),
    "quiz.ReviewCard": only_superusers("reviewcard"),
    # Questions follow their case (cases.rules.may_edit); faculty may delete those of their own drafts.
    "quiz.Question": model_pages(
        "L L 403 403 200 200 200",
        "L L 403 403 200 200 200",
        {
            # (change, delete, history)
            "draft_own_question": (
                "L L 403 403 200 200 200",
                "L L 403 403 200 200 200",
                "L L A A 200 200 200",
            ),
            "draft_other_question": ("L L 403 403 A 200 200", "L L 403 403 A 200 200", "L L A A A 200 200"),
        },
    ),
    # The case of the week's schedule: editors only.
    "weekly.WeeklyCase": model_pages(
        "L L 403 403 403 200 200",
        "L L 403 403 403 200 200",
        {"weeklycase": ("L L 403 403 403 200 200",) * 3},
    ),
    # Log-in throttling (django-axes): its records are read-only, so nobody adds one by hand; lifting a
    # lock-out is deleting its access attempt.
    **{
        f"axes.{model}": model_pages(
            SUPERUSER_ONLY, "L L 403 403 403 403 403", {model.lower(): (SUPERUSER_ONLY,) * 3}
        )
        for model in ["AccessAttempt", "AccessLog", "AccessFailureLog"]
    },
    "cases.Case": model_pages(
        "L L 403 403 200 200 200",
        "L L 403 403 200 200 200",
        {
            # (change, delete, history)
            "pub": ("L L 403 403 200 200 200", "L L 403 403 403 200 200", "L L 403 403 200 200 200"),
            "draft_own": ("L L 403 403 200 200 200", "L L 403 403 403 200 200", "L L 403 403 200 200 200"),
            "draft_other": ("L L 403 403 A 200 200", "L L 403 403 403 200 200", "L L 403 403 A 200 200"),
            "review": ("L L 403 403 200 200 200", "L L 403 403 403 200 200", "L L 403 403 200 200 200"),
        },
    ),
    "cases.Diagnosis": model_pages(
        "L L 403 403 200 200 200",
        "L L 403 403 200 200 200",
        {"diagnosis": ("L L 403 403 200 200 200", "L L 403 403 403 403 200", "L L 403 403 200 200 200")},
    ),
    "cases.Region": model_pages(
        "L L 403 403 200 200 200",
        "L L 403 403 403 200 200",
        {"region": ("L L 403 403 200 200 200", "L L 403 403 403 403 200", "L L 403 403 200 200 200")},
    ),
    **{
        f"imaging.{model}": model_pages(
            "L L 403 403 200 200 200",
            "L L 403 403 403 403 403" if model == "Image" else "L L 403 403 200 200 200",
            {
                # (A staff member without a role: the history page looks in an empty queryset first.)
                f"draft_own_{model.lower()}": (
                    "L L 403 403 200 200 200",
                    "L L 403 403 403 200 200",
                    "L L A A 200 200 200",
                ),
                f"draft_other_{model.lower()}": (
                    "L L 403 403 A 200 200",
                    "L L 403 403 403 200 200",
                    "L L A A A 200 200",
                ),
            },
        )
        for model in ["Study", "Series", "Image"]
    },
    # The receiver: editors manage senders and read the association log; faculty see their own inbox.
    "receiver.DicomSender": model_pages(
        "L L 403 403 403 200 200",
        "L L 403 403 403 200 200",
        {"dicomsender": ("L L 403 403 403 200 200",) * 3},
    ),
    "receiver.DicomWebSource": model_pages(
        "L L 403 403 403 200 200",
        "L L 403 403 403 200 200",
        {"dicomwebsource": ("L L 403 403 403 200 200",) * 3},
    ),
    "receiver.AssociationLog": model_pages(
        "L L 403 403 403 200 200",
        "L L 403 403 403 403 403",
        {"associationlog": ("L L 403 403 403 200 200", "L L 403 403 403 403 403", "L L 403 403 403 200 200")},
    ),
    "receiver.ReceivedStudy": model_pages(
        "L L 403 403 200 200 200",
        "L L 403 403 403 403 403",
        {
            "received_own": ("L L 403 403 200 200 200", "L L 403 403 403 403 403", "L L A A 200 200 200"),
            "received_other": ("L L 403 403 A 200 200", "L L 403 403 403 403 403", "L L A A A 200 200"),
        },
    ),
    # The task framework's records (django-tasks-db): read-only, and for superusers only.
    "django_tasks_database.DBTaskResult": model_pages(
        SUPERUSER_ONLY,
        "L L 403 403 403 403 403",
        {"dbtaskresult": (SUPERUSER_ONLY, "L L 403 403 403 403 403", SUPERUSER_ONLY)},
    ),
    "imaging.Upload": model_pages(
        "L L 403 403 200 200 200",
        "L L 403 403 403 403 403",
        {
            "draft_own_upload": ("L L 403 403 200 200 200", "L L 403 403 403 403 200", "L L A A 200 200 200"),
            "draft_other_upload": ("L L 403 403 A 200 200", "L L 403 403 403 403 200", "L L A A A 200 200"),
        },
    ),
}


# Apps with a matrix of their own (their own roles too): tests/programme/test_programme_matrix.py.
OWN_MATRIX_APPS = ("programme",)


def admin_model_rows() -> list[Row]:
    cells = admin_page_cells(
        ADMIN_MODELS, include=lambda app: app not in OWN_MATRIX_APPS, missing="MISSING " * len(ROLES)
    )
    return [R(*cell) for cell in cells]


ALL_ROWS = SITE_ROWS + ADMIN_ROWS + admin_model_rows()

CELLS = [(row, role) for row in ALL_ROWS for role in ROLES]


# -- Checks ----------------------------------------------------------------------------------------------


def url_of(row: Row, w) -> str:
    if row.url.startswith("admin:"):
        name, _, attribute = row.url.partition(":")[2].partition(":")
        return reverse(f"admin:{name}", args=[getattr(w, attribute).pk] if attribute else [])
    return fill(row.url, w)


def fill_data(value, w):
    if callable(value):
        return value(w)
    if isinstance(value, list):
        return [fill(item, w) for item in value]
    return fill(value, w)


def fill(template: str, w) -> str:
    return template.format(w=w)  # "{w.version[draft_own].pk}": format() passes the key as a string


UNCHANGED = {
    "no attempt at draft_own": lambda w: not QuizAttempt.objects.filter(case=w.draft_own).exists(),
    "no attempt at draft_other": lambda w: not QuizAttempt.objects.filter(case=w.draft_other).exists(),
    "no attempt at review": lambda w: not QuizAttempt.objects.filter(case=w.review).exists(),
    "attempt not overridden": lambda w: QuizAttempt.objects.get(pk=w.attempt.pk).override == "",
    "no click recorded": lambda w: QuizAttempt.objects.get(pk=w.attempt.pk).localisation_marks == {},
    "no tag merged-by-matrix": lambda w: not Tag.objects.filter(name="merged-by-matrix").exists(),
    "review still in review": lambda w: Case.objects.get(pk=w.review.pk).status == REVIEW,
    "draft_own still draft": lambda w: Case.objects.get(pk=w.draft_own.pk).status == DRAFT,
    "draft_other still draft": lambda w: Case.objects.get(pk=w.draft_other.pk).status == DRAFT,
    "pub still published": lambda w: Case.objects.get(pk=w.pub.pk).status == PUBLISHED,
    "draft_other exists": lambda w: Case.objects.filter(pk=w.draft_other.pk).exists(),
    "no case imported": lambda w: Case.objects.count() == len(CASES),
}


def assert_outcome(response, expected: str, url: str, w) -> None:
    status = response.status_code
    if expected in {"200", "403", "404"}:
        assert status == int(expected), f"{status} (Location {response.get('Location')})"
        return
    assert status == 302, f"{status}, expected a redirect ({expected})"
    location = urlsplit(response["Location"])
    if expected == "L":
        login = reverse("admin:login") if url.startswith("/admin/") else reverse("login")
        assert location.path == login and parse_qs(location.query) == {"next": [url]}, response["Location"]
    elif expected == "A":
        assert response["Location"] == reverse("admin:index")
    elif expected.startswith("→"):
        target = fill(expected[1:], w)
        assert location.netloc in {"", "testserver"}, response["Location"]
        if target.endswith("*"):
            assert location.path.startswith(target[:-1]), response["Location"]
        else:
            assert (location.path + (f"?{location.query}" if location.query else "")) == target
    else:
        pytest.fail(f"unknown outcome {expected!r}")


def assert_no_leak(response, role: str, row: Row, w) -> None:
    if response.status_code == 200 and response["Content-Type"] == "application/zip":
        with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as bundle:
            exported = set(json.loads(bundle.read("manifest.json"))["cases"])
        assert exported == {getattr(w, key).slug for key in row.shows.split(":")[1].split()} & {
            getattr(w, key).slug for key in VISIBLE[role]
        }
        return
    if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
        return
    body = response.content.decode()
    for key in CASES:
        if key not in VISIBLE[role]:
            case = getattr(w, key)
            # Title, slug or series label (its word alone may be the query a search page repeats).
            for marker in [case.title, case.slug, series_label(key)]:
                assert marker not in body, f"{role} sees {key} ({marker}) at {row.name}"
    if row.shows == "visible":
        for key in VISIBLE[role]:
            assert getattr(w, key).title in body, f"{key} is missing"
    elif row.shows.startswith("self:"):
        assert getattr(w, row.shows[5:]).title in body


@pytest.fixture
def as_role(client, world):
    def log_in(role: str):
        return client_as(world.sessions.get(role), client)

    return log_in


@pytest.mark.parametrize(("row", "role"), CELLS, ids=[f"{row.name}-{role}" for row, role in CELLS])
def test_matrix(as_role, world, media_root, role, row):
    client = as_role(role)
    url = url_of(row, world)
    data = {key: fill_data(value, world) for key, value in row.data.items()}
    response = client.post(url, data) if row.method == "post" else client.get(url)
    expected = row.expected(role)
    assert_outcome(response, expected, url, world)
    if row.shows.startswith("bundle:") and "/bundle-jobs/" in response.get("Location", ""):
        # An export's job is done by now (the immediate backend): its bundle is checked for leaks.
        response = client.get(f"{response['Location']}download/")
        assert response.status_code == 200
    assert_no_leak(response, role, row, world)
    if row.unchanged and role not in row.changes.split():
        assert UNCHANGED[row.unchanged](world), row.unchanged


CACHED_ROWS = [
    row for row in SITE_ROWS if row.method == "get" and not row.url.startswith(("/images/", "/media/"))
]


@pytest.mark.parametrize("row", CACHED_ROWS, ids=[row.name for row in CACHED_ROWS])
def test_no_page_is_served_from_a_cache_warmed_by_another_role(world, media_root, row):
    """Pages keep facet counts and aggregates in a cache: the widest roles ask first, then each narrower
    one, all in one test, and each still gets exactly its own outcome and nothing it may not see."""
    url = url_of(row, world)
    for role in reversed(ROLES):
        response = client_as(world.sessions.get(role)).get(url)
        assert_outcome(response, row.expected(role), url, world)
        assert_no_leak(response, role, row, world)


# -- What the matrix itself relies on ---------------------------------------------------------------------


def test_every_registered_admin_model_is_in_the_matrix():
    registered = {model._meta.label for model in apps.get_models() if admin.site.is_registered(model)}
    assert {label for label in registered if label.split(".")[0] not in OWN_MATRIX_APPS} == set(ADMIN_MODELS)


# The guarded admin pages of config/urls.py take the place of these named admin patterns.
GUARDED = {
    "admin/r/<path:content_type_id>/<path:object_id>/": "admin:view_on_site",
    "admin/taggit/tag/merge-tags/": "admin:taggit_tag_merge_tags",
}


def named_patterns(resolver, namespace: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_patterns(pattern, inner)
        elif pattern.name and not in_own_matrix(pattern, f"{namespace}{pattern.name}"):
            yield f"{namespace}{pattern.name}"


def in_own_matrix(pattern, name: str) -> bool:
    return pattern.callback.__module__.startswith(tuple(f"{app}." for app in OWN_MATRIX_APPS)) or any(
        name.startswith(f"admin:{app}_") for app in OWN_MATRIX_APPS
    )


def test_every_named_url_pattern_has_a_row(world):
    """Every named URL pattern — the site's, the admin's, every model admin's own pages — is reached by
    at least one row, so a page added later fails here until the matrix has its rows."""
    reached = set()
    for row in ALL_ROWS:
        if "MISSING" in row.outcomes:
            continue
        with contextlib.suppress(Resolver404):  # the raw media rows: routed nowhere
            match = resolve(urlsplit(url_of(row, world)).path)
            reached.add(match.view_name if match.url_name else GUARDED[match.route])
    assert set(named_patterns(get_resolver())) - reached == set()


@pytest.mark.parametrize("debug", [False, True])
def test_nothing_under_media_url_is_routed_even_with_debug(settings, world, debug):
    """No static()/serve pattern for MEDIA_URL, whatever DEBUG was when the URLconf was imported."""
    import config.urls

    settings.DEBUG = debug
    try:
        module = importlib.reload(config.urls)
        for name in [world.draft_other_image.file.name, world.pub_image.file.name, world.pub_render]:
            with pytest.raises(Resolver404):
                resolve(f"/{django_settings.MEDIA_URL}{name}", urlconf=module)
    finally:
        settings.DEBUG = False
        importlib.reload(config.urls)
        clear_url_caches()
