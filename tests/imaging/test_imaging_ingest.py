"""Ingest through the shared service: de-identified storage, ordering, bad input, atomicity."""

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import pydicom
import pytest
from django.core.files.storage import Storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models.query import QuerySet
from django.utils import timezone
from PIL import Image as PILImage

from authoring.services import PublishBlocked, case_publish
from cases.models import Case
from imaging import services
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image, Series, Upload
from imaging.services import NothingAccepted, SeriesLabelError, images_ingest, series_create, series_import
from tests.helpers.ingest import dicom_bytes, ingest
from tests.helpers.viewer import post_upload, series_admin_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(make_case, diagnosis):
    return make_case(slug="neutral", final_diagnosis=diagnosis("Chordoma", synonyms=["notochordal tumour"]))


@pytest.fixture
def series(case):
    return series_create(case=case, label="Axial T1", modality="MR")


def sample(name: str) -> bytes:
    return (SAMPLE_DIR / name).read_bytes()


def stored_files(media_root: Path) -> list[Path]:
    return (
        [p for p in (media_root / "images").rglob("*") if p.is_file()]
        if (media_root / "images").exists()
        else []
    )


def png_bytes(size=(32, 24), **info) -> bytes:
    buffer = io.BytesIO()
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    PILImage.new("L", size, 128).save(buffer, "PNG", pnginfo=meta)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_dicom_is_stored_de_identified_never_as_the_original(case, media_root):
    original = sample("CT_small.dcm")
    result = ingest(series_create(case=case, label="Axial", modality="CT"), ("CT_small.dcm", original))
    assert [o.accepted for o in result.outcomes] == [True]
    image = Image.objects.get()
    stored = Path(image.file.path).read_bytes()
    assert stored != original
    assert b"CompressedSamples^CT1" not in stored  # the sample's PatientName
    dataset = pydicom.dcmread(image.file.path)
    assert dataset.PatientIdentityRemoved == "YES"
    assert "CT_small" not in image.file.name and image.file.name.endswith(".dcm")
    assert (image.kind, image.modality, image.rows, image.columns, image.frame_count) == (
        "dicom",
        "CT",
        128,
        128,
        1,
    )
    assert image.size_bytes == len(stored)
    upload = Upload.objects.get()
    assert upload.accepted == 1 and upload.report[0]["deidentification"]["removed"]


def test_slices_are_ordered_by_instance_number(series):
    files = [(f"slice{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in (3, 1, 2)]
    ingest(series, *files)
    assert [image.sort_key for image in series.images.order_by("order")] == [1.0, 2.0, 3.0]


def test_a_second_upload_is_ordered_among_the_first_and_in_order_files_move_nothing(series, monkeypatch):
    updated = []
    real = Image.objects.bulk_update

    def recording(objs, fields, **kwargs):
        updated.append(sorted(image.order for image in objs))
        return real(objs, fields, **kwargs)

    monkeypatch.setattr(Image.objects, "bulk_update", recording)
    ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in (1, 3, 5)])
    assert updated == [[]]  # uploaded in slice order: already in place
    ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in (2, 4)])
    assert [image.sort_key for image in series.images.order_by("order")] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [image.order for image in series.images.order_by("order")] == [1, 2, 3, 4, 5]
    assert updated[1] == [2, 3, 4, 5]  # slice 1 stays first


def test_without_instance_number_slices_are_ordered_along_the_slice_normal(series):
    files = []
    for z in (20.0, -5.0, 7.5):
        files.append(
            (
                f"z{z}.dcm",
                dicom_bytes(
                    "MR_small.dcm",
                    InstanceNumber=None,
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                    ImagePositionPatient=[0, 0, z],
                ),
            )
        )
    ingest(series, *files)
    assert [image.sort_key for image in series.images.order_by("order")] == [-5.0, 7.5, 20.0]


def test_zip_of_a_series_is_expanded(series):
    archive = zip_of({"series/a.dcm": sample("MR_small.dcm"), "series/b.dcm": sample("MR_small_RLE.dcm")})
    result = ingest(series, ("upload.zip", archive))
    assert len(result.accepted) == 2 and not result.rejected


