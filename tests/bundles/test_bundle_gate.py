"""The image gate for case bundles: every image through the ingest, every record checked, cases as drafts.

A source case (two CT slices of one study, an MR follow-up study, a PNG, an arrow, two references) is
exported, the bundle is made hostile in one way, and imported again. A refused bundle is refused by
name and leaves no row and no stored file behind (rows counted and storage listed before and after).
"""

import datetime as dt
import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.utils import timezone
from PIL import Image as PILImage
from PIL import PngImagePlugin
from pydicom.uid import generate_uid

from authoring.services import publish_blockers
from bundles.images import FLAGGED_BY_BUNDLE
from bundles.services import MAX_MANIFEST_BYTES, BundleError, case_to_dict, export_bundle, import_bundle
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from imaging.inputs import InputFile
from imaging.models import Annotation, DeidentificationKey, Image, Series, Upload
from imaging.services import images_ingest, series_create
from tests.helpers.bundle_jobs import ROW_MODELS as IMPORT_ROW_MODELS
from tests.helpers.bundles import media_files
from tests.helpers.dicom_samples import sample_dataset, to_bytes

pytestmark = pytest.mark.django_db

SOURCE = "gate-source"
RECORD = f"cases/{SOURCE}.json"
IMPORTED = f"{SOURCE}-2"  # imported beside the source (on_conflict="rename")
NAME = "Jane Roe"  # a patient's name that no stored file may hold, in any spelling below
NAME_SPELLINGS = (b"Jane Roe", b"Roe^Jane", b"ROE^JANE", b"Roe Memorial")
# Every model a bundle import writes rows of, and the gate's own records of the run.
ROW_MODELS = (*IMPORT_ROW_MODELS, Upload, DeidentificationKey)
GEOMETRY = (
    "Rows",
    "Columns",
    "PixelSpacing",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "SliceThickness",
)


def ct_slice(number: int, z: float) -> bytes:
    """A slice of one CT series (CT_small's study and series), at its own position."""
    dataset = sample_dataset("CT_small.dcm")
    dataset.StudyDate = dataset.SeriesDate = "20200101"
    dataset.InstanceNumber = number
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.ImagePositionPatient = [-158.135803, -179.035797, z]
    return to_bytes(dataset)


def png(pnginfo=None, exif: bytes | None = None) -> bytes:
    gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    buffer = io.BytesIO()
    extra = {"exif": exif} if exif else {}
    PILImage.fromarray(gradient, mode="L").save(buffer, format="PNG", pnginfo=pnginfo, **extra)
    return buffer.getvalue()


@pytest.fixture
def source(db, editor, diagnosis):
    final = diagnosis("Chordoma", synonyms=["notochordal sarcoma"], accepted_answers=["notochordal tumour"])
    other = diagnosis("Giant cell tumour")
    spine = Region.objects.create(name="Spine", slug="spine", order=1)
    sacrum = Region.objects.create(name="Sacrum", slug="sacrum", parent=spine, order=2)
    case = Case.objects.create(
        slug=SOURCE,
        title="Adult with sacral pain",
        age=61,
        sex="M",
        age_sex_source="From the request form.",
        clinical_history="Two years of sacral pain.",
        final_diagnosis=final,
        teaching_points="Midline sacral mass.",
        editors_notes="The editors measured the mass.",
        status=Case.Status.PUBLISHED,
        published_at=timezone.now(),
        author=editor,
    )
    finding = Finding.objects.create(
        case=case, modality="CT", study="Axial CT", text="A lytic mass.", editors_note="Added.", order=1
    )
    DifferentialItem.objects.create(
        case=case,
        diagnosis=other,
        rationale="Eccentric.",
        editors_note="Noted.",
        indistinguishable=True,
        order=1,
    )
    Reference.objects.create(case=case, citation="First source.", url="https://example.org/a", order=1)
    Reference.objects.create(case=case, citation="Second source.", url="http://example.org/b", order=2)
    case.regions.set([sacrum])
    case.tags.set(["sacrum", "bone tumour"])

    ct = series_create(case=case, label="Axial CT", modality="CT", finding=finding)
    images_ingest(
        series=ct, files=[InputFile("1.dcm", ct_slice(1, -75.7)), InputFile("2.dcm", ct_slice(2, -70.7))]
    )
    follow_up = sample_dataset("MR_small.dcm")
    follow_up.StudyDate = follow_up.SeriesDate = "20200315"  # 74 days after the CT
    mr = series_create(case=case, label="Sagittal T1", modality="MR", time_label="Follow-up")
    images_ingest(series=mr, files=[InputFile("mr.dcm", to_bytes(follow_up))])
    photo = series_create(case=case, label="Radiograph photo", modality="CR", time_label="Earlier")
    images_ingest(series=photo, files=[InputFile("film.png", png())])
    Series.objects.filter(pk=ct.pk).update(teaching_slice=2, teaching_zoom=1.5)
    first = ct.images.order_by("order").first()
    Image.objects.filter(pk=first.pk).update(caption="The mass")
    Annotation.objects.create(
        image=first, kind="arrow", x=0.4, y=0.5, tail_x=0.7, tail_y=0.2, finding=finding
    )
    return case


