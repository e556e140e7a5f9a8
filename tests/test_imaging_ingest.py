"""Ingest through the shared service: de-identified storage, ordering, bad input, atomicity."""

import contextlib
import hashlib
import io
import multiprocessing
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pydicom
import pytest
from django.core.management import CommandError, call_command
from django.db.models.query import QuerySet
from django.utils import timezone
from PIL import Image as PILImage

from authoring.services import PublishBlocked, case_publish
from cases.models import Case
from imaging import file_writes, preparation, services, workers
from imaging.demo import SAMPLE_DIR
from imaging.dicom.errors import RejectedFile
from imaging.inputs import InputFile
from imaging.models import Image, Series, Upload
from imaging.services import SeriesLabelError, images_ingest, series_create

pytestmark = pytest.mark.django_db


def sample(name: str) -> bytes:
    return (SAMPLE_DIR / name).read_bytes()


def stored_files(media_root: Path) -> list[Path]:
    return (
        [p for p in (media_root / "images").rglob("*") if p.is_file()]
        if (media_root / "images").exists()
        else []
    )


def dicom_bytes(name: str, **changes) -> bytes:
    dataset = pydicom.dcmread(SAMPLE_DIR / name)
    for keyword, value in changes.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


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


@pytest.fixture
def case(make_case, diagnosis):
    return make_case(slug="neutral", final_diagnosis=diagnosis("Chordoma", synonyms=["notochordal tumour"]))


@pytest.fixture
def series(case):
    return series_create(case=case, label="Axial T1", modality="MR")


def ingest(series, *files: tuple[str, bytes]):
    return images_ingest(series=series, files=[InputFile(name, data) for name, data in files])


def test_dicom_is_stored_de_identified_never_as_the_original(series, media_root):
    original = sample("CT_small.dcm")
    result = ingest(series, ("CT_small.dcm", original))
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
    ("name", "frames"),
    [
        ("MR_small_RLE.dcm", 1),  # RLE lossless
        ("MR_small_jp2klossless.dcm", 1),  # JPEG 2000 lossless
        ("JPEG2000.dcm", 1),  # JPEG 2000
        ("MR_small_jpeg_ls_lossless.dcm", 1),  # JPEG-LS lossless
        ("JPGExtended.dcm", 1),  # JPEG extended
        ("SC_rgb_jpeg_gdcm.dcm", 1),  # JPEG lossless, process 14
        ("examples_ybr_color.dcm", 30),  # JPEG baseline, multi-frame
        ("rtdose.dcm", 15),  # uncompressed multi-frame
        ("MR_small_implicit.dcm", 1),
        ("MR_small_bigendian.dcm", 1),
    ],
)
def test_every_supported_encoding_is_ingested_and_renders(client, editor, series, name, frames):
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


# -- large uploads: prepared in worker processes ---------------------------------------------------


@pytest.fixture
def two_workers(monkeypatch):
    """Two workers whatever the machine, so that the pool is used (it never is with one core)."""
    monkeypatch.setattr(services, "_pool_workers", lambda: 2)
    return 2


@pytest.fixture
def pool_calls(monkeypatch, two_workers):
    """Record each use of the worker pool."""
    calls = []
    real = services._prepared_in_pool

    def spy(*args, **kwargs):
        calls.append(args[-1].workers)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_prepared_in_pool", spy)
    return calls


def mixed_upload() -> list[tuple[str, bytes]]:
    """Slices with rejections and a PNG in between: every kind of outcome, in a known order."""
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(1, 13)]
    for n in (3, 4, 8):  # larger files (see the test with a lower POOL_MAX_FILE_BYTES)
        files[n - 1] = (f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n, ImageComments="x" * 10000))
    files.insert(0, ("first-is-not-dicom.dcm", b"This is a text file, not DICOM." * 10))
    files.insert(5, ("MR_truncated.dcm", sample("MR_truncated.dcm")))
    files.insert(9, ("key-image.png", png_bytes()))
    files.insert(11, ("series.zip", zip_of({"a.dcm": sample("CT_small.dcm"), "../up.dcm": b"x"})))
    files.append(("last-is-empty.dcm", b""))
    return files