@pytest.mark.parametrize(
    ("name", "data", "reason_part"),
    [
        ("notes.dcm", b"This is a text file, not DICOM." * 10, ""),
        ("empty.dcm", b"", ""),
        ("MR_truncated.dcm", sample("MR_truncated.dcm"), ""),
        ("page.png", b"<!doctype html><html><script>alert(1)</script></html>", ""),
        ("drawing.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', ""),
    ],
)
def test_bad_files_are_rejected_with_a_reason_and_nothing_is_stored(
    series, media_root, name, data, reason_part
):
    result = ingest(series, (name, data))
    assert [o.accepted for o in result.outcomes] == [False]
    assert result.outcomes[0].reason and reason_part in result.outcomes[0].reason
    assert result.outcomes[0].name == name
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_huge_dicom_header_is_rejected_before_decoding(series, media_root):
    bomb = dicom_bytes("MR_small.dcm", Rows=60000, Columns=60000, NumberOfFrames=500)
    result = ingest(series, ("bomb.dcm", bomb))
    assert not result.outcomes[0].accepted
    assert stored_files(media_root) == [] and not Image.objects.exists()


@pytest.mark.parametrize(
    "entries",
    [
        {"../escape.dcm": sample("MR_small.dcm")},
        {"/etc/absolute.dcm": sample("MR_small.dcm")},
        {"inner.zip": zip_of({"a.dcm": sample("MR_small.dcm")})},
        {"bomb.dcm": b"\0" * (50 * 1024 * 1024)},
    ],
    ids=["dotdot", "absolute", "nested", "bomb"],
)
def test_hostile_zip_entries_are_rejected(series, media_root, entries):
    result = ingest(series, ("hostile.zip", zip_of(entries)))
    assert result.outcomes and not any(o.accepted for o in result.outcomes)
    assert stored_files(media_root) == [] and not Image.objects.exists()


@pytest.mark.parametrize("files_before_failure", [1, 40])  # within the first batch, and after one
def test_a_failed_row_write_leaves_no_orphan_file(series, media_root, monkeypatch, files_before_failure):
    real_bulk_create = QuerySet.bulk_create
    calls = []

    def failing_on_last_batch(self, objs, *args, **kwargs):
        calls.append(len(objs))
        if sum(calls) >= files_before_failure:
            raise RuntimeError("database went away")
        return real_bulk_create(self, objs, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_create", failing_on_last_batch)
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(files_before_failure)]
    with pytest.raises(RuntimeError):
        ingest(series, *files)
    kept = Image.objects.count()
    assert kept == sum(calls[:-1])  # earlier batches are committed, the failed one is not
    assert len(stored_files(media_root)) == kept  # and no file without its row


def test_uids_are_consistent_within_a_case_and_differ_between_cases(case, series, make_case):
    ingest(series, ("a.dcm", sample("MR_small.dcm")))
    ingest(series_create(case=case, label="Second", modality="MR"), ("b.dcm", sample("MR_small.dcm")))
    other = series_create(case=make_case(slug="other"), label="Axial", modality="MR")
    ingest(other, ("c.dcm", sample("MR_small.dcm")))
    first, second, third = (pydicom.dcmread(image.file.path) for image in Image.objects.order_by("pk"))
    original = pydicom.dcmread(SAMPLE_DIR / "MR_small.dcm")
    assert first.StudyInstanceUID != original.StudyInstanceUID
    assert first.StudyInstanceUID == second.StudyInstanceUID
    assert first.StudyInstanceUID != third.StudyInstanceUID


def test_png_upload_is_reencoded_without_metadata_and_flagged(series):
    result = ingest(series, ("screenshot.png", png_bytes(Comment="Patient: Jane Doe")))
    assert result.outcomes[0].accepted
    image = Image.objects.get()
    assert b"Jane Doe" not in Path(image.file.path).read_bytes()
    assert image.kind == "raster" and image.is_flagged


def test_jpeg_upload_is_reencoded_as_png_without_exif_and_flagged(series):
    picture = PILImage.new("RGB", (40, 30), "gray")
    exif = PILImage.Exif()
    exif[0x010E] = "Patient: Jane Doe"  # ImageDescription
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif, comment=b"MRN 1234567")
    result = ingest(series, ("photo.jpg", buffer.getvalue()))
    assert result.outcomes[0].accepted
    image = Image.objects.get()
    stored = Path(image.file.path).read_bytes()
    assert stored.startswith(b"\x89PNG") and b"Jane Doe" not in stored and b"1234567" not in stored
    assert image.kind == "raster" and image.is_flagged and (image.rows, image.columns) == (30, 40)