def export(case: Case) -> bytes:
    buffer = io.BytesIO()
    export_bundle(Case.objects.filter(pk=case.pk), buffer)
    return buffer.getvalue()


def entries_of(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def edited(bundle: bytes, edit) -> bytes:
    """The bundle after ``edit(record, entries)``, with a manifest whose checksums fit again: so the
    import sees a bundle that is whole, and hostile only in what `edit` did."""
    entries = entries_of(bundle)
    manifest = json.loads(entries.pop("manifest.json"))
    record = json.loads(entries[RECORD])
    edit(record, entries)
    entries[RECORD] = json.dumps(record).encode()
    manifest["files"] = {name: hashlib.sha256(content).hexdigest() for name, content in entries.items()}
    return zipped({**entries, "manifest.json": json.dumps(manifest).encode()})


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def images_of(record: dict) -> list[dict]:
    return [image for study in record["studies"] for series in study["series"] for image in series["images"]]


def image_record(record: dict, kind: str, index: int = 0) -> dict:
    return [image for image in images_of(record) if image["kind"] == kind][index]


def snapshot(media_root) -> dict:
    return {
        **{model.__name__: model.objects.count() for model in ROW_MODELS},
        "files": media_files(media_root),
    }


def refused(bundle: bytes, media_root) -> str:
    """Import `bundle`, which must be refused and change nothing; returns the reason."""
    before = snapshot(media_root)
    with pytest.raises(BundleError) as refusal:
        import_bundle(io.BytesIO(bundle), on_conflict="rename")
    assert snapshot(media_root) == before
    return str(refusal.value)


def imported(bundle: bytes, **options) -> Case:
    """The case of `bundle`, imported beside the source (the first time as ``<slug>-2``)."""
    report = import_bundle(io.BytesIO(bundle), on_conflict="rename", **options)
    [slug] = report.imported
    return Case.objects.get(slug=slug)


def stored_bytes(case: Case) -> list[bytes]:
    images = Image.objects.filter(series__study__case=case).order_by(
        "series__study__order", "series__order", "order"
    )
    return [image.file.read() for image in images]


# -- references, status, author ----------------------------------------------------------------------


def second_url(url: str):
    def edit(record, entries):
        record["references"][1]["url"] = url

    return edit


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "ftp://example.org/file",
        "example.org/no-scheme",
    ],
)
def test_a_reference_url_other_than_http_or_https_is_refused_by_name(source, media_root, url):
    reason = refused(edited(export(source), second_url(url)), media_root)
    assert reason == f"case {SOURCE}, reference 2: URL scheme must be http or https"


def test_a_malformed_https_url_is_refused_too(source, media_root):
    reason = refused(edited(export(source), second_url("https://exa mple.org/<script>")), media_root)
    assert reason == f"case {SOURCE}, reference 2: Enter a valid URL."


def test_a_case_claiming_to_be_published_arrives_as_a_draft_of_the_importer(source, editor, admin_user):
    def claims(record, entries):
        record["status"] = "published"
        record["published_at"] = "2024-01-01T00:00:00+00:00"
        record["author"] = admin_user.username  # a bundle cannot choose whose case it is

    bundle = edited(export(source), claims)
    case = imported(bundle, by=editor)
    assert (case.slug, case.status, case.published_at, case.author) == (IMPORTED, "draft", None, editor)
    assert not Case.objects.published().filter(slug=IMPORTED).exists()

    chosen = imported(bundle, by=editor, author=admin_user)  # the author the editor chooses
    assert (chosen.status, chosen.published_at, chosen.author) == ("draft", None, admin_user)


