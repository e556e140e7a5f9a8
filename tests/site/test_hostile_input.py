"""Hostile input to every form and upload: each gives a clear answer (a form error, 400, 403 or 404,
never a 500) and changes nothing — no row (counted over every model, compared row by row for the
archive's own tables) and no stored file.

Already covered elsewhere, and not repeated here:

- script, event handlers, ``javascript:``/``data:`` URLs, style, SVG and MathML in every markdown and
  plain field: ``test_authoring_pages.py`` (``test_no_markdown_field_can_inject_script_handlers_unsafe_``
  ``urls_or_style``, ``test_the_editor_refuses_a_reference_url_that_is_not_http_or_https``);
- a failed case save keeps what was typed, each error beside its field (age 300, bad slug, empty finding):
  ``test_authoring_admin.py`` (``test_a_failed_save_keeps_what_was_typed_and_shows_each_error_by_its_``
  ``field``, ``test_two_rows_with_the_same_order_are_an_error_not_a_crash``,
  ``test_posting_a_status_changes_nothing``);
- a search query over 200 characters, the query escaped wherever it is shown: ``test_search.py``
  (``test_too_long_query_is_reported_and_not_applied``, ``test_the_query_is_escaped_wherever_it_is_``
  ``shown``); invalid list filters: ``test_filters.py`` (``test_invalid_filters_are_reported_and_not_``
  ``applied``, ``test_reversed_age_range_is_reported``);
- the reveal without CSRF, a 201-character answer, someone else's attempt or session:
  ``test_quiz_views.py`` (``test_reveal_without_a_csrf_token_is_refused``,
  ``test_an_invalid_answer_is_refused_without_revealing``,
  ``test_nobody_can_override_or_reopen_someone_elses_attempt``),
  ``test_quiz_sessions.py::test_a_session_is_its_owners_alone``;
- a wrong password: ``test_pages.py::test_login_with_a_wrong_password_says_so``;
- hostile files through the ingest service (non-DICOM ``.dcm``, empty, truncated, HTML or SVG as PNG,
  pixel and zip bombs, ``..``/absolute/nested zip entries, huge DICOM header, unsupported transfer
  syntax): ``test_imaging_ingest.py``; a non-DICOM file through the admin upload:
  ``test_imaging_admin.py::test_admin_upload_of_several_files_ingests_and_reports``;
- bundles (not a zip, bad checksums or paths, missing fields, over the size limit, CSRF):
  ``test_bundles.py``, ``test_bundle_admin.py``.

Found here and fixed (``cases/admin_forms.py``): a case form posted with an id that is not a number
(``final_diagnosis=abc``, ``regions=abc``, a differential item's ``diagnosis=abc``) or beyond 64 bits was a
500 (Django's autocomplete widget and multiple choice query the raw value); ``Diagnosis.synonyms`` accepted
any JSON (an object, a string, numbers), which then broke matching and search (``[1]`` was a 500).
"""

import io
import re
import zipfile

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from PIL import Image as PILImage

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from imaging.models import Annotation, Image, Series, Study, Upload
from quiz.models import QuizAttempt, ReviewCard
from tests.helpers.accounts import make_user
from tests.helpers.authoring import FAST_HASHERS, complete_case, form_data, new_case_data
from tests.helpers.sessions import client_as, sessions_for
from tests.helpers.viewer import image_page_inlines, post_upload, series_admin_form

# One group (`make test` runs with --dist loadgroup): the module's world is built by one worker, not by each.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("hostile-input")]

ADMIN = "/admin/cases/case/"
TEN_K = "x" * 10_000
SCRIPT = "<script>alert(1)</script>"
HUGE_INT = "99999999999999999999"


# -- The world, built once for the module ----------------------------------------------------------------


