"""Revision history: every admin save is a version; two versions compare field by field; one restores."""

import pytest
from reversion.models import Version

from authoring.history import version_diff
from authoring.services import case_publish, case_submit_for_review
from cases.models import Case, DifferentialItem, Finding
from imaging.models import Image
from tests.helpers.authoring import FAST_HASHERS, complete_case, diagnosis_named, form_data

pytestmark = pytest.mark.django_db

ADMIN = "/admin/cases/case/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def change_url(case) -> str:
    return f"{ADMIN}{case.pk}/change/"


def save(client, case, **changes) -> None:
    data = form_data(client.get(change_url(case)))
    data.update(changes)
    response = client.post(change_url(case), data)
    assert response.status_code == 302, response.context["adminform"].form.errors


@pytest.fixture
def edited(client, faculty):
    """A faculty member's case saved twice in the editor: the second save changes fields and rows."""
    case = complete_case(author=faculty, discussion="Chordoma is a midline tumour.")
    client.force_login(faculty)
    save(client, case)
    diagnosis_named("Metastasis")
    data_changes = {
        "discussion": "Chordoma is a midline tumour of the sacrum.",
        "findings-0-text": "A lobulated sacral mass with high T2 signal.",
        "findings-TOTAL_FORMS": "2",
        "findings-1-modality": "CT",
        "findings-1-text": "Lytic destruction.",
        "findings-1-order": "0",
        "findings-1-case": str(case.pk),
        "differential_items-1-DELETE": "on",
        "tags": "sacrum, spine",
    }
    save(client, case, **data_changes)
    return case


def test_every_save_in_the_editor_is_a_version_with_its_rows(edited):
    versions = list(Version.objects.get_for_object(edited))
    assert len(versions) == 2
    newest = versions[0].revision.version_set.get_for_model(Finding)
    assert sorted(version.field_dict["text"] for version in newest) == [
        "A lobulated sacral mass with high T2 signal.",
        "Lytic destruction.",
    ]
    assert versions[0].revision.user.username == "fac"


def test_two_versions_differ_field_by_field_including_rows(edited):
    newest, oldest = Version.objects.get_for_object(edited)
    diff = version_diff(oldest, newest)
    changes = {change.label: (str(change.old), str(change.new)) for change in diff.case_changes}
    assert changes == {
        "Discussion": (
            "Chordoma is a midline <del>tumour.</del>",
            "Chordoma is a midline <ins>tumour of the sacrum.</ins>",
        )
    }
    groups = {group.title: group.rows for group in diff.groups}
    findings = {(row.label, row.state) for row in groups["Imaging findings"]}
    assert findings == {("MRI · Sagittal T2", "changed"), ("CT", "added")}
    changed = next(row for row in groups["Imaging findings"] if row.state == "changed")
    assert [change.label for change in changed.changes] == ["Text"]
    assert [(row.label, row.state) for row in groups["Differential diagnosis"]] == [
        ("Giant cell tumour", "removed")
    ]
    assert {(row.label, row.state) for row in groups["Tags"]} == {("sacrum", "added"), ("spine", "added")}
    assert groups["References"] == []
    assert version_diff(newest, newest).is_empty


def test_the_versions_page_compares_two_chosen_versions(client, edited):
    newest, oldest = Version.objects.get_for_object(edited)
    page = client.get(f"{ADMIN}{edited.pk}/versions/").content.decode()
    assert page.count('type="radio" name="from"') == 2
    assert f'href="{ADMIN}{edited.pk}/history/{oldest.pk}/"' in page  # restore link
    page = client.get(f"{ADMIN}{edited.pk}/versions/", {"from": oldest.pk, "to": newest.pk}).content.decode()
    assert "<ins>tumour of the sacrum.</ins>" in page
    assert "Giant cell tumour (removed)" in page and "CT (added)" in page
    assert client.get(f"{ADMIN}{edited.pk}/versions/", {"from": oldest.pk, "to": 999999}).status_code == 404


def test_a_diff_escapes_what_authors_typed(client, faculty):
    case = complete_case(author=faculty)
    client.force_login(faculty)
    save(client, case)
    save(client, case, discussion="<script>alert(1)</script>")
    newest, oldest = Version.objects.get_for_object(case)
    page = client.get(f"{ADMIN}{case.pk}/versions/", {"from": oldest.pk, "to": newest.pk}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_restoring_an_earlier_version_brings_back_fields_and_rows_but_not_its_state(
    client, faculty, editor, edited
):
    oldest = Version.objects.get_for_object(edited).last()
    image_count = Image.objects.filter(series__study__case=edited).count()
    DifferentialItem.objects.create(case=edited, diagnosis=diagnosis_named("Metastasis"), order=5)
    case_submit_for_review(case=edited, by=faculty)
    case_publish(case=edited, by=editor)
    client.force_login(editor)
    restore = f"{ADMIN}{edited.pk}/history/{oldest.pk}/"
    response = client.get(restore)
    assert response.status_code == 200
    edited.refresh_from_db()
    assert edited.discussion == "Chordoma is a midline tumour of the sacrum."  # looking changes nothing
    response = client.post(restore, form_data(response))
    assert response.status_code == 302
    edited.refresh_from_db()
    assert edited.discussion == "Chordoma is a midline tumour."
    assert list(edited.findings.values_list("text", flat=True)) == ["A lobulated sacral mass."]
    # Rows added since that version are gone again (here: Metastasis), removed ones are back.
    assert list(edited.differential_items.values_list("diagnosis__name", flat=True)) == [
        "Chordoma",
        "Giant cell tumour",
    ]
    assert list(edited.tags.names()) == []
    assert edited.status == Case.Status.PUBLISHED and edited.published_at is not None
    assert Image.objects.filter(series__study__case=edited).count() == image_count  # images stay
    latest = Version.objects.get_for_object(edited).first()
    assert latest.revision.comment.startswith("Reverted to previous version")


def test_who_sees_versions_and_who_restores(client, faculty, other_faculty, editor, resident, edited):
    oldest = Version.objects.get_for_object(edited).last()
    versions, restore = f"{ADMIN}{edited.pk}/versions/", f"{ADMIN}{edited.pk}/history/{oldest.pk}/"
    client.force_login(faculty)  # the author, draft
    assert client.get(versions).status_code == 200
    assert client.get(restore).status_code == 200
    client.force_login(other_faculty)  # a colleague's draft: not even visible
    assert client.get(versions).status_code == 404
    assert client.get(restore).status_code == 404
    assert client.get(f"{ADMIN}{edited.pk}/history/").status_code == 302
    case_submit_for_review(case=edited, by=faculty)
    assert client.get(versions).status_code == 200  # in review: colleagues may read its history …
    assert "history/" not in client.get(versions).content.decode().split("<table", 1)[1]  # … not restore it
    assert client.post(restore, {}).status_code == 403
    client.force_login(faculty)  # frozen for its author too while in review
    assert client.post(restore, {}).status_code == 403
    client.force_login(editor)
    assert client.get(restore).status_code == 200
    client.force_login(resident)
    assert client.get(versions)["Location"].startswith("/admin/login/")
    edited.refresh_from_db()
    assert edited.discussion == "Chordoma is a midline tumour of the sacrum."


def test_only_editors_may_recover_deleted_cases(client, faculty, editor):
    client.force_login(faculty)
    assert client.get(f"{ADMIN}recover/").status_code == 403
    assert "Recover deleted" not in client.get(ADMIN).content.decode()
    client.force_login(editor)
    assert client.get(f"{ADMIN}recover/").status_code == 200
    assert "Recover deleted" in client.get(ADMIN).content.decode()
