"""The image gate, as permission-matrix rows: every way into a case's studies, series and images, by every
role, into a case of every state, the faculty member's own and a colleague's; and who is served an image
whose burned-in text flag is not cleared.

Roles (columns, in this order): ``anon``, ``resident``, ``staff`` (``is_staff``, no role), ``faculty``
(``fac``: the *own* cases are theirs, the *other* ones their colleague ``fac2``'s), ``editor``, ``admin``
(superuser). Targets: the case something is added to or moved into (or out of): ``own_draft``,
``own_review``, ``own_pub``, ``other_draft``, ``other_review``, ``other_pub``. ``fac`` also has a second
draft, ``home``, from which things are moved and whose pages "save as new" is posted to.

Every target case has a study with two series: "Axial T2" (one DICOM image) and "Screenshot" (one PNG,
flagged for burned-in text, as every PNG upload is).

Outcomes, one token per role:

- refusals — nothing stored: no study, series, image, upload row or file is added, moved or changed:
  ``L`` (302 to the admin's log-in), ``403``, ``A`` (302 to the admin index: not in the user's
  queryset), ``E`` (200: the form shown again with the way's error message), ``200`` (200, the
  changelist: the action is not offered to this user);
- ``ok``: 302, and what the way attempts is done (checked by the way's own test);
- ``kept``: 302, but the posted change is ignored (a read-only field): nothing moved.
"""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from authoring import rules
from cases.models import Case
from imaging.inputs import InputFile
from imaging.models import Annotation, DeidentificationKey, Image, Series, Study, Upload
from imaging.services import images_ingest, series_create
from tests.helpers.accounts import make_user
from tests.helpers.authoring import FAST_HASHERS, complete_case, form_data
from tests.helpers.sessions import client_as, sessions_for
from tests.helpers.viewer import image_page_inlines, run_queued_uploads

# One group (`make test` runs with --dist loadgroup): the module's world is built by one worker, not by each.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("image-gate")]

ROLES = ["anon", "resident", "staff", "faculty", "editor", "admin"]
DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED
TARGETS = {
    "own_draft": (DRAFT, "fac"),
    "own_review": (REVIEW, "fac"),
    "own_pub": (PUBLISHED, "fac"),
    "other_draft": (DRAFT, "fac2"),
    "other_review": (REVIEW, "fac2"),
    "other_pub": (PUBLISHED, "fac2"),
}
GATE = "Faculty add and move studies, series and images only within their own draft cases."


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (24, 16), "white").save(buffer, "PNG")
    return buffer.getvalue()


# -- The world -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_media(tmp_path_factory):
    return tmp_path_factory.mktemp("gate-media")


@pytest.fixture
def media_root(settings, world_media):
    """Overrides the suite's per-test media folder: the module's images live in one folder."""
    settings.MEDIA_ROOT = world_media
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return world_media


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, world_media):
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=world_media), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def build_world() -> SimpleNamespace:
    users = {
        "resident": make_user("res", "resident"),
        "staff": make_user("staffer", is_staff=True),
        "faculty": make_user("fac", "faculty", is_staff=True),
        "fac2": make_user("fac2", "faculty", is_staff=True),
        "editor": make_user("edi", "editor", is_staff=True),
        "admin": make_user("root", is_staff=True, is_superuser=True),
    }
    authors = {"fac": users["faculty"], "fac2": users["fac2"]}
    w = SimpleNamespace(users=users, case={}, study={}, series={}, image={}, flagged={})
    w.home = complete_case(slug="home-gate", status=DRAFT, author=users["faculty"])
    w.home_image = Image.objects.get(series__study__case=w.home)
    w.home_series = w.home_image.series
    Series.objects.filter(pk=w.home_series.pk).update(label="Mover")
    w.home_series.refresh_from_db()
    w.home_study = w.home_series.study
    for key, (status, author) in TARGETS.items():
        case = complete_case(slug=key.replace("_", "-") + "-gate", status=status, author=authors[author])
        w.case[key] = case
        w.image[key] = Image.objects.get(series__study__case=case)
        w.series[key] = w.image[key].series
        w.study[key] = w.series[key].study
        screenshot = series_create(case=case, label="Screenshot", modality="MR")
        images_ingest(series=screenshot, files=[InputFile("shot.png", png())], by=authors[author])
        w.flagged[key] = screenshot.images.get()
        assert w.flagged[key].is_flagged
    # A screenshot an editor looked at: served like any image of its case.
    cleared = series_create(case=w.case["other_pub"], label="Cleared", modality="MR")
    images_ingest(series=cleared, files=[InputFile("seen.png", png())])
    cleared.images.update(reviewed_by=users["editor"], reviewed_at=timezone.now())
    w.cleared = cleared.images.get()
    w.sessions = sessions_for(users)
    return w