# -- images: flags, text chunks, identifying headers -------------------------------------------------


def test_a_burned_in_flag_cleared_in_the_bundle_arrives_set(source, editor, media_root):
    def cleared(record, entries):
        ct = image_record(record, "dicom")
        dataset = pydicom.dcmread(io.BytesIO(entries[ct["file"]]))
        dataset.BurnedInAnnotation = "YES"  # the pixels carry text …
        entries[ct["file"]] = to_bytes(dataset)
        photo = image_record(record, "raster")
        for image in (ct, photo):  # … and the bundle says nobody need look
            image.update(needs_review=False, review_reason="", reviewed=True)
        second = image_record(record, "dicom", 1)
        second.update(needs_review=True, review_reason="", reviewed=True)  # a flag the bundle adds

    source_second = Image.objects.filter(series__study__case=source, kind="dicom").order_by(
        "series__study__order", "order"
    )[1]
    assert not source_second.needs_review  # so the flag below is the bundle's
    case = imported(edited(export(source), cleared), by=editor)
    images = Image.objects.filter(series__study__case=case).order_by("series__study__order", "order")
    ct, second, _mr = [image for image in images if image.kind == "dicom"]
    photo = next(image for image in images if image.kind == "raster")
    for image in (ct, second, photo):
        assert image.is_flagged and image.reviewed_at is None and image.reviewed_by is None
    assert ct.review_reason and ct.review_reason != FLAGGED_BY_BUNDLE  # the ingest's own finding
    assert second.review_reason == FLAGGED_BY_BUNDLE
    assert any("burned-in" in blocker for blocker in publish_blockers(case))


def test_a_png_loses_its_text_exif_and_private_chunks(source, media_root):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", NAME)  # tEXt
    info.add_text("Comment", f"Patient {NAME}", zip=True)  # zTXt
    info.add_itxt("Description", f"Patient {NAME}", lang="en")  # iTXt
    info.add(b"prVt", NAME.encode())  # a private ancillary chunk
    exif = PILImage.Exif()
    exif[0x013B] = NAME  # Artist, in an eXIf chunk
    hostile = png(info, exif.tobytes())
    assert hostile.count(NAME.encode()) >= 3  # in tEXt, prVt and eXIf at least

    def swapped(record, entries):
        entries[image_record(record, "raster")["file"]] = hostile

    case = imported(edited(export(source), swapped))
    [stored] = [image for image in Image.objects.filter(series__study__case=case) if image.kind == "raster"]
    content = stored.file.read()
    assert not any(spelling in content for spelling in NAME_SPELLINGS)
    assert set(png_chunks(content)) <= {b"IHDR", b"PLTE", b"IDAT", b"IEND"}  # critical chunks only
    assert np.array_equal(pixels_of_png(content), pixels_of_png(hostile))


def png_chunks(content: bytes) -> list[bytes]:
    chunks, at = [], 8
    while at < len(content):
        length = int.from_bytes(content[at : at + 4], "big")
        chunks.append(content[at + 4 : at + 8])
        at += 12 + length
    return chunks


def pixels_of_png(content: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(content)))


def test_a_dicom_file_that_claims_to_be_de_identified_is_de_identified_anyway(source, media_root):
    def identified(record, entries):
        path = image_record(record, "dicom")["file"]
        dataset = pydicom.dcmread(io.BytesIO(entries[path]))
        dataset.PatientName = "Roe^Jane"
        dataset.OtherPatientNames = "ROE^JANE"
        dataset.InstitutionName = "Roe Memorial Hospital"
        dataset.private_block(0x0011, "HOSTILE", create=True).add_new(0x01, "LO", NAME)
        dataset.PatientIdentityRemoved = "YES"  # the claim a bundle's file makes
        entries[path] = to_bytes(dataset)
        assert b"Roe^Jane" in entries[path] and NAME.encode() in entries[path]

    case = imported(edited(export(source), identified))
    for content in stored_bytes(case):
        assert not any(spelling in content for spelling in NAME_SPELLINGS)
    first = pydicom.dcmread(io.BytesIO(stored_bytes(case)[0]))
    assert str(first.PatientName) != "Roe^Jane" and "InstitutionName" not in first