def test_flagged_image_blocks_publication_until_an_editor_clears_it(case, series, editor, diagnosis):
    # Otherwise complete, and in review: only the flag stands in the way.
    case.status, case.published_at = Case.Status.IN_REVIEW, None
    case.clinical_history, case.diagnosis_certainty = "Back pain.", Case.Certainty.HISTOLOGY
    case.save()
    for order, name in enumerate(["Metastasis", "Giant cell tumour"], start=1):
        case.differential_items.create(diagnosis=diagnosis(name), order=order)
    ingest(series, ("screenshot.png", png_bytes()))
    with pytest.raises(PublishBlocked) as blocked:
        case_publish(case=case, by=editor)
    assert [blocker for blocker in blocked.value.blockers if "burned-in" in blocker]
    Image.objects.update(reviewed_by=editor, reviewed_at=timezone.now())
    assert case_publish(case=case, by=editor).status == Case.Status.PUBLISHED


def test_series_label_may_not_name_the_diagnosis(case):
    with pytest.raises(SeriesLabelError):
        series_create(case=case, label="Sagittal T2 chordoma", modality="MR")
    with pytest.raises(SeriesLabelError):
        series_create(case=case, label="Notochordal tumour, axial", modality="MR")
    assert Series.objects.count() == 0


def test_import_images_command_reports_each_file_and_fails_on_rejects(case, tmp_path):
    good = tmp_path / "good.dcm"
    good.write_bytes(sample("MR_small.dcm"))
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 accepted, 1 rejected"):
        call_command("import_images", "neutral", str(good), str(bad), "--series", "Sagittal T2", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith(f"{good}: accepted") for line in lines)
    assert any(line.startswith(f"{bad}: REJECTED") for line in lines)
    assert Series.objects.get().label == "Sagittal T2"
    assert Image.objects.count() == 1


def test_import_images_command_files_the_series_under_a_finding_of_the_case(case, make_case, tmp_path):
    from cases.models import Finding

    path = tmp_path / "a.dcm"
    path.write_bytes(sample("CT_small.dcm"))
    finding = Finding.objects.create(case=case, modality="CT", text="A finding.", order=99)
    other = Finding.objects.create(
        case=make_case(slug="other"), modality="CT", text="Not this case's.", order=99
    )
    with pytest.raises(CommandError, match=f"no finding with id {other.pk}"):
        call_command("import_images", "neutral", str(path), "--finding", str(other.pk), stdout=io.StringIO())
    assert not Series.objects.exists()
    call_command("import_images", "neutral", str(path), "--finding", str(finding.pk), stdout=io.StringIO())
    assert Series.objects.get().finding == finding


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "piped"])
def test_import_images_command_draws_a_progress_bar_on_a_terminal_only(case, tmp_path, monkeypatch, terminal):
    for n in (1, 2, 3, 4):
        (tmp_path / f"{n}.dcm").write_bytes(dicom_bytes("MR_small.dcm", InstanceNumber=n))
    stderr = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    call_command("import_images", "neutral", str(tmp_path), "--series", "Axial T2", stdout=io.StringIO())
    if terminal:
        assert "[" + "#" * 15 + " " * 15 + "] 2/4" in stderr.getvalue()
        assert stderr.getvalue().endswith("[" + "#" * 30 + "] 4/4\n")
    else:
        assert stderr.getvalue() == ""  # nothing but the per-file lines, on stdout


def test_import_images_command_succeeds_on_a_folder(case, tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"{n}.dcm").write_bytes(dicom_bytes("MR_small.dcm", InstanceNumber=n))
    out = io.StringIO()
    call_command("import_images", "neutral", str(folder), "--series", "Axial T2", stdout=out)
    assert "2 accepted, 0 rejected" in out.getvalue()
    assert Series.objects.get().study.modality == "MR"