@pytest.fixture
def as_role(world):
    def log_in(role: str) -> Client:
        return client_as(world.sessions.get(role))

    return log_in


def state(media_root) -> dict:
    """Every row a way in could add, move or change, and the stored files."""
    rows = {
        model._meta.label: sorted(model.objects.values_list(*fields))
        for model, fields in [
            (Study, ["pk", "case_id", "modality", "time_label", "order"]),
            (Series, ["pk", "study_id", "label", "order", "finding_id"]),
            (Image, ["pk", "series_id", "order", "caption", "needs_review", "reviewed_at"]),
            (Upload, ["pk", "series_id"]),
            (Annotation, ["pk", "image_id"]),
            (DeidentificationKey, ["pk", "case_id"]),
        ]
    }
    rows["files"] = sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())
    return rows


# -- The ways in -----------------------------------------------------------------------------------------

IMAGES_INLINE = {
    "images-TOTAL_FORMS": "0",
    "images-INITIAL_FORMS": "0",
    "images-MIN_NUM_FORMS": "0",
    "images-MAX_NUM_FORMS": "1000",
}
ANNOTATIONS_INLINE = image_page_inlines()


def series_form(study: Study, label: str, order: int = 7, **extra) -> dict:
    return {
        "study": str(study.pk),
        "label": label,
        "finding": "",
        "order": str(order),
        "teaching_preset": "",
        "teaching_slice": "",
        "teaching_zoom": "1",
        **IMAGES_INLINE,
        **extra,
    }


def study_form(case: Case, time_label: str, modality: str = "CT") -> dict:
    return {"case": str(case.pk), "modality": modality, "time_label": time_label, "order": "9"}


def upload() -> dict:
    return {"upload": SimpleUploadedFile("gate.png", png(), "image/png")}


def change(model: str, obj) -> str:
    return reverse(f"admin:imaging_{model}_change", args=[obj.pk])


def case_with_a_new_study(w, t: str) -> tuple[str, dict]:
    """The case's change page as an editor sees it, posted back with one more row under "Studies"."""
    case = w.case[t]
    url = reverse("admin:cases_case_change", args=[case.pk])
    editor = Client()
    editor.force_login(w.users["editor"])
    data = form_data(editor.get(url))
    row = int(data["studies-TOTAL_FORMS"])
    data["studies-TOTAL_FORMS"] = str(row + 1)
    data |= {
        f"studies-{row}-id": "",
        f"studies-{row}-case": str(case.pk),
        f"studies-{row}-order": "0",
        f"studies-{row}-modality": "CT",
        f"studies-{row}-time_label": "Inline study",
    }
    return url, data


def in_study(label: str, t: str, images: int = 1) -> Callable:
    def done(w) -> bool:
        series = Series.objects.filter(label=label, study=w.study[t]).first()
        return series is not None and series.images.count() == images

    return done


@dataclass(frozen=True)
class Way:
    name: str
    post: Callable  # (world, target) -> (url, data)
    done: Callable  # (world, target) -> bool: what the way attempts happened
    faculty: dict | str  # per target, or one token for every target
    editor: str = "ok"  # editors and superusers alike
    refusal: str = GATE  # the text an "E" page shows

    def expected(self, role: str, target: str) -> str:
        if role in {"anon", "resident"}:
            return "L"
        if role == "staff":
            return "403"
        if role in {"editor", "admin"}:
            return self.editor
        return self.faculty if isinstance(self.faculty, str) else self.faculty[target]


