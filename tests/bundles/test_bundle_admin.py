"""Case bundles in the admin: the export action on the case list and the import page for editors, both run
as tasks whose page shows the outcome (the immediate backend: the job is finished when its page is asked)."""

import hashlib
import html
import io
import json
import re
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.html import escape

from bundles.models import BundleJob
from cases.models import Case
from imaging.models import Image
from tests.helpers.accounts import make_user
from tests.helpers.bundle_jobs import (
    CHANGELIST,
    HAEMANGIOMA,
    as_user,
    export_action,
    job_of,
    job_page,
    quarantined_bundles,
    row_counts,
    seed_archive,
)
from tests.helpers.bundles import BAD_BUNDLES, empty_the_archive, media_files, rewrite, stored_images

pytestmark = pytest.mark.django_db

IMPORT = "/admin/cases/case/import/"
EMH, AML = "lumbosacral-mri-and-chest-ct", "acute-back-pain-29m"


@pytest.fixture
def archive(seeded):
    """The three seed cases with their sample images (real stored DICOM files)."""
    return seed_archive()


def downloaded(client: Client, response):
    """The bundle an export action's response leads to: its job's page offers the download."""
    job = job_of(response)
    page = job_page(client, job)
    assert page.status_code == 200
    url = f"/admin/cases/case/bundle-jobs/{job.pk}/download/"
    assert f'href="{url}"' in page.content.decode()
    bundle = client.get(url)
    assert bundle.status_code == 200
    assert bundle["Content-Type"] == "application/zip"
    assert bundle["Content-Disposition"].startswith('attachment; filename="cases-')
    return bundle


def bundle_of(client: Client, response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(downloaded(client, response).streaming_content)))


def exported_bytes(client: Client, *cases: Case) -> bytes:
    return b"".join(downloaded(client, export_action(client, *cases)).streaming_content)


def snapshot(media_root) -> dict:
    """Row counts of everything a bundle writes, and the stored files."""
    return {
        **row_counts(),
        "files": media_files(media_root),
    }


def upload(content: bytes, name: str = "bundle.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/zip")


def import_post(
    client: Client, content: bytes | None, on_conflict: str | None = "error", author=None, **kwargs
):
    data = {} if author is None else {"author": author}
    if content is not None:
        data["bundle"] = upload(content)
    if on_conflict is not None:
        data["on_conflict"] = on_conflict
    return client.post(IMPORT, data, **kwargs)


def page_messages(response) -> list[str]:
    """The messages the response leaves for the next page (the page it redirects to shows them)."""
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


def import_outcome(client: Client, response) -> tuple[BundleJob, str]:
    """The import job a post queued, and what its page says: the report, or the reason it failed."""
    job = job_of(response)
    page = job_page(client, job).content.decode()
    said = re.search(
        r'<p class="import-report">(.*?)</p>|<div class="errornote bundle-error"[^>]*><p>(.*?)</p>', page
    )
    assert said, page
    return job, html.unescape(said[1] or said[2])


# -- export ----------------------------------------------------------------------------------------


def test_editor_exports_only_the_selected_cases_and_import_cases_accepts_the_bundle(
    archive, editor, tmp_path, media_root
):
    selected = [archive[HAEMANGIOMA], archive[EMH]]
    client = as_user(editor)
    with bundle_of(client, export_action(client, *selected)) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        names = set(bundle.namelist())
        content = {name: bundle.read(name) for name in names}
    assert sorted(manifest["cases"]) == sorted([HAEMANGIOMA, EMH])
    assert {name for name in names if name.startswith("cases/")} == {
        f"cases/{HAEMANGIOMA}.json",
        f"cases/{EMH}.json",
    }
    assert f"cases/{AML}.json" not in names
    # Exactly the selected cases' images, byte for byte.
    expected = {i.sha256 for i in Image.objects.filter(series__study__case__in=selected)}
    assert {name.split("/")[1].split(".")[0] for name in names if name.startswith("images/")} == expected
    assert expected != {i.sha256 for i in Image.objects.all()}
    for name, checksum in manifest["files"].items():
        assert hashlib.sha256(content[name]).hexdigest() == checksum

    path = tmp_path / "selected.zip"
    path.write_bytes(exported_bytes(client, *selected))
    empty_the_archive()
    out = io.StringIO()
    call_command("import_cases", str(path), stdout=out)
    assert "Imported 2 case(s)." in out.getvalue()
    assert sorted(Case.objects.values_list("slug", flat=True)) == sorted([HAEMANGIOMA, EMH])
    assert Image.objects.count() == len(expected)