@pytest.mark.parametrize(
    ("name", "modality", "frames"),
    [
        ("MR_small_RLE.dcm", "MR", 1),  # RLE lossless
        ("MR_small_jp2klossless.dcm", "MR", 1),  # JPEG 2000 lossless
        ("JPEG2000.dcm", "NM", 1),  # JPEG 2000
        ("MR_small_jpeg_ls_lossless.dcm", "MR", 1),  # JPEG-LS lossless
        ("JPGExtended.dcm", "NM", 1),  # JPEG extended
        ("SC_rgb_jpeg_gdcm.dcm", "OT", 1),  # JPEG lossless, process 14
        ("examples_ybr_color.dcm", "US", 30),  # JPEG baseline, multi-frame
        ("rtdose.dcm", "OT", 15),  # uncompressed multi-frame; RTDOSE is filed as Other
        ("MR_small_implicit.dcm", "MR", 1),
        ("MR_small_bigendian.dcm", "MR", 1),
    ],
)
def test_every_supported_encoding_is_ingested_and_renders(client, editor, case, name, modality, frames):
    series = series_create(case=case, label="Axial", modality=modality)
    result = ingest(series, (name, sample(name)))
    assert result.outcomes[0].accepted, result.outcomes[0].reason
    image = Image.objects.get()
    assert image.frame_count == frames
    client.force_login(editor)  # some samples are flagged for burned-in text: only reviewers see those
    last = client.get(f"/images/{image.pk}/default/{frames - 1}.png")
    assert last.status_code == 200 and last.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_unsupported_transfer_syntax_is_rejected_naming_it(series, media_root):
    dataset = pydicom.dcmread(SAMPLE_DIR / "MR_small_RLE.dcm")
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video: no decoder here
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    result = ingest(series, ("video.dcm", buffer.getvalue()))
    assert not result.outcomes[0].accepted
    assert "MPEG2" in result.outcomes[0].reason or "1.2.840.10008.1.2.4.100" in result.outcomes[0].reason
    assert stored_files(media_root) == [] and not Image.objects.exists()


def test_png_decompression_bomb_is_rejected(series, media_root):
    buffer = io.BytesIO()
    PILImage.new("1", (12000, 12000)).save(buffer, "PNG")  # 144 megapixels in a few kilobytes
    result = ingest(series, ("bomb.png", buffer.getvalue()))
    assert not result.outcomes[0].accepted
    assert stored_files(media_root) == [] and not Image.objects.exists()


def test_a_modality_only_a_sample_image_brings_is_not_a_modality_of_the_case(client, make_case):
    ct_only = make_case(slug="ct-only", findings=["CT"])
    sample_series = series_create(case=ct_only, label="Sample MR", modality="MR", is_sample=True)
    ingest(sample_series, ("mr.dcm", sample("MR_small.dcm")))
    html = client.get("/cases/?modality=MR").content.decode()
    assert "/cases/ct-only/" not in html
    assert "/cases/ct-only/" in client.get("/cases/?modality=CT").content.decode()


# -- one file after another: order, streaming, storage, failures ---------------------------------


def mixed_upload() -> list[tuple[str, bytes]]:
    """Slices with rejections and a PNG in between: every kind of outcome, in a known order."""
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(1, 13)]
    files.insert(0, ("first-is-not-dicom.dcm", b"This is a text file, not DICOM." * 10))
    files.insert(5, ("MR_truncated.dcm", sample("MR_truncated.dcm")))
    files.insert(9, ("key-image.png", png_bytes()))
    files.insert(11, ("series.zip", zip_of({"a.dcm": sample("MR_small_RLE.dcm"), "../up.dcm": b"x"})))
    files.append(("last-is-empty.dcm", b""))
    return files


def test_a_mixed_upload_keeps_the_order_of_its_files_and_stores_only_the_accepted(series, media_root):
    files = mixed_upload()
    result = ingest(series, *files)
    names = [outcome.name for outcome in result.outcomes]
    assert names[:2] == ["first-is-not-dicom.dcm", "1.dcm"] and names[-1] == "last-is-empty.dcm"
    assert names[11:13] == ["series.zip:a.dcm", "series.zip:../up.dcm"]
    assert [o.accepted for o in result.outcomes].count(False) == 4  # 3 bad files, 1 bad zip entry
    assert [o.position for o in result.outcomes] == list(range(1, len(result.outcomes) + 1))
    assert all(o.sha256 for o in result.outcomes if o.name != "series.zip:../up.dcm")  # (never read)
    assert len(stored_files(media_root)) == Image.objects.count() == len(result.accepted) == 14
    for outcome in result.accepted:
        image = Image.objects.get(pk=outcome.image_id)
        with image.file.open("rb") as stored:
            content = stored.read()
        assert image.sha256 == outcome.sha256 == hashlib.sha256(content).hexdigest()
        assert image.size_bytes == len(content)