# Faculty add into their own draft only; others' drafts are not even in their queryset ("A").
INTO = {t: "ok" if t == "own_draft" else "E" for t in TARGETS}
AT = {"own_draft": "ok", "own_review": "403", "own_pub": "403"} | dict.fromkeys(
    ["other_draft", "other_review", "other_pub"], "A"
)
CASE_PAGE = {**AT, "other_review": "403", "other_pub": "403"}  # faculty see those cases, read-only

WAYS = [
    Way(
        "series add with an upload",
        lambda w, t: ("/admin/imaging/series/add/", series_form(w.study[t], "Gate series") | upload()),
        lambda w, t: in_study("Gate series", t)(w),
        INTO,
    ),
    Way(
        "series save as new with an upload",
        lambda w, t: (
            change("series", w.home_series),
            series_form(w.study[t], "Gate copy", _saveasnew="Save as new") | upload(),
        ),
        lambda w, t: in_study("Gate copy", t)(w),
        INTO,
    ),
    Way(
        "series moved in (its study changed)",
        lambda w, t: (change("series", w.home_series), series_form(w.study[t], w.home_series.label)),
        lambda w, t: Series.objects.get(pk=w.home_series.pk).study_id == w.study[t].pk,
        INTO,
    ),
    Way(
        "series moved in with an upload",
        lambda w, t: (
            change("series", w.home_series),
            series_form(w.study[t], w.home_series.label) | upload(),
        ),
        lambda w, t: in_study(w.home_series.label, t, images=2)(w),
        INTO,
    ),
    Way(
        "series moved out (to the home draft)",
        lambda w, t: (change("series", w.series[t]), series_form(w.home_study, w.series[t].label)),
        lambda w, t: Series.objects.get(pk=w.series[t].pk).study_id == w.home_study.pk,
        AT,
    ),
    Way(
        "upload on the series page",
        lambda w, t: (
            change("series", w.series[t]),
            series_form(w.study[t], w.series[t].label, order=w.series[t].order) | upload(),
        ),
        lambda w, t: w.series[t].images.count() == 2,
        AT,
    ),
    Way(
        "study add",
        lambda w, t: ("/admin/imaging/study/add/", study_form(w.case[t], "Gate study")),
        lambda w, t: Study.objects.filter(case=w.case[t], time_label="Gate study").exists(),
        INTO,
    ),
    Way(
        "study save as new",
        lambda w, t: (
            change("study", w.home_study),
            study_form(w.case[t], "Gate copy") | {"_saveasnew": "Save as new"},
        ),
        lambda w, t: Study.objects.filter(case=w.case[t], time_label="Gate copy").exists(),
        INTO,
    ),
    Way(
        "study moved in (its case changed)",
        lambda w, t: (change("study", w.home_study), study_form(w.case[t], "Initial", "MR")),
        lambda w, t: Study.objects.get(pk=w.home_study.pk).case_id == w.case[t].pk,
        INTO,
    ),
    Way(
        "study moved out (to the home draft)",
        lambda w, t: (change("study", w.study[t]), study_form(w.home, "Moved out", "MR")),
        lambda w, t: Study.objects.get(pk=w.study[t].pk).case_id == w.home.pk,
        AT,
    ),
    Way(
        "study added in the case page's inline",
        case_with_a_new_study,
        lambda w, t: Study.objects.filter(case=w.case[t], time_label="Inline study").exists(),
        CASE_PAGE,
    ),
    Way(
        "image moved (its series posted)",
        lambda w, t: (
            change("image", w.home_image),
            {
                "caption": "",
                "order": str(w.home_image.order),
                "series": str(w.series[t].pk),
                **ANNOTATIONS_INLINE,
            },
        ),
        lambda w, t: Image.objects.get(pk=w.home_image.pk).series_id == w.series[t].pk,
        "kept",
        editor="kept",
    ),
    Way(
        "image taken into the home series' inline",
        lambda w, t: (
            change("series", w.home_series),
            series_form(w.home_study, w.home_series.label, order=w.home_series.order)
            | {
                "images-TOTAL_FORMS": "1",
                "images-INITIAL_FORMS": "1",
                "images-0-id": str(w.image[t].pk),
                "images-0-series": str(w.home_series.pk),
                "images-0-order": "5",
                "images-0-caption": "taken",
            },
        ),
        lambda w, t: Image.objects.get(pk=w.image[t].pk).series_id == w.home_series.pk,
        "kept",  # a row naming another series' image is not that series' row: it is ignored
        editor="kept",
    ),
    Way(
        "image add",
        lambda w, t: (
            "/admin/imaging/image/add/",
            {"series": str(w.series[t].pk), "caption": "added", "order": "3", **ANNOTATIONS_INLINE},
        ),
        lambda w, t: Image.objects.filter(caption="added").exists(),
        "403",
        editor="403",
    ),
    Way(
        "clear-flag action",
        lambda w, t: (
            "/admin/imaging/image/",
            {"action": "clear_flag", "_selected_action": [str(w.flagged[t].pk)]},
        ),
        lambda w, t: not Image.objects.get(pk=w.flagged[t].pk).is_flagged,
        "200",
    ),
    Way(
        "delete action on series",
        lambda w, t: (
            "/admin/imaging/series/",
            {"action": "delete_selected", "_selected_action": [str(w.series[t].pk)], "post": "yes"},
        ),
        lambda w, t: not Series.objects.filter(pk=w.series[t].pk).exists(),
        "200",
    ),
]