# -- bundles that are not bundles --------------------------------------------------------------------


def hostile_path(path: str):
    def edit(record, entries):
        image = image_record(record, "raster")
        entries[path] = entries.pop(image["file"])
        image["file"] = path

    return edit


@pytest.mark.parametrize(
    "path", ["../../escaped.png", "images/../../escaped.png", "/tmp/escaped.png", "C:\\escaped.png"]
)
def test_a_zip_slip_path_is_refused(source, media_root, tmp_path, path):
    reason = refused(edited(export(source), hostile_path(path)), media_root)
    assert reason == f"hostile path in bundle: {path!r}"
    assert not list(tmp_path.glob("**/escaped.png")) and not Path("/tmp/escaped.png").exists()


def test_a_zip_slip_entry_outside_the_manifest_is_refused_too(source, media_root):
    entries = entries_of(export(source))
    entries["../outside.txt"] = b"x"
    assert refused(zipped(entries), media_root) == "hostile path in bundle: '../outside.txt'"


def with_manifest(bundle: bytes, content: bytes) -> bytes:
    return zipped({**entries_of(bundle), "manifest.json": content})


def test_an_oversized_manifest_is_refused_unread(source, media_root):
    manifest = json.loads(entries_of(export(source))["manifest.json"])
    padded = json.dumps(manifest).encode()
    padded += b" " * (MAX_MANIFEST_BYTES + 1 - len(padded))
    reason = refused(with_manifest(export(source), padded), media_root)
    assert reason == f"manifest.json is larger than the limit of {MAX_MANIFEST_BYTES} bytes"


def manifest_changed(change):
    def content(manifest):
        change(manifest)
        return json.dumps(manifest).encode()

    return content


MALFORMED_MANIFESTS = {
    "not json": (lambda m: b"{format: bundle", "manifest.json: malformed JSON"),
    "nested too deeply": (
        lambda m: b"[" * 200_000 + b"]" * 200_000,
        "manifest.json: malformed JSON (nested too deeply)",
    ),
    "a list": (lambda m: b"[]", "manifest.json does not describe a teaching-archive bundle"),
    "bad checksum": (
        manifest_changed(lambda m: m["files"].__setitem__(RECORD, "not-a-sha256")),
        f"manifest.json: the checksum of {RECORD!r} is not a SHA-256 in hex",
    ),
    "cases not a list": (
        manifest_changed(lambda m: m.__setitem__("cases", SOURCE)),
        "manifest.json lacks its file list or case list",
    ),
    "a slug with a path": (
        manifest_changed(lambda m: m.__setitem__("cases", ["../gate-source"])),
        "manifest.json: '../gate-source' is not a case slug",
    ),
    "a case twice": (
        manifest_changed(lambda m: m.__setitem__("cases", [SOURCE, SOURCE])),
        "manifest.json lists a case twice",
    ),
}


@pytest.mark.parametrize("kind", MALFORMED_MANIFESTS)
def test_a_malformed_manifest_is_refused_by_name(source, media_root, kind):
    change, expected = MALFORMED_MANIFESTS[kind]
    bundle = export(source)
    manifest = json.loads(entries_of(bundle)["manifest.json"])
    reason = refused(with_manifest(bundle, change(manifest)), media_root)
    assert reason.startswith(expected)


def test_a_damaged_entry_is_refused_by_name(source, media_root):
    """An entry whose compressed data is broken (zlib fails or the CRC does not match) is a refusal."""
    bundle = bytearray(export(source))
    with zipfile.ZipFile(io.BytesIO(bytes(bundle))) as archive:
        info = archive.getinfo(RECORD)
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    bundle[data_start : data_start + 16] = zlib.compress(b"garbage")[:16]
    assert refused(bytes(bundle), media_root).startswith(f"{RECORD}: cannot be read from the zip")


def test_an_image_that_is_a_zip_is_refused(source, media_root):
    def nested(record, entries):
        path = image_record(record, "dicom")["file"]
        entries[path] = zipped({"a.dcm": entries[path], "b.dcm": entries[path]})

    reason = refused(edited(export(source), nested), media_root)
    assert reason.endswith("a zip archive, not an image file")


