"""The inbox and the senders in the admin: who sees what, and the three actions."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Case
from receiver import tasks as tasks_module
from receiver.models import DicomSender, DicomWebSource, ReceivedStudy
from receiver.secrets import secret_decrypt
from tests.helpers.receiver import receive, sample

pytest_plugins = ["tests.helpers.receiver_fixtures"]

CHANGELIST = "admin:receiver_receivedstudy_changelist"


@pytest.fixture
def studies(sender, other_faculty):
    """One study in the sender's owner's inbox (with a thumbnail), one in another faculty member's."""
    other = DicomSender.objects.create(ae_title="PACS2", author=other_faculty)
    return receive(sender, sample("CT_small.dcm")), receive(other, sample("MR_small.dcm"))


def test_faculty_see_their_own_inbox_and_editors_every_one(client, studies, faculty, editor, resident):
    own, others = studies
    client.force_login(faculty)
    listed = client.get(reverse(CHANGELIST)).context["cl"].result_list
    assert list(listed) == [own]
    assert client.get(reverse("admin:receiver_receivedstudy_change", args=[others.pk])).status_code == 302
    page = client.get(reverse("admin:receiver_receivedstudy_change", args=[own.pk]))
    assert page.status_code == 200 and b"InstitutionName" in page.content
    client.force_login(editor)
    assert set(client.get(reverse(CHANGELIST)).context["cl"].result_list) == {own, others}
    client.force_login(resident)
    assert client.get(reverse(CHANGELIST)).status_code == 302  # to the admin's log-in: not staff


def test_a_series_thumbnail_is_served_to_the_inbox_owner_only(client, studies, faculty, other_faculty):
    own, _ = studies
    instance = own.instances.exclude(thumbnail="").get()
    url = reverse("admin:receiver_receivedstudy_thumbnail", args=[own.pk, instance.pk])
    client.force_login(faculty)
    response = client.get(url)
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    client.force_login(other_faculty)
    assert client.get(url).status_code == 404


def test_create_draft_action(client, studies, faculty):
    own, others = studies
    client.force_login(faculty)
    response = client.post(
        reverse(CHANGELIST), {"action": "create_draft", "_selected_action": [own.pk, others.pk]}, follow=True
    )
    assert response.status_code == 200
    case = Case.objects.get()  # only from the study the faculty member may use
    assert (case.author, case.status) == (faculty, Case.Status.DRAFT)
    assert ReceivedStudy.objects.get(pk=others.pk).status == ReceivedStudy.Status.READY


def test_add_to_draft_page_lists_only_the_owners_drafts(client, studies, faculty, other_faculty, make_case):
    own, _ = studies
    mine = make_case(status=Case.Status.DRAFT, author=faculty, title="Quokka draft")
    make_case(status=Case.Status.DRAFT, author=other_faculty, title="Numbat draft")
    client.force_login(faculty)
    response = client.post(reverse(CHANGELIST), {"action": "add_to_draft", "_selected_action": [own.pk]})
    page = client.get(response["Location"])
    assert b"Quokka draft" in page.content and b"Numbat draft" not in page.content
    client.post(response["Location"], {"case": mine.pk})
    assert mine.studies.get().series.get().images.count() == 1


def test_discard_action(client, studies, faculty):
    own, others = studies
    client.force_login(faculty)
    client.post(reverse(CHANGELIST), {"action": "discard", "_selected_action": [own.pk, others.pk]})
    assert list(ReceivedStudy.objects.all()) == [others]


def test_senders_are_managed_by_editors(client, faculty, editor):
    url = reverse("admin:receiver_dicomsender_add")
    client.force_login(faculty)
    assert client.get(url).status_code == 403
    client.force_login(editor)
    response = client.post(url, {"ae_title": "CT_SCANNER", "host": "10.1.2.3", "author": faculty.pk})
    assert response.status_code == 302
    assert DicomSender.objects.get().author == faculty


def test_the_inbox_list_costs_the_same_queries_for_one_study_or_many(client, sender, editor):
    client.force_login(editor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(CHANGELIST)).status_code == 200
        return len(captured)

    receive(sender, sample("CT_small.dcm"))
    one = queries()
    receive(sender, sample("MR_small.dcm"))
    receive(sender, sample("CT_small.dcm", StudyInstanceUID="1.2.3.4.5"))
    assert queries() == one


def test_faculty_pull_a_study_over_dicomweb_from_a_source_editors_configured(
    client, faculty, editor, monkeypatch
):
    client.force_login(editor)
    client.post(
        reverse("admin:receiver_dicomwebsource_add"),
        {"name": "PACS web", "url": "http://127.0.0.1:9/dicom-web", "username": "u", "password": "s3cret-pw"},
    )
    source = DicomWebSource.objects.get()
    assert secret_decrypt(source.password_encrypted) == "s3cret-pw"
    assert "s3cret-pw" not in source.password_encrypted  # stored encrypted
    in_url = client.post(
        reverse("admin:receiver_dicomwebsource_add"),
        {
            "name": "In the URL",
            "url": "http://u:s3cret-pw@127.0.0.1:9/dicom-web",
            "username": "",
            "password": "",
        },
    )
    assert b"not in the URL" in in_url.content and DicomWebSource.objects.count() == 1
    page = client.get(reverse("admin:receiver_dicomwebsource_change", args=[source.pk]))
    assert b"s3cret-pw" not in page.content  # never shown back
    client.post(
        reverse("admin:receiver_dicomwebsource_change", args=[source.pk]),
        {"name": "PACS web", "url": "http://127.0.0.1:9/dicom-web", "username": "u", "password": ""},
    )
    source.refresh_from_db()
    assert secret_decrypt(source.password_encrypted) == "s3cret-pw"  # left empty: kept
    elsewhere = client.post(
        reverse("admin:receiver_dicomwebsource_change", args=[source.pk]),
        {"name": "PACS web", "url": "http://attacker.example.org/dicom-web", "username": "u", "password": ""},
    )
    assert b"Enter the password again" in elsewhere.content  # not sent on to a new address unasked
    source.refresh_from_db()
    assert source.url == "http://127.0.0.1:9/dicom-web"
    client.force_login(faculty)
    assert client.get(reverse("admin:receiver_dicomwebsource_changelist")).status_code == 403
    url = reverse("admin:receiver_receivedstudy_pull")
    both = client.post(url, {"source": source.pk, "study_uid": "1.2.3", "accession": "A1"})
    assert b"one of the two" in both.content
    queued = []  # the pull itself is tested against Orthanc (test_receiver_orthanc.py)
    monkeypatch.setattr(
        tasks_module, "dicomweb_pull_task", SimpleNamespace(enqueue=lambda *a: queued.append(a))
    )
    assert client.post(url, {"source": source.pk, "accession": "A1234567890"}).status_code == 302
    (pull,) = ReceivedStudy.objects.filter(owner=faculty)
    assert queued == [(pull.pk,)]  # the identifier asked for is on the row, not in the task's arguments
    assert (pull.status, pull.pull_accession, pull.pull_hint) == (
        "requested",
        "A1234567890",
        "accession number ending …7890",
    )
    page = client.get(url)
    assert b"accession number ending \xe2\x80\xa67890" in page.content and b"Pull requested" in page.content