REFUSALS = {"L", "403", "A", "E", "200"}
CELLS = [(way, target, role) for way in WAYS for target in TARGETS for role in ROLES]


def assert_refused(response, token: str, way: Way) -> None:
    status = response.status_code
    location = urlsplit(response.get("Location", "")).path
    if token == "L":
        assert status == 302 and location == reverse("admin:login"), (status, location)
    elif token == "A":
        assert status == 302 and location == reverse("admin:index"), (status, location)
    else:
        assert status == (403 if token == "403" else 200), (status, location)
    if token == "E":
        assert way.refusal in response.content.decode()


@pytest.mark.parametrize(
    ("way", "target", "role"), CELLS, ids=[f"{way.name}-{target}-{role}" for way, target, role in CELLS]
)
def test_way_in(as_role, world, media_root, way, target, role, django_capture_on_commit_callbacks):
    url, data = way.post(world, target)
    before = state(media_root)
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_role(role).post(url, data)
    run_queued_uploads(callbacks)
    token = way.expected(role, target)
    if token in REFUSALS:
        assert_refused(response, token, way)
        assert state(media_root) == before, "a refused request stored or changed something"
        assert not way.done(world, target)
        return
    assert response.status_code == 302, response.status_code
    assert urlsplit(response["Location"]).path not in {reverse("admin:login"), reverse("admin:index")}
    if token == "kept":
        assert state(media_root) == before
        assert not way.done(world, target)
    else:
        assert way.done(world, target), f"{way.name} did not happen"


def test_the_matrix_refuses_every_faculty_way_into_a_case_that_is_not_their_own_draft():
    """The rows themselves: faculty are allowed exactly into their own draft, never further."""
    for way in WAYS:
        for target in TARGETS:
            token = way.expected("faculty", target)
            if target != "own_draft":
                assert token in REFUSALS | {"kept"}, (way.name, target)


# -- Images flagged for burned-in text -------------------------------------------------------------------

# Served only to those who may review them: editors, and the case's author (fac for the own cases) while
# the case is not published; on a published case an uncleared flag keeps it from everyone but editors.
AUTHOR_SEES, EDITORS_ONLY = "404 404 404 200 200 200", "404 404 404 404 200 200"
FLAGGED = {t: AUTHOR_SEES if t in ("own_draft", "own_review") else EDITORS_ONLY for t in TARGETS}
IMAGE_URLS = ["/images/{pk}/thumb.png", "/images/{pk}/default/0.png", "/images/{pk}/default/0.thumb.png"]
VIEW_CELLS = [
    (f"flagged {t}", lambda w, t=t: w.flagged[t], FLAGGED[t], url) for t in TARGETS for url in IMAGE_URLS
] + [
    # Controls: the same views serve what is not flagged, or no longer.
    ("cleared other_pub", lambda w: w.cleared, "200 200 200 200 200 200", IMAGE_URLS[0]),
    ("unflagged other_pub", lambda w: w.image["other_pub"], "200 200 200 200 200 200", IMAGE_URLS[0]),
    ("unflagged other_review", lambda w: w.image["other_review"], "404 404 404 200 200 200", IMAGE_URLS[0]),
]
VIEW_ROWS = [
    (name, image, outcomes, url, role) for name, image, outcomes, url in VIEW_CELLS for role in ROLES
]


