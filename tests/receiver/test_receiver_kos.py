"""IHE Teaching File and Clinical Trial Export: a Key Object Selection "For Teaching" sent with a study
picks the draft's images; its free-text description is kept on the received study only."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.forms.models import model_to_dict
from django.utils import timezone
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, KeyObjectSelectionDocumentStorage

from imaging.models import Image
from receiver import services
from receiver.handover import studies_hand_over
from receiver.models import ReceivedInstance, ReceivedStudy
from tests.helpers.receiver import PLANTED, quarantined_files, sample

pytest_plugins = ["tests.helpers.receiver_fixtures"]
pytestmark = pytest.mark.django_db(transaction=True)

NOTE = "Plantednote: Mrs Plantedname's lesion, ask Dr Plantedphysician"


def code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def key_object_selection(title: tuple[str, str], study_uid: str, keys: list[Dataset]) -> Dataset:
    kos = Dataset()
    kos.file_meta = FileMetaDataset()
    kos.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    kos.SOPClassUID = KeyObjectSelectionDocumentStorage
    kos.SOPInstanceUID = generate_uid()
    kos.StudyInstanceUID = study_uid
    kos.SeriesInstanceUID = generate_uid()
    kos.Modality = "KO"
    for keyword, value in PLANTED.items():
        setattr(kos, keyword, value)
    kos.ValueType = "CONTAINER"
    kos.ConceptNameCodeSequence = [code(*title)]
    description = Dataset()
    description.RelationshipType, description.ValueType = "CONTAINS", "TEXT"
    description.ConceptNameCodeSequence = [code("113012", "Key Object Description")]
    description.TextValue = NOTE
    images = []
    for key in keys:
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = (
            key.SOPClassUID,
            key.SOPInstanceUID,
        )
        image = Dataset()
        image.RelationshipType, image.ValueType = "CONTAINS", "IMAGE"
        image.ReferencedSOPSequence = [reference]
        images.append(image)
    kos.ContentSequence = [description, *images]
    return kos


def send(receiver, *datasets) -> None:
    client = AE(ae_title="PACS1")
    client.add_requested_context(CTImageStorage)
    client.add_requested_context(KeyObjectSelectionDocumentStorage, ExplicitVRLittleEndian)
    assoc = client.associate("127.0.0.1", receiver.port, ae_title="TEACHING")
    assert [assoc.send_c_store(ds).Status for ds in datasets] == [0] * len(datasets)
    assoc.release()


def two_slices():
    first, second = sample("CT_small.dcm", InstanceNumber=1), sample("CT_small.dcm", InstanceNumber=2)
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    return first, second


def wait_gated() -> ReceivedStudy:
    assert ReceivedInstance.objects.count() == 3  # each row is written before its C-STORE is answered
    assert studies_hand_over(stable_seconds=0) == 1
    return ReceivedStudy.objects.get()


@pytest.mark.parametrize("title", [("113004", "For Teaching"), ("113005", "For Conference")])
def test_a_teaching_kos_picks_the_drafts_images_and_its_note_stays_on_the_study_until_purged(
    title, receiver, sender, quarantine_root, settings
):
    first, second = two_slices()
    send(receiver, first, second, key_object_selection(title, first.StudyInstanceUID, [second]))
    study = wait_gated()
    assert (study.key_object_title, study.key_object_description) == (title[1], NOTE)
    assert study.instances.count() == 2  # the KOS document itself is not kept
    assert [i.is_key_image for i in study.instances.order_by("image_fields__sort_key")] == [False, True]
    assert quarantined_files(quarantine_root) == []
    case = services.received_study_draft_create(study=study, by=sender.author)
    (image,) = Image.objects.filter(series__study__case=case)
    with default_storage.open(image.file.name) as stored:
        data = stored.read()
    assert b"Plantednote" not in data
    assert image.sort_key == 2  # the key image, not the other
    assert study.instances.filter(used=False).count() == 1  # the rest stays in the inbox
    case.refresh_from_db()
    assert "Plantednote" not in str(model_to_dict(case))  # nothing of it reaches the case
    settings.RECEIVED_STUDY_DAYS = 0
    assert services.received_purge(now=timezone.now() + timedelta(seconds=1)) == 1
    assert not ReceivedStudy.objects.filter(key_object_description__contains="Plantednote").exists()


def test_a_kos_with_another_title_marks_nothing(receiver, sender):
    first, second = two_slices()
    send(
        receiver,
        first,
        second,
        key_object_selection(("113001", "Of Interest"), first.StudyInstanceUID, [second]),
    )
    study = wait_gated()
    assert (study.key_object_title, study.key_object_description) == ("", "")
    assert not study.instances.filter(is_key_image=True).exists()
    case = services.received_study_draft_create(study=study, by=sender.author)
    assert Image.objects.filter(series__study__case=case).count() == 2


def send_late(receiver, kos) -> ReceivedStudy:
    """The key object selection alone, in an association of its own after the images were gated."""
    send(receiver, kos)
    assert studies_hand_over(stable_seconds=0) == 1
    return ReceivedStudy.objects.filter(pk__gt=0).order_by("-pk").first()


def test_a_kos_sent_after_its_gated_images_marks_them_in_the_inbox(receiver, sender, quarantine_root):
    first, second = two_slices()
    send(receiver, first, second)
    assert studies_hand_over(stable_seconds=0) == 1
    study = ReceivedStudy.objects.get()
    assert study.status == ReceivedStudy.Status.READY and not study.key_object_title
    send_late(receiver, key_object_selection(("113004", "For Teaching"), first.StudyInstanceUID, [second]))
    # The KOS's own study is gone; the images' study has its key image, title and note.
    assert list(ReceivedStudy.objects.all()) == [study]
    study.refresh_from_db()
    assert (study.key_object_title, study.key_object_description) == ("For Teaching", NOTE)
    assert [i.is_key_image for i in study.instances.order_by("image_fields__sort_key")] == [False, True]
    assert study.deidentification_summary["key_images"] == 1
    assert study.status_note.startswith("1 key image(s) marked by a key object selection received later")
    assert quarantined_files(quarantine_root) == []
    case = services.received_study_draft_create(study=study, by=sender.author)
    (image,) = Image.objects.filter(series__study__case=case)
    assert image.sort_key == 2  # the key image, not the other


def test_a_kos_of_another_study_marks_nothing_and_fails_with_a_reason(receiver, sender, quarantine_root):
    first, second = two_slices()
    send(receiver, first, second)
    assert studies_hand_over(stable_seconds=0) == 1
    other = sample("CT_small.dcm", InstanceNumber=1)
    other.StudyInstanceUID, other.SOPInstanceUID = generate_uid(), generate_uid()
    lone = send_late(
        receiver, key_object_selection(("113004", "For Teaching"), other.StudyInstanceUID, [other])
    )
    assert lone.status == ReceivedStudy.Status.FAILED
    assert lone.status_note == services.LONE_KEY_OBJECTS_NOTE
    assert not ReceivedInstance.objects.filter(is_key_image=True).exists()
    assert quarantined_files(quarantine_root) == []


def test_a_late_kos_not_for_teaching_marks_nothing_and_says_so(receiver, sender):
    first, second = two_slices()
    send(receiver, first, second)
    assert studies_hand_over(stable_seconds=0) == 1
    lone = send_late(
        receiver, key_object_selection(("113001", "Of Interest"), first.StudyInstanceUID, [second])
    )
    assert (lone.status, lone.status_note) == (
        ReceivedStudy.Status.FAILED,
        services.NO_TEACHING_SELECTION_NOTE,
    )
    assert not ReceivedInstance.objects.filter(is_key_image=True).exists()


def test_a_late_kos_waits_while_its_images_are_still_being_gated(receiver, sender):
    first, second = two_slices()
    send(receiver, first, second)
    assert studies_hand_over(stable_seconds=0) == 1
    images = ReceivedStudy.objects.get()
    ReceivedStudy.objects.filter(pk=images.pk).update(
        status=ReceivedStudy.Status.GATING
    )  # a gate still at work
    send(receiver, key_object_selection(("113004", "For Teaching"), first.StudyInstanceUID, [second]))
    assert studies_hand_over(stable_seconds=0) == 0
    ReceivedStudy.objects.filter(pk=images.pk).update(status=ReceivedStudy.Status.READY)  # the gate is done
    assert studies_hand_over(stable_seconds=0) == 1
    assert list(ReceivedStudy.objects.all()) == [images]
    assert images.instances.filter(is_key_image=True).count() == 1


def test_a_late_kos_marks_the_batch_its_image_came_in(receiver, sender):
    first, second = two_slices()
    send(receiver, first)
    assert studies_hand_over(stable_seconds=0) == 1
    send(receiver, second)  # the same study, a second batch: a study of its own in the inbox
    assert studies_hand_over(stable_seconds=0) == 1
    older, newer = ReceivedStudy.objects.order_by("pk")
    send_late(receiver, key_object_selection(("113004", "For Teaching"), first.StudyInstanceUID, [first]))
    assert set(ReceivedStudy.objects.all()) == {older, newer}
    older.refresh_from_db(), newer.refresh_from_db()
    assert older.instances.filter(is_key_image=True).count() == 1 and older.key_object_title == "For Teaching"
    assert not newer.instances.filter(is_key_image=True).exists() and not newer.key_object_title


@pytest.mark.parametrize("made_into_a_draft", [False, True])
def test_a_late_kos_that_selects_no_unused_image_fails_and_leaves_the_study_as_it_was(
    made_into_a_draft, receiver, sender, quarantine_root
):
    """A KOS naming an image never received, or one already taken into a draft, changes nothing: the study
    stays usable as it was (a title with no key image would leave it nothing to use)."""
    first, second = two_slices()
    send(receiver, first, second)
    assert studies_hand_over(stable_seconds=0) == 1
    images = ReceivedStudy.objects.get()
    if made_into_a_draft:
        services.received_study_draft_create(study=images, by=sender.author)
        selected = second
    else:
        selected = sample("CT_small.dcm", InstanceNumber=3)
        selected.SOPInstanceUID = generate_uid()  # of the same study, never sent
    lone = send_late(
        receiver, key_object_selection(("113004", "For Teaching"), first.StudyInstanceUID, [selected])
    )
    assert (lone.status, lone.status_note) == (ReceivedStudy.Status.FAILED, services.LONE_KEY_OBJECTS_NOTE)
    images.refresh_from_db()
    assert (images.key_object_title, images.key_object_description, images.status_note) == ("", "", "")
    assert not images.instances.filter(is_key_image=True).exists()
    assert len(services.usable_instances(images)) == (0 if made_into_a_draft else 2)
    assert quarantined_files(quarantine_root) == []