def stored_view(result) -> list[tuple]:
    """What an upload produced, per file in order: the outcome, and the stored file and row."""
    view = []
    for outcome in result.outcomes:
        # The label names the file in the stored report: a worker's rejection carries the hash too.
        entry = (outcome.name, outcome.accepted, outcome.reason, outcome.deidentification, outcome.label)
        if outcome.accepted:
            image = Image.objects.get(pk=outcome.image_id)
            with image.file.open("rb") as stored:
                content = stored.read()
            fields = (image.kind, image.modality, image.rows, image.columns, image.frame_count)
            entry += (content, image.sha256, image.size_bytes, fields, image.sort_key, image.needs_review)
        view.append(entry)
    return view


@pytest.mark.parametrize("max_file_bytes", [None, 15000], ids=["all handed over", "larger files here"])
def test_a_large_upload_is_prepared_in_workers_with_the_outcomes_of_the_in_process_path(
    case, series, media_root, pool_calls, monkeypatch, max_file_bytes
):
    if max_file_bytes:
        monkeypatch.setattr(services, "POOL_MAX_FILE_BYTES", max_file_bytes)
    handed_over = []
    real_submit = workers.Workers.submit

    def submit(pool, name, data):
        ticket = real_submit(pool, name, data)
        if ticket is not None:
            handed_over.append(name)
        return ticket

    monkeypatch.setattr(workers.Workers, "submit", submit)
    files = mixed_upload()
    pooled = ingest(series, *files)
    assert pool_calls == [2]
    assert handed_over  # (this process prepares some files itself while it waits)
    if max_file_bytes:
        larger = {"3.dcm", "4.dcm", "8.dcm", "series.zip:a.dcm"}  # CT_small is 39 KB
        assert not larger & set(handed_over)

    monkeypatch.setattr(services, "POOL_MIN_FILES", 10**6)  # the same files, in this process
    in_process = ingest(series_create(case=case, label="Again", modality="MR"), *files)
    assert pool_calls == [2]

    assert stored_view(pooled) == stored_view(in_process)  # same case key: byte for byte the same
    names = [outcome.name for outcome in pooled.outcomes]
    assert names[:2] == ["first-is-not-dicom.dcm", "1.dcm"] and names[-1] == "last-is-empty.dcm"
    assert [o.accepted for o in pooled.outcomes].count(False) == 4  # 3 bad files, 1 bad zip entry
    assert len(stored_files(media_root)) == Image.objects.count() == 2 * len(pooled.accepted)


def test_a_small_upload_is_prepared_in_process(series, pool_calls):
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(7)])
    assert len(result.accepted) == 7 and pool_calls == []


@pytest.fixture
def idle_two_cores(monkeypatch):
    """A machine with two usable cores and nothing running: the pool's best case."""
    monkeypatch.setattr(services.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(services.os, "getloadavg", lambda: (0.0, 0.0, 0.0), raising=False)


def test_with_ingest_workers_0_a_large_upload_is_prepared_in_process(
    series, settings, idle_two_cores, monkeypatch
):
    settings.INGEST_WORKERS = 0
    calls = []
    monkeypatch.setattr(services, "_prepared_in_pool", lambda *args: calls.append(args) or iter(()))
    files = [
        (f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n))
        for n in range(services.POOL_MIN_FILES + 2)
    ]
    result = ingest(series, *files)
    assert calls == [] and len(result.accepted) == len(files)


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), (0, 0), (1, 1), (2, 1), (8, 1)])
def test_ingest_workers_caps_the_pool_even_on_an_idle_machine(settings, idle_two_cores, setting, expected):
    settings.INGEST_WORKERS = setting  # None: "auto", the default
    assert services._pool_workers() == expected  # one core for this process, one for a worker


def test_a_large_upload_is_streamed_through_a_bounded_window(series, two_workers):
    consumed = []
    reported = []

    def files():
        for n in range(40):
            consumed.append(n)
            yield InputFile(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n))

    images_ingest(series=series, files=files(), on_progress=lambda outcome: reported.append(len(consumed)))
    assert len(reported) == 40
    ahead = [read - done for done, read in enumerate(reported, start=1)]
    window = 2 * two_workers * services.POOL_FILES_AHEAD_PER_WORKER
    assert max(ahead) < max(services.POOL_MIN_FILES, window)  # never all 40 slices at once