@pytest.mark.parametrize(
    ("name", "image", "outcomes", "url", "role"),
    VIEW_ROWS,
    ids=[f"{name} {url.split('}/')[1]}-{role}" for name, _, _, url, role in VIEW_ROWS],
)
def test_image_views(as_role, world, media_root, name, image, outcomes, url, role):
    response = as_role(role).get(url.format(pk=image(world).pk))
    assert response.status_code == int(outcomes.split()[ROLES.index(role)])
    if response.status_code == 200:
        assert response["Content-Type"] == "image/png"


def test_an_editors_upload_to_a_published_case_waits_for_an_editors_look(
    as_role, world, media_root, django_capture_on_commit_callbacks
):
    """Editors may still add to a published case; a flagged file of theirs is withheld like any other."""
    series = world.series["other_pub"]
    editor = as_role("editor")
    data = series_form(world.study["other_pub"], series.label, series.order) | upload()
    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(change("series", series), data)
    run_queued_uploads(callbacks)
    assert response.status_code == 302
    added = series.images.get(kind=Image.Kind.RASTER)
    thumb = f"/images/{added.pk}/thumb.png"
    assert as_role("anon").get(thumb).status_code == 404
    assert as_role("resident").get(thumb).status_code == 404
    assert editor.get(thumb).status_code == 200
    # The published page does not list it either, for anyone: its viewer would show a broken image.
    case_page = f"/cases/{series.study.case.slug}/"
    listed = re.compile(rf'"image": ?{added.pk}\b')  # the viewer's data names each frame's image
    assert not listed.search(as_role("anon").get(case_page).content.decode())
    assert not listed.search(editor.get(case_page).content.decode())
    editor.post("/admin/imaging/image/", {"action": "clear_flag", "_selected_action": [str(added.pk)]})
    assert as_role("anon").get(thumb).status_code == 200
    assert listed.search(as_role("anon").get(case_page).content.decode())


# -- The rule itself ------------------------------------------------------------------------------------


def test_editable_cases_is_may_edit_as_a_queryset(world):

    cases = [world.home, *world.case.values()]
    for user in [AnonymousUser(), *world.users.values()]:
        editable = set(rules.editable_cases(user).filter(pk__in=[case.pk for case in cases]))
        assert editable == {case for case in cases if rules.may_edit(user, case)}, user
    assert {case.slug for case in rules.editable_cases(world.users["faculty"])} == {
        "home-gate",
        "own-draft-gate",
    }


def test_an_action_touches_only_rows_of_cases_the_user_may_edit(as_role, world, media_root):
    """A faculty member given the right to clear flags still clears none outside their own drafts."""
    faculty = world.users["faculty"]
    faculty.user_permissions.add(Permission.objects.get(codename="clear_image_flag"))
    selected = [str(world.flagged[t].pk) for t in ["own_draft", "own_pub", "other_draft"]]
    response = as_role("faculty").post(
        "/admin/imaging/image/", {"action": "clear_flag", "_selected_action": selected}, follow=True
    )
    assert "1 image flag(s) cleared" in response.content.decode()
    assert not Image.objects.get(pk=world.flagged["own_draft"].pk).is_flagged
    assert Image.objects.get(pk=world.flagged["own_pub"].pk).is_flagged
    assert Image.objects.get(pk=world.flagged["other_draft"].pk).is_flagged


def test_a_series_may_not_illustrate_a_finding_of_another_case(as_role, world, media_root):
    finding = world.case["other_draft"].findings.get()
    response = as_role("editor").post(
        change("series", world.home_series),
        series_form(
            world.home_study, world.home_series.label, world.home_series.order, finding=str(finding.pk)
        ),
    )
    assert response.status_code == 200
    assert "This finding belongs to another case" in response.content.decode()
    assert Series.objects.get(pk=world.home_series.pk).finding_id is None