def test_each_file_is_read_only_when_its_turn_comes(series):
    consumed = []
    reported = []

    def files():
        for n in range(40):
            consumed.append(n)
            yield InputFile(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n))

    images_ingest(series=series, files=files(), on_progress=lambda outcome: reported.append(len(consumed)))
    assert reported == list(range(1, 41))  # never a slice ahead of the one being ingested


def test_files_keep_the_upload_order_until_renumbered_by_slice(series):
    numbers = [5, 3, 9, 1, 7, 2, 8, 4, 6, 10]
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in numbers])
    stored = [Image.objects.get(pk=outcome.image_id) for outcome in result.outcomes]
    assert [image.sort_key for image in stored] == [float(n) for n in numbers]
    assert [image.order for image in stored] == numbers  # renumbered by slice


class FailingStore:
    """Every Storage.save counted; the save number `fail_at` (1-based) raises OSError("disk full")."""

    def __init__(self, monkeypatch) -> None:
        self.fail_at: int | None = None
        self.saved: list[str] = []
        real = Storage.save

        def save(storage, name, content, *args, **kwargs):
            self.saved.append(name)
            if len(self.saved) == self.fail_at:
                raise OSError("disk full")
            return real(storage, name, content, *args, **kwargs)

        monkeypatch.setattr(Storage, "save", save)


@pytest.fixture
def failing_store(monkeypatch):
    return FailingStore(monkeypatch)


def test_a_failure_while_storing_leaves_no_orphan_file(series, media_root, failing_store):
    failing_store.fail_at = 37
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(50)]
    with pytest.raises(OSError, match="disk full"):
        ingest(series, *files)
    assert len(failing_store.saved) == 37  # nothing after the failure
    assert Image.objects.count() == 32  # the first batch was committed, the second never was
    assert len(stored_files(media_root)) == 32


def test_a_failure_storing_the_only_file_stores_nothing(series, media_root, failing_store):
    failing_store.fail_at = 1
    with pytest.raises(OSError, match="disk full"):
        ingest(series, ("a.dcm", sample("MR_small.dcm")))
    assert stored_files(media_root) == [] and not Image.objects.exists() and not Upload.objects.exists()


def test_an_error_while_preparing_a_file_is_raised_and_leaves_no_orphan_file(series, media_root, monkeypatch):
    real = services.prepare

    def failing_from_40(name, data, deidentifier, **options):
        if int(name.removesuffix(".dcm")) >= 40:
            raise RuntimeError("a bug in de-identification")
        return real(name, data, deidentifier, **options)

    monkeypatch.setattr(services, "prepare", failing_from_40)
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(50)]
    with pytest.raises(RuntimeError, match="a bug"):
        ingest(series, *files)
    assert Image.objects.count() == 32  # whole batches only, each with its files and no other
    assert len(stored_files(media_root)) == 32