class FailingStore:
    """Every store of a file, on any route (storage.save, write_and_hash into a file created
    beforehand, or a worker's file linked into place), counted and recorded with its thread; the
    store number `fail_at` (1-based), or any store once `fail_when()` holds, raises
    OSError("disk full"). A route that declines (returns None) hands the file to storage.save,
    which counts again."""

    def __init__(self, monkeypatch) -> None:
        self.fail_at: int | None = None
        self.fail_when = lambda: False
        self.threads: list[str] = []
        self.routes: list[str] = []
        for route in ("_stored_image", "write_and_hash", "place_spooled"):
            monkeypatch.setattr(services, route, self._wrap(route, getattr(services, route)))

    def _wrap(self, route, real):
        def store(*args, **kwargs):
            self.threads.append(threading.current_thread().name)
            self.routes.append(route)
            if len(self.threads) == self.fail_at or self.fail_when():
                raise OSError("disk full")
            return real(*args, **kwargs)

        return store


@pytest.fixture
def failing_store(monkeypatch):
    return FailingStore(monkeypatch)


def test_a_failure_while_storing_a_large_upload_leaves_no_orphan_file(
    series, media_root, pool_calls, failing_store
):
    # The folder exists, so that every file is stored by exactly one call: into a missing folder
    # a worker's file goes to storage.save after place_spooled declined, and would count twice.
    (media_root / "images").mkdir(parents=True)
    failing_store.fail_at = 37
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(50)]
    with pytest.raises(OSError, match="disk full"):
        ingest(series, *files)
    assert pool_calls == [2]
    assert Image.objects.count() == 32  # the first batch was committed, the second never was
    assert len(stored_files(media_root)) == 32


@pytest.mark.parametrize("failure", ["error", "worker dies"])
def test_a_failure_in_a_worker_is_raised_and_leaves_no_orphan_file(
    series, media_root, pool_calls, monkeypatch, failure
):
    # Workers are forked from this process here (not served by the fork server), so that the
    # failure patched in below reaches them.
    monkeypatch.setattr(services, "_pool_context", lambda: multiprocessing.get_context("fork"))
    real = preparation.prepare
    test_process = os.getpid()

    def failing_from_40(name, data, deidentifier, **options):
        # Only in a worker: this process prepares some files itself, and must not fail for them.
        if int(name.removesuffix(".dcm")) >= 40 and os.getpid() != test_process:
            if failure == "error":
                raise RuntimeError("a bug in de-identification")
            os._exit(1)
        return real(name, data, deidentifier, **options)

    monkeypatch.setattr(preparation, "prepare", failing_from_40)  # in the workers
    monkeypatch.setattr(services, "prepare", failing_from_40)  # here
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(50)]
    expected = RuntimeError if failure == "error" else workers.BrokenWorker
    with pytest.raises(expected) as raised:
        ingest(series, *files)
    if failure == "error":  # with the worker's own traceback
        assert (
            "in an ingest worker" in raised.value.__notes__[0]
            and "failing_from_40" in raised.value.__notes__[0]
        )
    assert pool_calls == [2] and slot_descriptors() == []
    # Whole batches only, each with its files and no other: the first batch (32) is committed if
    # its last file was written before file 40 failed (the writes trail the preparation by a few
    # files, and this process may prepare file 40 itself while it waits), else none is.
    committed = Image.objects.count()
    assert committed in (0, 32)
    assert len(stored_files(media_root)) == committed


def test_what_the_workers_import_needs_no_django():
    # A worker imports only imaging.preparation; Django there would mean settings, apps and
    # database connections in every worker.
    code = "import sys, imaging.preparation; sys.exit('django' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(services.__file__).parent.parent, check=False
    )
    assert done.returncode == 0