def test_faculty_cannot_export_a_colleague_draft(faculty, other_faculty, make_case, media_root):
    own = make_case(author=faculty, status=Case.Status.DRAFT, slug="own-draft")
    colleague = make_case(author=other_faculty, status=Case.Status.DRAFT, slug="colleague-draft")
    client = as_user(faculty)

    # Named alongside an own case: only the own case is in the bundle.
    with bundle_of(client, export_action(client, own, colleague)) as bundle:
        assert json.loads(bundle.read("manifest.json"))["cases"] == ["own-draft"]
        assert "cases/colleague-draft.json" not in bundle.namelist()

    # Named alone: no bundle at all.
    response = export_action(client, colleague)
    assert response.status_code == 302
    assert "Content-Disposition" not in response
    assert "None of the selected cases can be exported." in page_messages(response)

    # "Select all" exports what the list shows this user, never more.
    with bundle_of(client, export_action(client, own, select_across="1")) as bundle:
        assert json.loads(bundle.read("manifest.json"))["cases"] == ["own-draft"]

    # The colleague can export it.
    colleague_client = as_user(other_faculty)
    with bundle_of(colleague_client, export_action(colleague_client, colleague)) as bundle:
        assert json.loads(bundle.read("manifest.json"))["cases"] == ["colleague-draft"]

    # Once in review, faculty read it in the admin (the visibility rule), and so may export it.
    Case.objects.filter(pk=colleague.pk).update(status=Case.Status.IN_REVIEW)
    with bundle_of(client, export_action(client, colleague)) as bundle:
        assert json.loads(bundle.read("manifest.json"))["cases"] == ["colleague-draft"]


def test_a_resident_gets_no_bundle(archive, resident):
    response = export_action(as_user(resident), archive[HAEMANGIOMA])
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert "Content-Disposition" not in response


# -- import page: who may use it --------------------------------------------------------------------


def test_faculty_and_residents_get_403_and_the_anonymous_are_sent_to_log_in(
    archive, editor, faculty, resident, admin_user, media_root
):
    content = exported_bytes(as_user(editor), archive[HAEMANGIOMA])
    empty_the_archive()
    before = snapshot(media_root)
    for user in (faculty, resident):
        client = as_user(user)
        assert client.get(IMPORT).status_code == 403
        assert import_post(client, content).status_code == 403
    anonymous = Client()
    for response in (anonymous.get(IMPORT), import_post(anonymous, content)):
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={IMPORT}"
    assert snapshot(media_root) == before
    for user in (editor, admin_user):
        assert as_user(user).get(IMPORT).status_code == 200


def test_only_importers_see_the_import_button(editor, faculty, admin_user):
    for user, shown in ((editor, True), (admin_user, True), (faculty, False)):
        page = as_user(user).get(CHANGELIST).content.decode()
        assert (f'href="{IMPORT}"' in page) is shown, user
        assert ("Import bundle" in page) is shown


def test_the_import_page_works_under_the_strict_policy(editor):
    response = as_user(editor).get(IMPORT)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="bundle"' in page
    for policy in ("error", "skip", "rename", "replace"):
        assert f'value="{policy}"' in page
    assert re.search(r'value="error"[^>]*checked', page)  # the default overwrites nothing
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page)), "inline script"
    assert "<style" not in page


def test_the_upload_is_csrf_checked(archive, editor, media_root):
    content = exported_bytes(as_user(editor), archive[HAEMANGIOMA])
    empty_the_archive()
    before = snapshot(media_root)
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = import_post(client, content)
    assert response.status_code == 403
    assert snapshot(media_root) == before