# -- diagnoses the archive does not know -------------------------------------------------------------


def test_an_unknown_diagnosis_is_created_from_the_bundle_and_reported(source, media_root):
    def new_entity(record, entries):
        record["differential"][0]["diagnosis"] = {
            "slug": "newly-described-entity",
            "name": "Newly described entity",
            "synonyms": ["NDE"],
            "accepted_answers": ["new entity"],
        }
        record["final_diagnosis"]["name"] = "A name this archive does not use"

    report = import_bundle(io.BytesIO(edited(export(source), new_entity)), on_conflict="rename")
    assert report.diagnoses_created == ["newly-described-entity"]
    created = Diagnosis.objects.get(slug="newly-described-entity")
    assert (created.name, created.synonyms, created.accepted_answers) == (
        "Newly described entity",
        ["NDE"],
        ["new entity"],
    )
    # A diagnosis the archive knows keeps its own entry.
    assert Case.objects.get(slug=IMPORTED).final_diagnosis.name == "Chordoma"


def test_an_unknown_diagnosis_the_bundle_does_not_describe_is_refused(source, media_root):
    def bare(record, entries):
        record["differential"][0]["diagnosis"] = {"slug": "undescribed"}

    reason = refused(edited(export(source), bare), media_root)
    assert reason == (
        f"case {SOURCE}, differential item 1: diagnosis 'undescribed' is new to this archive, and its entry: "
        "name: This field cannot be blank."
    )


# -- every other record, checked as the admin checks it ---------------------------------------------


def first_series(record: dict) -> dict:
    return record["studies"][0]["series"][0]


def last_series(record: dict) -> dict:
    return record["studies"][-1]["series"][-1]


RECORD_REFUSALS = {
    "unknown field": (
        lambda r, e: r["findings"][0].__setitem__("colour", "red"),
        f"case {SOURCE}, finding 1: unknown field(s) 'colour'",
    ),
    "wrong type": (
        lambda r, e: r.__setitem__("title", ["a", "list"]),
        f"case {SOURCE}: title has the wrong type (list)",
    ),
    "age over the limit": (
        lambda r, e: r.__setitem__("age", 200),
        f"case {SOURCE}: age: Ensure this value is less than or equal to 130.",
    ),
    "unknown modality": (
        lambda r, e: r["findings"][0].__setitem__("modality", "XX"),
        f"case {SOURCE}, finding 1: modality: Value 'XX' is not a valid choice.",
    ),
    "blank citation": (
        lambda r, e: r["references"][0].__setitem__("citation", ""),
        f"case {SOURCE}, reference 1: citation: This field cannot be blank.",
    ),
    "a diagnosis name taken": (
        lambda r, e: r["differential"][0].__setitem__("diagnosis", {"slug": "gct-2", "name": "Chordoma"}),
        f"case {SOURCE}, differential item 1: diagnosis 'gct-2' is new to this archive, and its entry: "
        "name: Diagnosis with this Name already exists.",
    ),
    "a tag too long": (
        lambda r, e: r.__setitem__("tags", ["x" * 101]),
        f"case {SOURCE}, tag 1: not a tag name (text of 1 to 100 characters)",
    ),
    "series label names the diagnosis": (
        lambda r, e: first_series(r).__setitem__("label", "Chordoma, axial"),
        f"case {SOURCE}, study 1, series 1: The series label 'Chordoma, axial' names the diagnosis",
    ),
    "series names no finding of the case": (
        lambda r, e: first_series(r).__setitem__("finding_order", 9),
        f"case {SOURCE}, study 1, series 1: the case has no finding with order 9",
    ),
    # Refused after the images of earlier series were stored: they must be deleted again.
    "teaching slice past the end": (
        lambda r, e: last_series(r).__setitem__("teaching_slice", 5),
        f"case {SOURCE}, study 3, series 1: teaching_slice: This series has 1 slice(s); choose 1 to 1.",
    ),
    "arrow outside the image": (
        lambda r, e: image_record(r, "dicom")["annotations"][0].__setitem__("x", 1.5),
        "arrow 1: Constraint “annotation_point_inside_image” is violated.",
    ),
    "arrow on a frame the image lacks": (
        lambda r, e: image_record(r, "dicom")["annotations"][0].__setitem__("frame", 3),
        "arrow 1: frame 3, but the image has 1 frame(s)",
    ),
    "kind not the file's": (
        lambda r, e: image_record(r, "raster").__setitem__("kind", "dicom"),
        "not a readable DICOM file",
    ),
}