def test_files_are_stored_through_the_storage_with_its_permissions_and_random_names(
    series, media_root, settings
):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
    numbers = range(1, 4)
    result = ingest(
        series, *[(f"chordoma_{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in numbers]
    )
    assert len(result.accepted) == 3 and len(stored_files(media_root)) == 3
    assert (media_root / "images").stat().st_mode & 0o777 == 0o750
    for image in Image.objects.all():
        path = Path(image.file.path)
        assert path.parent == media_root / "images" and "chordoma" not in path.name
        assert path.stat().st_mode & 0o777 == 0o640
        assert pydicom.dcmread(path).PatientIdentityRemoved == "YES"


def test_another_storage_is_a_setting(series, media_root, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(3)])
    assert len(result.accepted) == 3
    assert stored_files(media_root) == []
    for image in Image.objects.all():
        with image.file.open("rb") as stored_file:
            content = stored_file.read()
        assert hashlib.sha256(content).hexdigest() == image.sha256
        assert pydicom.dcmread(io.BytesIO(content)).PatientIdentityRemoved == "YES"


def test_a_taken_file_name_is_not_written_over(series, media_root, monkeypatch):
    (media_root / "images").mkdir(parents=True)
    taken = media_root / "images" / "taken.dcm"
    taken.write_bytes(b"someone else's file")
    field = Image._meta.get_field("file")
    monkeypatch.setattr(field, "upload_to", lambda instance, filename: "images/taken.dcm")
    result = ingest(series, ("a.dcm", sample("MR_small.dcm")))
    assert len(result.accepted) == 1
    assert taken.read_bytes() == b"someone else's file"
    stored = Image.objects.get()
    assert stored.file.name != "images/taken.dcm" and len(stored_files(media_root)) == 2


class TrackedUpload:
    """An upload that records how much of it is read."""

    def __init__(self, name: str, data: bytes, declared_size: int | None = None) -> None:
        self.name, self._stream = name, io.BytesIO(data)
        self.size = len(data) if declared_size is None else declared_size
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        return self._stream.read(size)

    def seek(self, position: int) -> None:
        self._stream.seek(position)


def test_uploads_are_read_one_at_a_time_and_one_over_the_limit_not_at_all(series, media_root):
    from imaging.inputs import MAX_FILE_BYTES, SNIFF_BYTES, uploaded_files

    small = TrackedUpload("a.dcm", sample("MR_small.dcm"))
    huge = TrackedUpload("huge.dcm", b"DICM", declared_size=MAX_FILE_BYTES + 1)
    later = TrackedUpload("b.dcm", sample("MR_small_RLE.dcm"))
    items = uploaded_files([small, huge, later])
    first = next(items)
    assert first.data == sample("MR_small.dcm") and later.reads == []  # not read ahead
    result = images_ingest(series=series, files=items)
    assert huge.reads == [SNIFF_BYTES]  # only its first bytes, to tell a zip from DICOM
    assert [(o.name, o.accepted) for o in result.outcomes] == [("huge.dcm", False), ("b.dcm", True)]
    assert "over the" in result.outcomes[0].reason and len(stored_files(media_root)) == 1


def test_a_file_of_another_modality_is_refused_for_the_series_with_the_reason(series, media_root):
    """Issue 19: a CT slice uploaded to an MR series is refused, never mixed in; the rest goes in."""
    result = ingest(series, ("a.dcm", sample("MR_small.dcm")), ("b.dcm", sample("CT_small.dcm")))
    assert [o.accepted for o in result.outcomes] == [True, False]
    assert result.outcomes[1].reason.startswith("the file is CT, the series is MRI")
    entry = Upload.objects.get().report[1]
    ct_hash = hashlib.sha256(sample("CT_small.dcm")).hexdigest()[:8]
    assert entry["file"] == f"file 2 (sha256 {ct_hash}…)" and "the series is MRI" in entry["reason"]
    assert (
        list(Image.objects.values_list("modality", flat=True)) == ["MR"]
        and len(stored_files(media_root)) == 1
    )


@pytest.mark.parametrize(
    ("file_modality", "series_modality", "accepted"),
    [
        ("CR", "DX", True),  # both "a radiograph"
        ("DX", "CR", True),
        ("RTDOSE", "OT", True),  # no modality of the archive's own: filed as Other
        ("RTDOSE", "CT", False),
        ("NM", "PT", False),
        ("", "CT", True),  # no Modality to compare (a Type 1 attribute, but files lack it)
    ],
)
def test_equivalent_modalities_are_accepted(case, file_modality, series_modality, accepted):
    series = series_create(case=case, label="Frontal", modality=series_modality)
    data = dicom_bytes("CT_small.dcm", Modality=file_modality or None)
    [outcome] = ingest(series, ("x.dcm", data)).outcomes
    assert outcome.accepted is accepted, outcome.reason


def test_png_and_jpeg_carry_no_modality_and_are_accepted_in_any_series(case):
    series = series_create(case=case, label="Axial", modality="CT")
    assert ingest(series, ("key.png", png_bytes())).outcomes[0].accepted


def test_the_admin_upload_refuses_another_modality_with_the_reason(
    client, editor, case, django_capture_on_commit_callbacks
):
    series = series_create(case=case, label="Axial", modality="CT")
    client.force_login(editor)
    files = [SimpleUploadedFile("mr.dcm", sample("MR_small.dcm"))]
    url, data = f"/admin/imaging/series/{series.pk}/change/", series_admin_form(series, upload=files)
    _, page = post_upload(client, url, data, django_capture_on_commit_callbacks)
    assert "the file is MRI, the series is CT" in page.content.decode()
    assert not series.images.exists() and series.uploads.get().rejected == 1


def test_an_import_into_a_new_series_of_another_modality_keeps_nothing(case):
    with pytest.raises(NothingAccepted) as refused:
        series_import(
            case=case, label="Axial", modality="CT", files=[InputFile("mr.dcm", sample("MR_small.dcm"))]
        )
    assert "the series is CT" in refused.value.result.rejected[0].reason
    assert not Series.objects.exists()