# -- import page: what it does ---------------------------------------------------------------------


def test_editor_imports_a_bundle_round_trip(archive, editor, media_root, quarantine_root):
    client = as_user(editor)
    content = exported_bytes(client, *archive.values())
    images_before = {i.sha256 for i in Image.objects.all()}
    empty_the_archive()
    for name in media_files(media_root):
        (media_root / name).unlink()

    job, message = import_outcome(client, import_post(client, content))
    assert job.status == BundleJob.Status.DONE and (job.done, job.total) == (3, 3)
    assert message.startswith("Imported 3 case(s): ")
    assert all(slug in message for slug in archive)
    flagged = Image.objects.filter(needs_review=True).count()
    assert (
        f"They are drafts of {editor.username}, to be published after the usual checks; {flagged} image(s) "
        "wait for a burned-in text review. New diagnoses from the bundle: "
    ) in message  # the archive was emptied: every diagnosis is new
    assert sorted(Case.objects.values_list("slug", flat=True)) == sorted(archive)
    # The images came through the ingest again, re-keyed for this archive: as many, none the same file.
    assert (
        Image.objects.count() == len(images_before)
        and not {i.sha256 for i in Image.objects.all()} & images_before
    )
    assert len(stored_images(media_root)) == Image.objects.count()
    assert quarantined_bundles(quarantine_root) == []  # the bundle went once it was imported
    # Published where they came from; drafts of the importer here.
    assert archive[AML].status == Case.Status.PUBLISHED
    assert set(Case.objects.values_list("status", "author")) == {(Case.Status.DRAFT, editor.pk)}
    # The import is in each case's history, by the editor who made it.
    from authoring.history import case_versions

    version = case_versions(Case.objects.get(slug=HAEMANGIOMA)).first()
    assert version.revision.user == editor
    assert version.revision.get_comment().startswith("Imported from a case bundle")


def broken_record(entries):
    """The last case's first finding gets a field no finding has: the bundle passes every check, and
    the import fails only while writing, after the other cases' image files were stored."""
    manifest = json.loads(entries["manifest.json"])
    path = f"cases/{manifest['cases'][-1]}.json"
    case = json.loads(entries[path])
    case["findings"][0]["colour"] = "red"
    entries[path] = json.dumps(case).encode()
    manifest["files"][path] = hashlib.sha256(entries[path]).hexdigest()
    entries["manifest.json"] = json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("wrong checksum", "checksum does not match the manifest"),
        ("malformed json", "malformed JSON"),
        ("missing file", "missing from the bundle"),
        ("hostile path", "hostile path"),
        ("no manifest", "manifest.json is missing"),
        ("not de-identified", "not de-identified (PatientIdentityRemoved is not YES)"),
        ("html as png", "not a PNG file"),
        ("not a zip", "not a readable zip file"),
        ("bad record", f"case {EMH}, finding 1: unknown field(s) 'colour'"),
    ],
)
def test_a_bad_bundle_shows_the_reason_and_changes_nothing(
    archive, editor, media_root, quarantine_root, kind, reason
):
    client = as_user(editor)
    content = exported_bytes(client, *archive.values())
    if kind == "not a zip":
        content = b"<html>not a bundle</html>"
    elif kind == "bad record":
        content = rewrite(content, broken_record)
    else:
        content = rewrite(content, BAD_BUNDLES[kind])
    empty_the_archive()
    Case.objects.create(slug="stays", title="A case that stays")  # something to keep
    before = snapshot(media_root)

    response = import_post(client, content)
    job, error = import_outcome(client, response)
    assert job.status == BundleJob.Status.FAILED
    assert (
        error.startswith("Bundle rejected: ") and reason in error and error.endswith("Nothing was imported.")
    )
    assert escape(reason) in job_page(client, job).content.decode()
    assert snapshot(media_root) == before
    assert list(Case.objects.values_list("slug", flat=True)) == ["stays"]
    # The bundle waited in quarantine, and was deleted once the import had failed.
    assert job.quarantined == "" and quarantined_bundles(quarantine_root) == []