@pytest.mark.parametrize("kind", RECORD_REFUSALS)
def test_every_record_is_checked_and_a_refusal_names_it(source, media_root, kind):
    edit, expected = RECORD_REFUSALS[kind]
    reason = refused(edited(export(source), edit), media_root)
    assert expected in reason


# -- the round trip -----------------------------------------------------------------------------------

# Said again by the receiving archive's ingest (or its review), not carried over.
IMAGE_ROW_REKEYED = {
    "sha256",
    "size_bytes",
    "deid_report",
    "file",
    "reviewed",
    "needs_review",
    "review_reason",
}


def content_of(case: Case) -> dict:
    data, _files = case_to_dict(case)
    for name in ("slug", "status", "published_at", "author", "revision_summary"):
        data.pop(name)
    for study in data["studies"]:
        for series in study["series"]:
            for image in series["images"]:
                for name in IMAGE_ROW_REKEYED:
                    image.pop(name)
    return data


def study_date(dataset) -> dt.date:
    return dt.datetime.strptime(dataset.StudyDate, "%Y%m%d").date()


def test_a_round_trip_keeps_text_rows_tags_pixels_and_geometry_and_rekeys_uids_and_dates(source, media_root):
    bundle = export(source)
    record = json.loads(entries_of(bundle)[RECORD])
    exported = [
        pydicom.dcmread(io.BytesIO(entries_of(bundle)[image["file"]]))
        for image in images_of(record)
        if image["kind"] == "dicom"
    ]

    case = imported(bundle)
    assert content_of(case) == content_of(source)  # every text, row, tag, region, arrow, caption
    assert case.status == Case.Status.DRAFT

    images = Image.objects.filter(series__study__case=case).order_by(
        "series__study__order", "series__order", "order"
    )
    received = [pydicom.dcmread(image.file.path) for image in images if image.kind == "dicom"]
    assert len(received) == len(exported) == 3
    for before, after in zip(exported, received, strict=True):
        assert np.array_equal(before.pixel_array, after.pixel_array)
        for keyword in GEOMETRY:
            assert after.get(keyword) == before.get(keyword), keyword
        # Re-keyed by this archive: new UIDs …
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
            assert after.get(keyword) != before.get(keyword), keyword
        assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID

    # … consistent within the case: the two CT slices are still one series of one study, the MR another study.
    ct_1, ct_2, mr = received
    assert ct_1.StudyInstanceUID == ct_2.StudyInstanceUID != mr.StudyInstanceUID
    assert ct_1.SeriesInstanceUID == ct_2.SeriesInstanceUID and ct_1.SOPInstanceUID != ct_2.SOPInstanceUID
    assert ct_1.FrameOfReferenceUID == ct_2.FrameOfReferenceUID

    # Dates shifted by the receiving case's own offset, so the 74 days between the studies are kept.
    offset = dt.timedelta(days=DeidentificationKey.objects.get(case=case).date_offset_days)
    for before, after in zip(exported, received, strict=True):
        assert study_date(after) == study_date(before) + offset
    assert study_date(mr) - study_date(ct_1) == dt.timedelta(days=74)

    # The PNG's pixels, re-encoded.
    [photo] = [image for image in images if image.kind == "raster"]
    exported_png = entries_of(bundle)[image_record(record, "raster")["file"]]
    assert np.array_equal(pixels_of_png(photo.file.read()), pixels_of_png(exported_png))

    # As many stored files as rows; no DICOM file stored as the bundle had it (a PNG re-encoded from
    # a clean PNG may well come out byte for byte the same).
    assert len(media_files(media_root)) == Image.objects.count()
    bundle_digests = {
        hashlib.sha256(entries_of(bundle)[image["file"]]).hexdigest() for image in images_of(record)
    }
    assert not {image.sha256 for image in images if image.kind == "dicom"} & bundle_digests
