"""The inbox's services, without the network: the gate, a draft from a study, adding to a draft
(re-keying), discarding and purging."""

from datetime import date, timedelta
from io import BytesIO, StringIO

import pydicom
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from reversion.models import Version

from cases.models import Case
from imaging.dicom.deidentify import Deidentifier
from imaging.jobs import worker_sweep
from imaging.models import DeidentificationKey, Image
from receiver import services
from receiver.models import ReceivedStudy
from tests.helpers.receiver import assert_no_planted_data, quarantined_files, receive, sample

pytest_plugins = ["tests.helpers.receiver_fixtures"]


def stored_dataset(image: Image) -> pydicom.Dataset:
    with default_storage.open(image.file.name) as stored:
        data = stored.read()
    assert_no_planted_data(data)
    return pydicom.dcmread(BytesIO(data))


def shifted(day: str, days: int) -> str:
    return (date(int(day[:4]), int(day[4:6]), int(day[6:])) + timedelta(days=days)).strftime("%Y%m%d")


@pytest.fixture
def two_slices():
    first, second = sample("CT_small.dcm", InstanceNumber=2), sample("CT_small.dcm", InstanceNumber=1)
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    return first, second


def test_a_draft_from_a_study_takes_its_key_its_series_and_its_images(
    sender, quarantine_root, two_slices, django_capture_on_commit_callbacks
):
    study = receive(sender, *two_slices)
    assert quarantined_files(quarantine_root) == []
    received = [instance.file.name for instance in study.instances.all()]
    with django_capture_on_commit_callbacks(execute=True):
        case = services.received_study_draft_create(study=study, by=sender.author)
    assert (case.status, case.author) == (Case.Status.DRAFT, sender.author)
    key = DeidentificationKey.objects.get(case=case)
    assert (key.seed, key.date_offset_days) == (study.seed, study.date_offset_days)
    series = case.studies.get().series.get()
    assert series.label == ""  # for the author to write, never from the headers
    images = list(series.images.order_by("order"))
    assert [image.order for image in images] == [1, 2]
    first = stored_dataset(images[0])
    assert first.InstanceNumber == 1  # slice order, not arrival order
    assert first.StudyDate == shifted("20200315", study.date_offset_days)
    expected = sample("CT_small.dcm")
    Deidentifier(seed=study.seed, date_offset_days=study.date_offset_days).deidentify(expected)
    assert first.StudyInstanceUID == expected.StudyInstanceUID
    study.refresh_from_db()
    assert (study.status, study.case) == (ReceivedStudy.Status.USED, case)
    assert not any(default_storage.exists(name) for name in received)  # moved into the case's images
    with pytest.raises(services.ReceiverError):  # nothing left to use
        services.received_study_draft_create(study=study, by=sender.author)


def test_adding_a_study_to_a_draft_re_keys_it_through_the_cases_key(sender, make_case):
    ct = sample("CT_small.dcm")
    mr = sample("MR_small.dcm", StudyDate="20200415")
    case = services.received_study_draft_create(study=receive(sender, ct), by=sender.author)
    key = case.deidentification_key
    later = receive(sender, mr)
    assert later.seed != key.seed
    services.received_study_add_to_case(study=later, case=case, by=sender.author)
    assert case.studies.count() == 2
    added = stored_dataset(Image.objects.get(series__study__case=case, modality="MR"))
    first = stored_dataset(Image.objects.get(series__study__case=case, modality="CT"))
    # Dates: both shifted by the case's shift, so the month between the two studies is kept.
    assert (first.StudyDate, added.StudyDate) == (
        shifted("20200315", key.date_offset_days),
        shifted("20200415", key.date_offset_days),
    )
    # UIDs: the study's own de-identified UIDs, mapped through the case's key: C(S(u)).
    expected = sample("MR_small.dcm")
    Deidentifier(seed=later.seed, date_offset_days=later.date_offset_days).deidentify(expected)
    Deidentifier(seed=key.seed, date_offset_days=7).deidentify(expected)
    assert (added.SOPInstanceUID, added.SeriesInstanceUID) == (
        expected.SOPInstanceUID,
        expected.SeriesInstanceUID,
    )


def test_only_the_owner_or_an_editor_uses_a_study_and_only_into_the_owners_drafts(
    sender, other_faculty, editor, make_case
):
    study = receive(sender, sample("CT_small.dcm"))
    with pytest.raises(PermissionDenied):
        services.received_study_draft_create(study=study, by=other_faculty)
    with pytest.raises(PermissionDenied):
        services.received_study_discard(study=study, by=other_faculty)
    someone_elses = make_case(status=Case.Status.DRAFT, author=other_faculty)
    with pytest.raises(PermissionDenied):
        services.received_study_add_to_case(study=study, case=someone_elses, by=sender.author)
    published = make_case(author=sender.author)
    with pytest.raises(PermissionDenied):
        services.received_study_add_to_case(study=study, case=published, by=sender.author)
    assert services.received_study_draft_create(study=study, by=editor).author == sender.author


def test_rejected_instances_are_kept_out_and_reported(sender, quarantine_root):
    broken = sample("CT_small.dcm")
    broken.Rows = 4096  # the pixel data no longer holds what the header declares
    study = receive(sender, broken, sample("MR_small.dcm", StudyInstanceUID=broken.StudyInstanceUID))
    assert study.deidentification_summary["rejected"] == 1
    rejected = study.instances.get(status="rejected")
    assert rejected.reason and not rejected.file and not rejected.quarantine_file
    assert "CT_small" not in rejected.reason
    assert quarantined_files(quarantine_root) == []


def test_discard_deletes_the_rows_and_files(sender, django_capture_on_commit_callbacks):
    study = receive(sender, sample("CT_small.dcm"))
    name = study.instances.get().file.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        services.received_study_discard(study=study, by=sender.author)
    assert not ReceivedStudy.objects.exists()
    assert not default_storage.exists(name)


def test_purge_received_discards_studies_older_than_the_setting(sender, settings):
    settings.RECEIVED_STUDY_DAYS = 14
    old, new = receive(sender, sample("CT_small.dcm")), receive(sender, sample("MR_small.dcm"))
    ReceivedStudy.objects.filter(pk=old.pk).update(last_received_at=timezone.now() - timedelta(days=15))
    call_command("purge_received", stdout=StringIO())
    assert list(ReceivedStudy.objects.all()) == [new]


def test_a_draft_from_a_study_starts_its_history(sender):
    case = services.received_study_draft_create(
        study=receive(sender, sample("CT_small.dcm")), by=sender.author
    )
    (version,) = Version.objects.get_for_object(case)
    assert (version.revision.user, version.revision.comment) == (
        sender.author,
        "Created from a study received over DICOM",
    )


def test_every_task_workers_sweep_purges_old_studies(sender, settings):
    settings.RECEIVED_STUDY_DAYS = 14
    old, new = receive(sender, sample("CT_small.dcm")), receive(sender, sample("MR_small.dcm"))
    ReceivedStudy.objects.filter(pk=old.pk).update(last_received_at=timezone.now() - timedelta(days=15))
    worker_sweep.send_robust(sender=None)  # as manage.py db_worker sends it, at start and at intervals
    assert list(ReceivedStudy.objects.all()) == [new]