@pytest.fixture(scope="module")
def world_media(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-media")


@pytest.fixture
def media_root(settings, world_media):
    settings.MEDIA_ROOT = world_media
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return world_media


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, world_media):
    settings = override_settings(MEDIA_ROOT=world_media, PASSWORD_HASHERS=FAST_HASHERS)
    with django_db_blocker.unblock(), settings, transaction.atomic():
        users = {
            "resident": make_user("res", "resident"),
            "faculty": make_user("fac", "faculty", is_staff=True),
            "editor": make_user("edi", "editor", is_staff=True),
            "admin": make_user("root", is_staff=True, is_superuser=True),
        }
        published = complete_case(
            slug="published-case", status=Case.Status.PUBLISHED, author=users["faculty"]
        )
        draft = complete_case(slug="own-draft", author=users["faculty"])
        other = complete_case(slug="other-draft", author=users["editor"])
        region = Region.objects.create(name="Pelvis", slug="pelvis")
        image = Image.objects.get(series__study__case=draft)
        yield {
            **users,
            "sessions": sessions_for(users),
            "published": published,
            "draft": draft,
            "other": other,
            "region": region,
            "image": image,
            "series": image.series,
            "other_finding": other.findings.get(),
            "draft_finding": draft.findings.get(),
        }
        transaction.set_rollback(True)


@pytest.fixture
def as_user(client, world):
    def log_in(role: str | None):
        return client_as(world["sessions"][role] if role else None, client)

    return log_in


# -- Nothing changed -------------------------------------------------------------------------------------

# Compared row by row; every other model (auth, reversion, taggit …) is compared by its count.
CONTENT_MODELS = [
    Case, Finding, DifferentialItem, Reference, Diagnosis, Region,
    Study, Series, Image, Upload, Annotation, QuizAttempt, ReviewCard,
]  # fmt: skip
IGNORED = {"sessions.Session"}  # a session is written on any visit; quiz sessions are tested by the rows


def snapshot(media_root, *, ignore=(), files: bool = True) -> dict:
    state = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.label not in IGNORED | set(ignore) and model._meta.managed
    }
    for model in CONTENT_MODELS:
        if model._meta.label not in ignore:
            state[f"{model._meta.label} rows"] = list(model._default_manager.order_by("pk").values())
    if files:
        state["files"] = sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())
    return state


def assert_same(before: dict, after: dict) -> None:
    changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
    assert not changed, f"changed: {sorted(changed)}"


def assert_clear(response, status: int, *messages: str) -> str:
    assert response.status_code == status, (response.status_code, response.get("Location"))
    body = response.content.decode(errors="replace")
    for message in messages:
        assert message in body, message
    assert SCRIPT not in body  # whatever was sent is never echoed unescaped
    return body


def csrf_client(
    client_with_session: Client | None = None, url: str = "/accounts/login/"
) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    if client_with_session is not None:
        client.cookies = client_with_session.cookies
    html = client.get(url).content.decode()
    return client, re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


# -- Public pages: the search box and the list filters ---------------------------------------------------

NOT_APPLIED = "Some filters were not applied"