@pytest.fixture
def spool_root(settings, tmp_path):
    """The folder the workers' spool folders are made in (FILE_UPLOAD_TEMP_DIR), watched."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


def test_workers_hand_over_spooled_files_that_are_moved_into_storage(
    series, media_root, pool_calls, spool_root, monkeypatch
):
    # Each worker writes the prepared bytes to a file of the upload's spool folder and hands
    # back its path; the file is linked into storage (not read back and written again), and the
    # spool folder is gone once the upload is done.
    real_place = services.place_spooled
    spooled_inodes = []

    def place(image, spooled_path, known_folders):
        assert Path(spooled_path).parent.parent == spool_root
        spooled_inodes.append(os.stat(spooled_path).st_ino)
        return real_place(image, spooled_path, known_folders)

    monkeypatch.setattr(services, "place_spooled", place)
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(30)]
    result = ingest(series, *files)

    assert pool_calls == [2] and len(result.accepted) == 30
    assert spooled_inodes  # (this process prepares some files itself while it waits)
    stored_inodes = {path.stat().st_ino for path in stored_files(media_root)}
    assert set(spooled_inodes) <= stored_inodes  # the same file, under its stored name
    assert list(spool_root.iterdir()) == []
    for outcome in result.accepted:
        image = Image.objects.get(pk=outcome.image_id)
        with image.file.open("rb") as stored_file:
            assert len(stored_file.read()) == image.size_bytes


def test_a_failure_while_storing_removes_the_spool_folder_too(
    series, media_root, pool_calls, spool_root, failing_store
):
    failing_store.fail_at = 20
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(40)]
    with pytest.raises(OSError, match="disk full"):
        ingest(series, *files)
    assert stored_files(media_root) == [] and Image.objects.count() == 0
    assert list(spool_root.iterdir()) == []  # the files prepared but never stored went with it


@pytest.mark.parametrize(
    ("load", "expected"),
    [(0.0, 3), (1.0, 3), (2.9, 1), (3.6, 0), (8.0, 0)],
    ids=["idle", "only this process", "one core idle", "busy", "overloaded"],
)
def test_workers_are_used_only_when_a_core_is_idle(monkeypatch, settings, load, expected):
    # The load average counts this process itself: a core for it, the idle rest for workers.
    settings.INGEST_WORKERS = 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert services._pool_workers() == expected


def test_on_a_busy_machine_a_large_upload_is_prepared_in_process(series, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    calls = []
    monkeypatch.setattr(services, "_prepared_in_pool", lambda *args: calls.append(args) or iter(()))
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(12)])
    assert len(result.accepted) == 12 and calls == []


def test_in_process_files_are_written_beside_this_thread_and_a_failure_leaves_no_orphan(
    series, media_root, monkeypatch, failing_store
):
    # The writes run in a thread of their own (the kernel's work overlaps the next file's
    # preparation); a failure there still leaves only the committed batch.
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    failing_store.fail_at = 37
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(50)]
    with pytest.raises(OSError, match="disk full"):
        ingest(series, *files)
    assert len(failing_store.threads) >= 37  # (writes already handed to the thread go on)
    assert failing_store.routes[36] == "write_and_hash"  # into a file created beforehand
    assert threading.current_thread().name not in failing_store.threads
    assert Image.objects.count() == 32  # the first batch was committed, the second never was
    assert len(stored_files(media_root)) == 32


def test_in_process_writes_keep_the_upload_order(series, monkeypatch):
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    numbers = [5, 3, 9, 1, 7, 2, 8, 4, 6, 10]
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in numbers])
    stored = [Image.objects.get(pk=outcome.image_id) for outcome in result.outcomes]
    assert [image.sort_key for image in stored] == [float(n) for n in numbers]
    assert [image.order for image in stored] == numbers  # renumbered by slice
    for image in stored:  # hashed on the writing thread
        with image.file.open("rb") as stored_file:
            assert image.sha256 == hashlib.sha256(stored_file.read()).hexdigest()


def test_in_process_files_are_created_here_then_written_and_hashed_on_the_thread(
    series, media_root, settings, monkeypatch, failing_store
):
    # Into file system storage the file is created (named, exclusively) here; the writing
    # thread only fills and hashes it. The storage's file permissions still apply.
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    (media_root / "images").mkdir(parents=True)
    numbers = range(1, 11)
    result = ingest(
        series, *[(f"chordoma_{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in numbers]
    )
    assert len(result.accepted) == 10
    assert failing_store.routes == ["write_and_hash"] * 10
    assert threading.current_thread().name not in failing_store.threads
    assert len(stored_files(media_root)) == 10
    for image in Image.objects.all():
        path = Path(image.file.path)
        assert path.parent == media_root / "images" and "chordoma" not in path.name
        assert path.stat().st_mode & 0o777 == 0o640
        content = path.read_bytes()
        assert len(content) == image.size_bytes
        assert image.sha256 == hashlib.sha256(content).hexdigest()
        assert pydicom.dcmread(path).PatientIdentityRemoved == "YES"


def test_a_missing_folder_is_left_to_storage_save(series, media_root, settings, monkeypatch, failing_store):
    # storage.save creates folders with the storage's own folder permissions.
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
    result = ingest(series, ("a.dcm", sample("MR_small.dcm")))
    assert len(result.accepted) == 1 and failing_store.routes == ["_stored_image"]
    assert (media_root / "images").stat().st_mode & 0o777 == 0o750
    result = ingest(series, ("b.dcm", sample("MR_small.dcm")))
    assert failing_store.routes == ["_stored_image", "write_and_hash"]
    assert len(stored_files(media_root)) == 2


def test_other_storages_store_through_storage_save(series, media_root, settings, monkeypatch, failing_store):
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(3)])
    assert len(result.accepted) == 3 and failing_store.routes == ["_stored_image"] * 3
    assert stored_files(media_root) == []
    for image in Image.objects.all():
        with image.file.open("rb") as stored_file:
            assert hashlib.sha256(stored_file.read()).hexdigest() == image.sha256


def test_a_taken_file_name_is_drawn_again_and_the_file_there_is_kept(
    series, media_root, monkeypatch, failing_store
):
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    (media_root / "images").mkdir(parents=True)
    taken = media_root / "images" / "taken.dcm"
    taken.write_bytes(b"someone else's file")
    field = Image._meta.get_field("file")
    names = iter(["images/taken.dcm", "images/free.dcm"])
    monkeypatch.setattr(field, "upload_to", lambda instance, filename: next(names))
    result = ingest(series, ("a.dcm", sample("MR_small.dcm")))
    assert len(result.accepted) == 1 and failing_store.routes == ["write_and_hash"]
    assert taken.read_bytes() == b"someone else's file"
    assert Image.objects.get().file.name == "images/free.dcm"


def test_a_failed_write_into_a_created_file_removes_it_and_stores_no_row(
    series, media_root, monkeypatch, failing_store
):
    monkeypatch.setattr(services, "_pool_workers", lambda: 0)
    (media_root / "images").mkdir(parents=True)
    failing_store.fail_at = 1
    with pytest.raises(OSError, match="disk full"):
        ingest(series, ("a.dcm", sample("MR_small.dcm")))
    assert failing_store.routes == ["write_and_hash"]
    assert stored_files(media_root) == [] and not Image.objects.exists()


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
    later = TrackedUpload("b.dcm", sample("CT_small.dcm"))
    items = uploaded_files([small, huge, later])
    first = next(items)
    assert first.data == sample("MR_small.dcm") and later.reads == []  # not read ahead
    result = images_ingest(series=series, files=items)
    assert huge.reads == [SNIFF_BYTES]  # only its first bytes, to tell a zip from DICOM
    assert [(o.name, o.accepted) for o in result.outcomes] == [("huge.dcm", False), ("b.dcm", True)]
    assert "over the" in result.outcomes[0].reason and len(stored_files(media_root)) == 1


@pytest.mark.parametrize("iov_max", [1024, 2])
def test_write_and_hash_writes_every_piece_when_the_kernel_takes_less_at_a_time(
    tmp_path, monkeypatch, iov_max
):
    monkeypatch.setattr(file_writes, "_IOV_MAX", iov_max)
    handed = []

    def short_writev(fd, buffers):  # takes at most 1000 bytes of the first buffer per call
        handed.append(len(buffers))
        return os.write(fd, bytes(buffers[0][:1000]))

    monkeypatch.setattr(file_writes.os, "writev", short_writev)
    pieces = (b"head" * 10, bytes(range(256)) * 30, b"", b"middle", bytes(range(256)) * 20, b"tail")
    fd = os.open(tmp_path / "stored.dcm", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        digest = file_writes.write_and_hash(fd, pieces)
    finally:
        os.close(fd)
    whole = b"".join(pieces)
    assert (tmp_path / "stored.dcm").read_bytes() == whole
    assert digest == hashlib.sha256(whole).hexdigest()
    assert len(handed) > len(pieces) and max(handed) <= iov_max


# -- workers: slots, spool files linked into storage ------------------------------------------------


def test_a_file_no_slot_can_take_is_prepared_here_with_the_same_outcome(
    case, series, media_root, pool_calls, monkeypatch
):
    # Shared memory smaller than the files in flight (a container's 64 MB /dev/shm, say): the
    # slot write fails and that file is prepared in this process instead; nothing is lost.
    real_pwrite = os.pwrite
    refused = []

    def pwrite(descriptor, data, offset):
        if len(refused) < 5:
            refused.append(len(data))
            raise OSError(28, "No space left on device")
        return real_pwrite(descriptor, data, offset)

    monkeypatch.setattr(workers.os, "pwrite", pwrite)
    files = [(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(1, 21)]
    pooled = ingest(series, *files)
    assert pool_calls == [2] and len(refused) == 5 and len(pooled.accepted) == 20
    monkeypatch.setattr(services, "POOL_MIN_FILES", 10**6)
    in_process = ingest(series_create(case=case, label="Again", modality="MR"), *files)
    assert stored_view(pooled) == stored_view(in_process)


def slot_descriptors() -> list[str]:
    """This process's open descriptors of worker slots (Linux; elsewhere none can be seen)."""
    if not os.path.isdir("/proc/self/fd"):
        return []
    found = []
    for descriptor in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            target = os.readlink(f"/proc/self/fd/{descriptor}")
            if target.startswith("/memfd:ingest-slot") or "ingest-slot-" in target:
                found.append(target)
    return found