def test_conflict_policies(archive, editor, media_root, django_capture_on_commit_callbacks):
    client = as_user(editor)
    content = exported_bytes(client, archive[HAEMANGIOMA], archive[EMH])
    Case.objects.create(slug="unrelated", title="Unrelated")
    before = snapshot(media_root)

    # The default stops, names the clashing slugs and changes nothing.
    job, error = import_outcome(client, import_post(client, content, "error"))
    assert job.status == BundleJob.Status.FAILED
    assert error == (
        f"These cases exist already: {HAEMANGIOMA}, {EMH}. Nothing was imported: choose whether to skip, "
        "rename or replace them, and upload the bundle again."
    )
    assert f'href="{IMPORT}"' in job_page(client, job).content.decode()
    assert snapshot(media_root) == before

    _job, message = import_outcome(client, import_post(client, content, "skip"))
    assert message == f"Imported 0 case(s). Skipped (exist already): {HAEMANGIOMA}, {EMH}."
    assert snapshot(media_root) == before

    _job, message = import_outcome(client, import_post(client, content, "rename"))
    assert f"{HAEMANGIOMA} → {HAEMANGIOMA}-2" in message and f"{EMH} → {EMH}-2" in message
    assert Case.objects.filter(slug__in=[f"{HAEMANGIOMA}-2", f"{EMH}-2"]).count() == 2
    assert Case.objects.count() == before["Case"] + 2

    renamed = snapshot(media_root)
    old_files = set(
        Image.objects.filter(series__study__case__slug__in=[HAEMANGIOMA, EMH]).values_list("file", flat=True)
    )
    old_ids = set(Case.objects.filter(slug__in=[HAEMANGIOMA, EMH]).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = import_post(client, content, "replace")
    _job, message = import_outcome(client, response)
    assert message.startswith(f"Imported 2 case(s): {HAEMANGIOMA}, {EMH}. Replaced: {HAEMANGIOMA}, {EMH}. ")
    new_ids = set(Case.objects.filter(slug__in=[HAEMANGIOMA, EMH]).values_list("pk", flat=True))
    assert len(new_ids) == 2 and not new_ids & old_ids
    after = snapshot(media_root)
    assert {k: v for k, v in after.items() if k != "files"} == {
        k: v for k, v in renamed.items() if k != "files"
    }
    # The replaced cases' files went with them; as many stored images as image rows.
    assert not old_files & after["files"]
    assert len(stored_images(media_root)) == Image.objects.count()


def test_replacing_needs_the_right_to_delete_cases(archive, editor, media_root):
    content = exported_bytes(as_user(editor), archive[HAEMANGIOMA])
    cautious = make_user("cautious", "editor", is_staff=True)
    cautious.groups.get().permissions.remove(Permission.objects.get(codename="delete_case"))
    before = snapshot(media_root)
    response = import_post(as_user(cautious), content, "replace")
    assert response.status_code == 200
    assert "Replacing cases deletes them, which you may not do." in response.content.decode()
    assert snapshot(media_root) == before


def test_missing_fields_are_form_errors(editor, media_root):
    client = as_user(editor)
    before = snapshot(media_root)
    response = import_post(client, None, "skip")
    assert response.status_code == 200
    assert response.context["form"].errors == {"bundle": ["This field is required."]}
    response = import_post(client, b"PK", None)
    assert response.status_code == 200
    assert response.context["form"].errors == {"on_conflict": ["This field is required."]}
    response = import_post(client, b"PK", "overwrite")
    assert "on_conflict" in response.context["form"].errors
    assert snapshot(media_root) == before


def test_uploads_over_the_limit_are_refused(archive, editor, media_root, settings, monkeypatch):
    client = as_user(editor)
    content = exported_bytes(client, archive[HAEMANGIOMA])
    empty_the_archive()
    before = snapshot(media_root)
    settings.BUNDLE_UPLOAD_MAX_BYTES = len(content) - 1

    # Over the limit, within what the request may carry: reading stops at the limit.
    response = import_post(client, content)
    assert response.status_code == 413
    assert "larger than the" in response.content.decode()
    assert snapshot(media_root) == before

    # A request larger than any acceptable upload is not read at all.
    class Unreachable:
        def __init__(self, *args):
            raise AssertionError("the body was read")

    monkeypatch.setattr("bundles.admin.BundleSizeLimit", Unreachable)
    response = import_post(client, content + b"\0" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert snapshot(media_root) == before

    monkeypatch.undo()
    settings.BUNDLE_UPLOAD_MAX_BYTES = len(content)
    assert import_post(client, content).status_code == 302
    assert Case.objects.filter(slug=HAEMANGIOMA).exists()


def test_a_large_export_is_streamed_from_a_file_on_disk(archive, editor, monkeypatch):
    monkeypatch.setattr("bundles.services.SPOOL_BYTES", 1024)  # any bundle rolls over to disk
    client = as_user(editor)
    response = downloaded(client, export_action(client, *archive.values()))
    assert response.streaming
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body) > 1024
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        assert bundle.testzip() is None
        assert sorted(json.loads(bundle.read("manifest.json"))["cases"]) == sorted(archive)


# -- import page: what a bundle cannot decide -------------------------------------------------------


def javascript_reference(entries):
    """The first case gets a second reference whose link runs script."""
    manifest = json.loads(entries["manifest.json"])
    path = f"cases/{manifest['cases'][0]}.json"
    case = json.loads(entries[path])
    case["references"] = [
        {"citation": "A real source.", "url": "https://example.org/", "doi": "", "pmid": "", "order": 1},
        {
            "citation": "Click me.",
            "url": "javascript:alert(document.cookie)",
            "doi": "",
            "pmid": "",
            "order": 2,
        },
    ]
    entries[path] = json.dumps(case).encode()
    manifest["files"][path] = hashlib.sha256(entries[path]).hexdigest()
    entries["manifest.json"] = json.dumps(manifest).encode()


def test_a_javascript_link_is_refused_by_name_on_the_page(archive, editor, media_root):
    client = as_user(editor)
    content = rewrite(exported_bytes(client, archive[HAEMANGIOMA]), javascript_reference)
    empty_the_archive()
    before = snapshot(media_root)
    job, error = import_outcome(client, import_post(client, content))
    assert error == (
        f"Bundle rejected: case {HAEMANGIOMA}, reference 2: URL scheme must be http or https. "
        "Nothing was imported."
    )
    assert "javascript:" not in job_page(client, job).content.decode()  # it names the record, not the link
    assert snapshot(media_root) == before


def test_the_editor_chooses_whose_drafts_the_cases_become(archive, editor, faculty, resident, media_root):
    client = as_user(editor)
    content = exported_bytes(client, archive[HAEMANGIOMA])
    empty_the_archive()
    page = client.get(IMPORT)
    choices = {str(user) for user in page.context["form"].fields["author"].queryset}
    assert {editor.username, faculty.username} <= choices and resident.username not in choices

    before = snapshot(media_root)
    refused = import_post(client, content, author=resident.pk)  # residents write no cases
    assert "author" in refused.context["form"].errors
    assert snapshot(media_root) == before

    _job, message = import_outcome(client, import_post(client, content, author=faculty.pk))
    assert f"They are drafts of {faculty.username}" in message
    case = Case.objects.get(slug=HAEMANGIOMA)
    assert (case.author, case.status, case.published_at) == (faculty, Case.Status.DRAFT, None)


def test_import_cases_takes_an_author_and_refuses_one_who_writes_no_cases(
    archive, faculty, resident, tmp_path
):
    path = tmp_path / "one.zip"
    call_command("export_cases", str(path), "--case", HAEMANGIOMA, stdout=io.StringIO())
    empty_the_archive()
    with pytest.raises(CommandError, match="'res' may not author cases"):
        call_command("import_cases", str(path), "--author", resident.username)
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("import_cases", str(path), "--author", "nobody")
    assert not Case.objects.exists()
    out = io.StringIO()
    call_command("import_cases", str(path), "--author", faculty.username, stdout=out)
    assert f"The imported cases are drafts of {faculty.username}" in out.getvalue()
    assert Case.objects.get().author == faculty