@pytest.mark.parametrize("role", [None, "editor"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"q": TEN_K}, NOT_APPLIED),
        ({"q": "hip\x00pain"}, NOT_APPLIED),
        ({"q": "\x00"}, NOT_APPLIED),
        ({"q": "' OR 1=1 --"}, ""),
        ({"q": "a & b | !c <-> d:* (e"}, ""),  # PostgreSQL tsquery operators
        ({"q": "%_\\ .* [(?"}, ""),  # LIKE wildcards, regular expression syntax
        ({"q": "\u202e\U0001f9b4 e\u0301 \ufeff\u200b"}, ""),  # RTL override, emoji, combining mark, BOM
        ({"q": SCRIPT}, ""),
        ({"q": ["back", "pain"]}, ""),
        ({"age_min": "abc", "age_max": HUGE_INT}, NOT_APPLIED),
        ({"age_min": "-5", "age_max": "1e3"}, NOT_APPLIED),
        ({"page": "-1"}, ""),
        ({"page": "99999"}, ""),
        ({"page": "abc"}, ""),
        ({"page": HUGE_INT}, ""),
        ({"region": SCRIPT}, NOT_APPLIED),
        ({"sex": SCRIPT, "modality": "\x00"}, NOT_APPLIED),
        ({"tag": " " * 1000, "diagnosis": TEN_K}, ""),
        ({"region": "no-such-region", "diagnosis": "no-such-diagnosis", "tag": "no-such-tag"}, ""),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_the_search_box_and_list_filters_take_any_input(as_user, world, media_root, role, query, message):
    client = as_user(role)
    before = snapshot(media_root)
    assert_clear(client.get("/cases/", query), 200, message)
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/regions/pelvis/?page=-1", 200),
        ("/regions/pelvis/?page=abc", 200),
        (f"/regions/pelvis/?page={HUGE_INT}", 200),
        ("/diagnoses/?page=abc&q=\x00", 200),
        ("/tags/no-such-tag/", 404),
        ("/tags/%3Cscript%3E/", 404),
        ("/cases/%00/", 404),
        (f"/cases/{'a' * 5000}/", 404),
        (f"/diagnoses/{'a' * 5000}/", 404),
        (f"/images/{HUGE_INT}/thumb.png", 404),
        (f"/images/{HUGE_INT}/default/0.png", 404),
        ("/images/{image}/default/" + HUGE_INT + ".png", 404),
        ("/images/{image}/%3Cscript%3E/0.png", 404),
        ("/images/{image}/no_such_preset/0.png", 404),
        ("/quiz/session/not-a-uuid/", 404),
        ("/quiz/session/00000000-0000-0000-0000-000000000000/score/", 404),
        ("/cases/published-case/quiz/?attempt=not-a-uuid&session=" + SCRIPT, 200),
        ("/cases/published-case/quiz/?attempt=" + TEN_K, 200),
    ],
)
def test_odd_urls_and_parameters_answer_clearly(as_user, world, media_root, url, status):
    client = as_user("editor")
    before = snapshot(media_root, files=False)  # an image view may render (and cache) a frame
    assert_clear(client.get(url.format(image=world["image"].pk)), status)
    assert_same(before, snapshot(media_root, files=False))


# -- The quiz: the reveal, the override, the session start and the review --------------------------------