def test_workers_stop_and_their_slots_go_when_the_upload_ends(series, pool_calls, monkeypatch):
    pools = []
    real_init = workers.Workers.__init__

    def init(pool, *args, **kwargs):
        real_init(pool, *args, **kwargs)
        pools.append((list(pool.processes), slot_descriptors()))

    monkeypatch.setattr(workers.Workers, "__init__", init)
    result = ingest(series, *[(f"{n}.dcm", dicom_bytes("MR_small.dcm", InstanceNumber=n)) for n in range(12)])
    [(processes, slots_open)] = pools
    assert len(processes) == 2 and all(process.exitcode == 0 for process in processes)  # told to stop
    if os.path.isdir("/proc/self/fd"):
        assert len(slots_open) == 2 * services.POOL_FILES_AHEAD_PER_WORKER and slot_descriptors() == []
    assert result.workers == 2 and result.worker_cpu_seconds > 0  # as they reported it, stopping


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/self/fd (Linux)")
@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "unlinked file"])
def test_a_slot_has_no_name_that_leads_to_the_uploaded_bytes(tmp_path, monkeypatch, memfd):
    # A slot holds a file as uploaded, before de-identification: nobody may find it by a name,
    # and it must not outlive the processes however they end.
    if not memfd:
        monkeypatch.delattr(workers.os, "memfd_create", raising=False)
    context = multiprocessing.get_context("fork")
    with workers.Workers(
        2, 2, seed="ab" * 16, date_offset_days=-400, spool=str(tmp_path), context=context
    ) as pool:
        for descriptors in pool.descriptors:
            for descriptor in descriptors:
                target = os.readlink(f"/proc/self/fd/{descriptor}")
                assert target.startswith("/memfd:") if memfd else target.endswith("(deleted)"), target
        first = pool.submit("a.dcm", sample("MR_small.dcm"))  # and the worker reads it all the same
        assert workers.reply_result(pool.result(first))[1]["rows"] == 64
    assert [path.suffix for path in tmp_path.iterdir()] == [".part"]  # the prepared file only


