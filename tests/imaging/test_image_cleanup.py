"""Deleting images deletes their stored files and cached renders, once the deletion commits."""

from pathlib import Path

import pytest
from django.db import transaction

from cases.models import Case
from imaging.cleanup import image_files_delete
from imaging.models import Image
from imaging.rendering import frame_png, frame_thumbnail_png, render_path, thumbnail_png
from imaging.services import series_create
from tests.helpers.ingest import dicom_bytes, ingest

pytestmark = pytest.mark.django_db


def files_under(media_root: Path) -> set[str]:
    return {path.relative_to(media_root).as_posix() for path in media_root.rglob("*") if path.is_file()}


def deletions(callbacks) -> list:
    """The file deletions among a transaction's commit callbacks (the page cache has its own)."""
    return [callback for callback in callbacks if getattr(callback, "func", None) is image_files_delete]


def viewed(image: Image) -> set[str]:
    """Render `image` every way a viewer asks for it; the cached renders' names."""
    frame_png(image, 0, "default")
    frame_thumbnail_png(image, 0, "default")
    thumbnail_png(image)
    return {render_path(image.pk, name) for name in ("default-0.png", "default-0.thumb.png", "thumb.png")}


@pytest.fixture
def two_images(make_case, media_root):
    case = make_case(slug="cleanup")
    series = series_create(case=case, label="Axial T1", modality="MR")
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in (1, 2)])
    first, second = (Image.objects.get(pk=outcome.image_id) for outcome in result.accepted)
    return case, first, second


def test_an_image_deleted_takes_its_file_and_renders_and_nothing_else(
    two_images, media_root, django_capture_on_commit_callbacks
):
    _, first, second = two_images
    first_files = {first.file.name} | viewed(first)
    second_files = {second.file.name} | viewed(second)
    assert first_files | second_files <= files_under(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
    assert files_under(media_root) & first_files == set()
    assert second_files <= files_under(media_root)


def test_nothing_goes_before_the_commit_nor_after_a_rollback(
    two_images, media_root, django_capture_on_commit_callbacks
):
    _, first, _ = two_images
    first_files = {first.file.name} | viewed(first)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first.delete()
    assert first_files <= files_under(media_root)  # deleted in the database, not yet committed
    assert len(deletions(callbacks)) == 1

    _, _, second = two_images
    second_files, second_pk = {second.file.name} | viewed(second), second.pk
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        second.delete()
        raise RuntimeError("rolled back")
    assert deletions(callbacks) == [] and Image.objects.filter(pk=second_pk).exists()
    assert second_files <= files_under(media_root)


def test_a_case_deleted_takes_every_image_file(two_images, media_root, django_capture_on_commit_callbacks):
    case, first, second = two_images
    files = {first.file.name, second.file.name} | viewed(first) | viewed(second)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Case.objects.filter(pk=case.pk).delete()  # images go by cascade, without Image.delete()
    assert len(deletions(callbacks)) == 2  # one per image
    assert files_under(media_root) & files == set()


def test_a_file_another_row_still_names_stays(two_images, media_root, django_capture_on_commit_callbacks):
    _, first, second = two_images
    Image.objects.filter(pk=second.pk).update(file=first.file.name)  # as a generated archive shares files
    with django_capture_on_commit_callbacks(execute=True):
        Image.objects.get(pk=first.pk).delete()
    assert first.file.name in files_under(media_root)


def test_a_savepoint_rolled_back_keeps_its_images_files(
    two_images, media_root, django_capture_on_commit_callbacks
):
    _, first, second = two_images
    first_files, second_files = {first.file.name} | viewed(first), {second.file.name} | viewed(second)
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
        with pytest.raises(RuntimeError), transaction.atomic():
            second.delete()
            raise RuntimeError("rolled back to the savepoint")
    assert files_under(media_root) & first_files == set()
    assert second_files <= files_under(media_root)