@pytest.mark.parametrize("role", [None, "resident"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"guess": TEN_K}, "Ensure this value has at most 200 characters"),
        ({"guess": "hae\x00mangioma"}, "Null characters are not allowed"),
        ({"guess": "chordoma", "differential_2": TEN_K}, "Ensure this value has at most 200 characters"),
        ({"guess": "chordoma", "differential_1": "\x00"}, "Null characters are not allowed"),
        ({"guess": "chordoma", "session": "not-a-uuid"}, "Enter a valid UUID"),
        ({"guess": "chordoma", "session": SCRIPT}, "Enter a valid UUID"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_reveal_is_a_400_and_records_nothing(as_user, world, media_root, role, data, message):
    client = as_user(role)
    before = snapshot(media_root)
    body = assert_clear(client.post("/cases/published-case/quiz/", data), 400, message)
    assert "Chordoma" not in body  # the answer stays on the server
    assert_same(before, snapshot(media_root))
    assert not any(key.startswith("quiz") for key in client.session.keys())  # noqa: SIM118 (no __iter__)


@pytest.mark.parametrize("too_much", ["body", "fields"])
def test_an_oversized_reveal_is_a_400(as_user, world, media_root, settings, too_much):
    client = as_user("resident")
    if too_much == "body":
        data = {"guess": "g" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    else:
        data = {f"field{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    before = snapshot(media_root)
    assert client.post("/cases/published-case/quiz/", data).status_code == 400
    assert_same(before, snapshot(media_root))


def test_an_empty_or_missing_answer_is_marked_wrong_not_an_error(as_user, world, media_root):
    """By design (README, Quiz): an empty answer is an answer, marked wrong."""
    client = as_user("resident")
    response = client.post("/cases/published-case/quiz/", {})
    assert response.status_code == 200
    assert QuizAttempt.objects.get(user=world["resident"]).mark == "wrong"


def test_script_in_an_answer_is_shown_escaped(as_user, world):
    client = as_user("resident")
    body = assert_clear(
        client.post("/cases/published-case/quiz/", {"guess": SCRIPT, "differential_1": SCRIPT}), 200
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.parametrize(
    "data",
    [
        {"attempt": "not-a-uuid", "override": "correct"},
        {"attempt": "{own}", "override": "excellent"},
        {"attempt": "{own}", "override": SCRIPT},
        {"attempt": TEN_K, "override": "correct"},
        {"override": "correct"},
        {"attempt": "{own}", "override": "correct\x00"},
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_override_is_a_404_and_changes_nothing(as_user, world, media_root, data):
    client = as_user("resident")
    client.post("/cases/published-case/quiz/", {"guess": "osteoma"})
    own = str(QuizAttempt.objects.get(user=world["resident"]).token)
    before = snapshot(media_root)
    data = {key: value.format(own=own) for key, value in data.items()}
    assert_clear(client.post("/cases/published-case/quiz/override/", data), 404)
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"count": "abc"}, "Select a valid choice"),
        ({"count": "7"}, "Select a valid choice"),
        ({"count": HUGE_INT}, "Select a valid choice"),
        ({"count": "-5"}, "Select a valid choice"),
        ({}, "This field is required"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_quiz_start_is_a_400_with_the_form_errors(as_user, world, media_root, data, message):
    client = as_user("resident")
    before = snapshot(media_root)
    assert_clear(client.post("/quiz/", data), 400, message)
    assert_same(before, snapshot(media_root))
    assert not any(key.startswith("quiz") for key in client.session.keys())  # noqa: SIM118 (no __iter__)


@pytest.mark.parametrize(
    "data",
    [
        {"count": "5", "region": SCRIPT},
        {"count": "5", "region": TEN_K, "modality": "\x00"},
        {"count": "5", "diagnosis": "no-such-diagnosis", "tag": "no-such-tag"},
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_quiz_start_choice_no_published_case_has_is_a_friendly_message(as_user, world, media_root, data):
    client = as_user("resident")
    before = snapshot(media_root)
    assert_clear(client.post("/quiz/", data), 200, "No published case matches these choices now")
    assert_same(before, snapshot(media_root))
    assert not any(key.startswith("quiz") for key in client.session.keys())  # noqa: SIM118 (no __iter__)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/quiz/", {"count": "5"}),
        ("/quiz/review/", {}),
        ("/cases/published-case/quiz/override/", {"attempt": "00000000-0000-0000-0000-000000000000"}),
        ("/accounts/login/", {"username": "res", "password": "pw-for-tests-only"}),
        ("/accounts/logout/", {}),
    ],
)
def test_every_public_form_is_csrf_checked(world, media_root, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["resident"])
    before = snapshot(media_root)
    assert client.post(url, data).status_code == 403
    assert_same(before, snapshot(media_root))


# -- The log-in form -------------------------------------------------------------------------------------

LOGIN_FAILED = "Please enter a correct username and password"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": TEN_K, "password": "x"}, LOGIN_FAILED),
        ({"username": "res\x00", "password": "pw-for-tests-only"}, "Null characters are not allowed"),
        ({"username": "res", "password": "x" * 100_000}, LOGIN_FAILED),
        ({"username": SCRIPT, "password": SCRIPT}, LOGIN_FAILED),
        ({"username": "res' OR '1'='1", "password": "' OR '1'='1"}, LOGIN_FAILED),
        ({}, "This field is required"),
        ({"username": "res"}, "This field is required"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_login_says_why_and_logs_nobody_in(world, media_root, data, message):
    client, token = csrf_client()
    # A failed log-in is counted by the log-in throttling (django-axes): that is its purpose.
    throttling = {"axes.AccessAttempt", "axes.AccessFailureLog"}
    before = snapshot(media_root, ignore=throttling)
    response = client.post("/accounts/login/", {**data, "csrfmiddlewaretoken": token})
    assert_clear(response, 200, message)
    assert "_auth_user_id" not in client.session
    assert_same(before, snapshot(media_root, ignore=throttling))


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", TEN_K]
)
def test_login_never_redirects_off_site(world, next_url):
    client, token = csrf_client()
    response = client.post(
        "/accounts/login/?" + f"next={next_url}",
        {"username": "res", "password": "pw-for-tests-only", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_logout_by_get_is_refused(as_user):
    client = as_user("resident")
    assert client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in client.session


# -- The case editor -------------------------------------------------------------------------------------


ONE_FINDING = {
    "findings-TOTAL_FORMS": "1",
    "findings-0-modality": "MR",
    "findings-0-text": "x",
    "findings-0-order": "1",
}
CASE_FIELD_ERRORS = [
    ({"title": "t" * 201}, "Ensure this value has at most 200 characters"),
    ({"title": ""}, "This field is required"),
    ({"slug": ""}, "This field is required"),
    ({"slug": "not a slug " + SCRIPT}, "Enter a valid “slug”"),
    ({"slug": "s" * 121}, "Ensure this value has at most 120 characters"),
    ({"age": "abc"}, "Enter a whole number"),
    ({"age": "-1"}, "Ensure this value is greater than or equal to 0"),
    ({"age": "131"}, "Ensure this value is less than or equal to 130"),
    ({"age": HUGE_INT}, "Ensure this value is less than or equal to"),
    ({"age": "3.5"}, "Enter a whole number"),
    ({"sex": "X"}, "Select a valid choice"),
    ({"sex": SCRIPT}, "Select a valid choice"),
    ({"diagnosis_certainty": "certain"}, "Select a valid choice"),
    ({"licence": "l" * 301}, "Ensure this value has at most 300 characters"),
    ({"clinical_history": "history \x00"}, "Null characters are not allowed"),
    ({"findings-TOTAL_FORMS": "abc"}, "ManagementForm data is missing or has been tampered with"),
    ({**ONE_FINDING, "findings-0-modality": SCRIPT}, "Select a valid choice"),
    ({**ONE_FINDING, "findings-0-order": "-1"}, "Ensure this value is greater than or equal to 0"),
    ({**ONE_FINDING, "findings-0-order": "abc"}, "Enter a whole number"),
    ({**ONE_FINDING, "findings-0-text": "\x00"}, "Null characters are not allowed"),
    # Ids that no row has, ids that are not numbers, ids beyond 64 bits.
    ({"final_diagnosis": "999999"}, "Select a valid choice"),
    ({"final_diagnosis": "abc"}, "Select a valid choice"),
    ({"final_diagnosis": HUGE_INT}, "Select a valid choice"),
    ({"regions": ["abc"]}, "Select a valid choice"),
    ({"regions": [HUGE_INT]}, "Select a valid choice"),
    ({"differential_items-TOTAL_FORMS": "1", "differential_items-0-diagnosis": "abc",
      "differential_items-0-order": "1"}, "Select a valid choice"),
    ({"regions": ["999999"]}, "Select a valid choice"),
    ({"differential_items-TOTAL_FORMS": "1", "differential_items-0-diagnosis": "999999",
      "differential_items-0-order": "1"}, "Select a valid choice"),
    ({"references-TOTAL_FORMS": "1", "references-0-citation": "c", "references-0-url": "not a url",
      "references-0-order": "1"}, "Enter a valid URL"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), CASE_FIELD_ERRORS, ids=lambda value: repr(value)[:40])
def test_a_bad_new_case_is_a_form_error_and_creates_nothing(as_user, world, media_root, changes, message):
    client = as_user("faculty")
    before = snapshot(media_root)
    response = client.post(f"{ADMIN}add/", new_case_data(**changes))
    assert_clear(response, 200, message)
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize(("changes", "message"), CASE_FIELD_ERRORS, ids=lambda value: repr(value)[:40])
def test_a_bad_case_edit_is_a_form_error_and_changes_nothing(as_user, world, media_root, changes, message):
    client = as_user("faculty")
    case = world["draft"]
    data = form_data(client.get(f"{ADMIN}{case.pk}/change/"))
    if any(key.startswith("findings-0") for key in changes):
        changes = {**changes, "findings-TOTAL_FORMS": "2", "findings-1-case": str(case.pk)}
        changes = {key.replace("findings-0", "findings-1"): value for key, value in changes.items()}
    for prefix in ["differential_items", "references"]:
        if f"{prefix}-TOTAL_FORMS" in changes:
            total = int(data[f"{prefix}-TOTAL_FORMS"])
            changes = {
                key.replace(f"{prefix}-0", f"{prefix}-{total}"): value
                for key, value in {
                    **changes,
                    f"{prefix}-TOTAL_FORMS": str(total + 1),
                    f"{prefix}-0-case": str(case.pk),
                }.items()
            }
    before = snapshot(media_root)
    response = client.post(f"{ADMIN}{case.pk}/change/", {**data, **changes})
    assert_clear(response, 200, message)
    assert_same(before, snapshot(media_root))


def test_a_forged_management_form_is_an_error_not_a_crash(as_user, world, media_root):
    client = as_user("faculty")
    case = world["draft"]
    data = form_data(client.get(f"{ADMIN}{case.pk}/change/"))
    before = snapshot(media_root)
    for forged in [
        {"findings-TOTAL_FORMS": "100000"},
        {"findings-0-id": HUGE_INT},
        {"findings-0-id": "abc"},
        {"findings-0-case": str(world["other"].pk)},
    ]:
        response = client.post(f"{ADMIN}{case.pk}/change/", {**data, **forged})
        assert response.status_code == 200, forged
        assert "errornote" in response.content.decode(), forged
    assert_same(before, snapshot(media_root))


def test_a_workflow_note_with_a_null_character_is_a_form_error(as_user, world, media_root):
    client = as_user("faculty")
    before = snapshot(media_root)
    response = client.post(f"{ADMIN}{world['draft'].pk}/workflow/submit/", {"note": "please\x00"})
    assert_clear(response, 200, "Null characters are not allowed")
    assert_same(before, snapshot(media_root))


def test_an_oversized_request_body_is_a_400(as_user, world, media_root, settings):
    client = as_user("faculty")
    before = snapshot(media_root)
    note = "n" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert client.post(f"{ADMIN}{world['draft'].pk}/workflow/submit/", {"note": note}).status_code == 400
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize(
    "query",
    [
        {"q": "\x00"},
        {"q": TEN_K},
        {"o": "abc"},
        {"o": "99.-42"},
        {"status__exact": SCRIPT},
        {"modality": SCRIPT},
        {"regions__id__exact": "abc"},
        {"author__id__exact": HUGE_INT},
        {"p": "-1"},
        {"p": HUGE_INT},
        {"no_such_field__gte": "1"},
    ],
    ids=lambda value: repr(value)[:40],
)
def test_the_case_list_in_the_admin_takes_any_parameter(as_user, world, media_root, query):
    client = as_user("editor")
    before = snapshot(media_root)
    response = client.get(ADMIN, query)
    assert response.status_code in {200, 302}, response.status_code  # 302: Django's "?e=1" for a bad lookup
    if response.status_code == 302:
        assert response["Location"] == f"{ADMIN}?e=1"
    assert SCRIPT not in response.content.decode()
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize(
    "query",
    [{"from": "abc", "to": SCRIPT}, {"from": HUGE_INT, "to": HUGE_INT}, {"from": "\x00", "to": "1"}],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_version_comparison_is_a_404(as_user, world, media_root, query):
    client = as_user("editor")
    assert_clear(client.get(f"{ADMIN}{world['draft'].pk}/versions/", query), 404)


# -- Diagnoses and regions -------------------------------------------------------------------------------


def new_diagnosis(**fields) -> dict:
    return {"name": "Osteoid osteoma", "slug": "osteoid-osteoma", "synonyms": "", **fields}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "n" * 201}, "Ensure this value has at most 200 characters"),
        ({"name": ""}, "This field is required"),
        ({"name": "Chordoma"}, "already exists"),
        ({"slug": "chordoma"}, "already exists"),
        ({"slug": SCRIPT}, "Enter a valid “slug”"),
        ({"synonyms": "osteoma, " + "o" * 201}, "A name is at most 200 characters"),
        ({"accepted_answers": "o" * 201}, "A name is at most 200 characters"),
        ({"summary_source": "s" * 501}, "Ensure this value has at most 500 characters"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_diagnosis_is_a_form_error_and_creates_nothing(as_user, world, media_root, changes, message):
    client = as_user("editor")
    before = snapshot(media_root)
    response = client.post("/admin/cases/diagnosis/add/", new_diagnosis(**changes))
    assert_clear(response, 200, message)
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "r" * 101}, "Ensure this value has at most 100 characters"),
        ({"slug": "pelvis"}, "already exists"),
        ({"order": "-1"}, "Ensure this value is greater than or equal to 0"),
        ({"parent": HUGE_INT}, "Select a valid choice"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_region_is_a_form_error_and_creates_nothing(as_user, world, media_root, changes, message):
    client = as_user("editor")
    before = snapshot(media_root)
    response = client.post(
        "/admin/cases/region/add/", {"name": "Hip", "slug": "hip", "order": "1", **changes}
    )
    assert_clear(response, 200, message)
    assert_same(before, snapshot(media_root))


# -- Series: the upload and the teaching view ------------------------------------------------------------


def png_of(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("L", size, 0).save(buffer, "PNG")
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


HOSTILE_UPLOADS = {
    "page.png": b"<!doctype html><html><script>alert(1)</script></html>",
    "drawing.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "photo.jpg": b"\xff\xd8\xff\xe0 not really a jpeg",
    "bomb.png": png_of((20_000, 20_000)),
    "escape.zip": zip_of({"../../etc/evil.dcm": b"DICM"}),
    "nested.zip": zip_of({"inner.zip": zip_of({"a.dcm": b"DICM"})}),
    "zipbomb.zip": zip_of({"zeros.dcm": b"\0" * 50_000_000}),
    "script.exe": b"MZ\x90\x00 not an image",
}


@pytest.mark.parametrize("name", list(HOSTILE_UPLOADS))
def test_a_hostile_file_through_the_admin_upload_is_rejected_with_its_reason(
    as_user, world, media_root, name, django_capture_on_commit_callbacks
):
    client = as_user("faculty")
    series = world["series"]
    # The upload report (an Upload row) and the admin's log entry record the attempt; nothing else changes.
    before = snapshot(media_root, ignore=["imaging.Upload", "admin.LogEntry"])
    upload = SimpleUploadedFile(name, HOSTILE_UPLOADS[name])
    url = f"/admin/imaging/series/{series.pk}/change/"
    data = series_admin_form(series, [series.images.get()], upload=[upload])
    _, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    body = assert_clear(page, 200, f"1 file(s) queued (1 {name})")  # its name, said once; then its place
    rejected = re.search(r"Rejected file 1\S*( \(sha256 \w+…\))?: \S", body)
    assert rejected, body[body.find("Rejected") - 200 :][:600]
    assert "0 accepted, 1 rejected" in body
    assert_same(before, snapshot(media_root, ignore=["imaging.Upload", "admin.LogEntry"]))


def test_a_file_over_the_size_limit_through_the_admin_upload_is_rejected(
    as_user, world, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("imaging.inputs.MAX_FILE_BYTES", 1000)  # the real limit is 512 MB
    client = as_user("faculty")
    series = world["series"]
    before = snapshot(media_root, ignore=["imaging.Upload", "admin.LogEntry"])
    upload = SimpleUploadedFile("big.dcm", b"\0" * 2000)
    url = f"/admin/imaging/series/{series.pk}/change/"
    data = series_admin_form(series, [series.images.get()], upload=[upload])
    _, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    assert_clear(page, 200, "Rejected file 1: file of 2000 bytes is over the 1000-byte limit")
    assert_same(before, snapshot(media_root, ignore=["imaging.Upload", "admin.LogEntry"]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "l" * 10_000}, "Ensure this value has at most"),
        ({"label": ""}, "This field is required"),
        ({"teaching_slice": "abc"}, "Enter a whole number"),
        ({"teaching_slice": "999"}, ""),
        ({"teaching_slice": HUGE_INT}, ""),
        ({"teaching_zoom": "nan"}, "Enter a number"),
        ({"teaching_zoom": "inf"}, "Enter a number"),
        ({"teaching_zoom": "-1"}, ""),
        ({"teaching_zoom": "abc"}, "Enter a number"),
        ({"teaching_preset": SCRIPT}, "Select a valid choice"),
        ({"order": "-1"}, "Ensure this value is greater than or equal to 0"),
        ({"study": HUGE_INT}, "Select a valid choice"),
        ({"study": "{other_study}"}, "Select a valid choice"),
        ({"finding": "{other_finding}"}, "Select a valid choice"),
        ({"images-0-caption": "c" * 301}, "Ensure this value has at most 300 characters"),
        ({"images-0-order": "abc"}, "Enter a whole number"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_series_form_is_a_form_error_and_changes_nothing(as_user, world, media_root, changes, message):
    client = as_user("faculty")
    series = world["series"]
    other_study = Study.objects.get(case=world["other"])
    changes = {
        key: value.format(other_study=other_study.pk, other_finding=world["other_finding"].pk)
        for key, value in changes.items()
    }
    before = snapshot(media_root)
    response = client.post(
        f"/admin/imaging/series/{series.pk}/change/",
        series_admin_form(series, [series.images.get()], **changes),
    )
    body = assert_clear(response, 200, message)
    assert "errornote" in body or "errorlist" in body
    assert_same(before, snapshot(media_root))


# -- Arrows and labels on an image -----------------------------------------------------------------------


def annotation_form(image: Image, **row) -> dict:
    data = {
        "caption": image.caption,
        "order": str(image.order),
        **image_page_inlines(annotations=1),
    }
    arrow = {
        "frame": "1",  # frames count from 1 in the form; stored from 0
        "kind": "arrow",
        "x": "0.5",
        "y": "0.5",
        "tail_x": "0.8",
        "tail_y": "0.2",
        "text": "",
    }
    data.update({f"annotations-0-{key}": value for key, value in {**arrow, **row}.items()})
    data["annotations-0-image"] = str(image.pk)
    return data


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"x": "abc"}, "Enter a number"),
        ({"x": "5"}, "Constraint"),
        ({"y": "-0.1"}, "Constraint"),
        ({"x": "nan"}, "Enter a number"),
        ({"x": "1e309"}, "Enter a number"),
        ({"tail_x": ""}, "Constraint"),
        ({"tail_y": "2"}, "Constraint"),
        ({"kind": SCRIPT}, "Select a valid choice"),
        ({"kind": "label", "text": ""}, "Constraint"),
        ({"frame": "0"}, "Ensure this value is greater than or equal to 1"),
        ({"frame": "2"}, "This image has 1 frame(s); choose 1 to 1."),
        ({"frame": "abc"}, "Enter a whole number"),
        ({"text": "t" * 121}, "Ensure this value has at most 120 characters"),
        ({"text": "arrow\x00"}, "Null characters are not allowed"),
        ({"finding": "{other_finding}"}, "Select a valid choice"),
        ({"finding": "abc"}, "Select a valid choice"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_bad_annotation_is_a_form_error_and_changes_nothing(as_user, world, media_root, row, message):
    client = as_user("faculty")  # the author of the draft the image belongs to
    image = world["image"]
    row = {key: value.format(other_finding=world["other_finding"].pk) for key, value in row.items()}
    before = snapshot(media_root)
    response = client.post(f"/admin/imaging/image/{image.pk}/change/", annotation_form(image, **row))
    assert_clear(response, 200, message)
    assert_same(before, snapshot(media_root))


@pytest.mark.parametrize("role", ["faculty", "editor", "admin"])
def test_a_good_annotation_is_saved(as_user, world, role):
    """The form the bad rows are sent through does save a sound row, so each refusal above is the input's;
    the draft's author and editors may draw arrows (imaging.0004_annotation_roles)."""
    client = as_user(role)
    image = world["image"]
    data = annotation_form(image, finding=str(world["draft_finding"].pk))
    response = client.post(f"/admin/imaging/image/{image.pk}/change/", data)
    assert response.status_code == 302
    assert Annotation.objects.filter(image=image).count() == 1
    assert Annotation.objects.get(image=image).frame == 0  # "frame 1" in the form is the first frame