def test_a_workers_replies_are_taken_in_the_order_of_its_tickets(tmp_path):
    context = multiprocessing.get_context("fork")
    with workers.Workers(
        1, 2, seed="ab" * 16, date_offset_days=-400, spool=str(tmp_path), context=context
    ) as pool:
        first = pool.submit("a.dcm", sample("MR_small.dcm"))
        second = pool.submit("b.dcm", b"not DICOM")
        assert pool.submit("c.dcm", b"x") is None  # both slots taken
        with pytest.raises(ValueError, match="order"):
            pool.result(second)
        spooled, fields, _ = workers.reply_result(pool.result(first))
        assert fields["sha256"] == hashlib.sha256(Path(spooled.path).read_bytes()).hexdigest()
        rejection = workers.reply_result(pool.result(second))
        assert isinstance(rejection, RejectedFile) and "not a DICOM file" in rejection.reason
        third = pool.submit("c.dcm", sample("CT_small.dcm"))  # in the slot `second` had
        assert (third.worker, third.slot) == (second.worker, second.slot)
        with pytest.raises(ValueError, match="order"):
            pool.result(second)  # answered already: it is not `third`, though it names the same slot
        assert workers.reply_result(pool.result(third))[1]["modality"] == "CT"


class NeedsTwoArguments(Exception):
    def __init__(self, what, why):
        super().__init__(f"{what}: {why}")


def test_a_worker_error_reaches_this_process_with_its_traceback_even_if_it_will_not_unpickle():
    sent = preparation._picklable(NeedsTwoArguments("slice 3", "odd header"))  # as a worker sends it
    assert type(sent) is RuntimeError and str(sent) == "NeedsTwoArguments: slice 3: odd header"
    assert preparation._picklable(ValueError("plain")).args == ("plain",)
    with pytest.raises(ValueError, match="plain") as raised:
        workers.reply_result(("failed", (ValueError("plain"), "Traceback ... line 7, in prepare")))
    assert "line 7, in prepare" in raised.value.__notes__[0]


def test_a_spooled_file_is_linked_under_a_new_name_when_the_first_is_taken(
    tmp_path, media_root, monkeypatch, settings
):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640  # the storage's, not the spool file's 0600
    (media_root / "images").mkdir(parents=True)
    taken = media_root / "images" / "taken.dcm"
    taken.write_bytes(b"someone else's file")
    spooled = tmp_path / "prepared.part"
    spooled.write_bytes(b"prepared")
    field = Image._meta.get_field("file")
    names = iter(["images/taken.dcm", "images/free.dcm"])
    monkeypatch.setattr(field, "upload_to", lambda instance, filename: next(names))
    image = Image(kind=Image.Kind.DICOM)
    assert file_writes.placed_file(image, str(spooled), set()) == str(media_root / "images" / "free.dcm")
    assert image.file.name == "images/free.dcm" and not spooled.exists()
    assert taken.read_bytes() == b"someone else's file"
    assert (media_root / "images" / "free.dcm").read_bytes() == b"prepared"
    assert (media_root / "images" / "free.dcm").stat().st_mode & 0o777 == 0o640


def test_a_spooled_file_on_another_file_system_is_left_to_storage_save(tmp_path, media_root, monkeypatch):
    (media_root / "images").mkdir(parents=True)
    spooled = tmp_path / "prepared.part"
    spooled.write_bytes(b"prepared")

    def link(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(file_writes.os, "link", link)
    assert file_writes.placed_file(Image(kind=Image.Kind.DICOM), str(spooled), set()) is None
    assert spooled.exists() and stored_files(media_root) == []


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", 8), (None, 8)],
    ids=["2 CPUs", "1.5 CPUs", "half a CPU", "no limit", "no cgroup v2"],
)
def test_a_containers_cpu_quota_caps_the_usable_cores(tmp_path, monkeypatch, cpu_max, expected):
    # docker run --cpus=2 on an 8-core host: the affinity shows 8 cores, the quota allows 2.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    limit = tmp_path / "cpu.max"
    if cpu_max is not None:
        limit.write_text(cpu_max)
    monkeypatch.setattr(services, "_CGROUP_CPU_MAX", str(limit))
    assert services._usable_cores() == expected
