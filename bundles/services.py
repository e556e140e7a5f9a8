"""Case bundles: a versioned zip that carries whole cases from one archive to another.

Layout of a bundle (format ``teaching-archive-bundle``, version 1)::

    manifest.json            format, version, created, case slugs, and the SHA-256 of every other file
    cases/<slug>.json        one case: every field, findings, differential (with the diagnosis entries),
                             references, regions (with their parents), tags, studies, series, images,
                             arrows, attribution, licence; and, for the reader only, the exporting
                             archive's status, dates, author and revision summary
    images/<sha256>.<ext>    the stored, de-identified image files, byte for byte

The manifest is the last entry of the zip (it lists the checksums of the entries before it); readers
find entries by name, so their order is no part of the format. Fields added since the first bundles
(accepted answers, editors' notes, where age and sex come from, "indistinguishable") are optional:
an older bundle imports with their defaults.

One writer (``export_bundle``, to a path or a file object; ``export_bundle_tempfile`` for a download)
and one reader (``import_bundle``) serve the ``export_cases``/``import_cases`` commands and the case
admin alike. Bundles exchange cases; they are no backup (a backup is ``pg_dump`` plus the media storage).

Import checks the whole bundle before it writes anything: format and version, well-formed JSON of a
bounded size, safe entry names, the number of entries and what they expand to, every file present
with the checksum the manifest gives, each case file holding the case the manifest names, and every
image file being of the kind this archive stores (a DICOM file that says it was de-identified, or a
PNG). Then, in one transaction, every record is checked as the admin checks it and written
(``bundles.records``: cases arrive as drafts), and every image file goes through the ingest, as
an upload does (``bundles.images``: de-identified and re-encoded again, flags never cleared).
A bundle that fails anywhere raises ``BundleError`` naming what is wrong; image files stored before
the failure are deleted again, so a rejected or failed import leaves the database and storage as
they were. The files of replaced cases are deleted only once the transaction commits.
"""

import hashlib
import io
import json
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

import pydicom
import reversion
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from reversion.models import Version

from bundles.images import IMAGE_FIELDS, case_images_create
from bundles.localisation import localisation_to_dict
from bundles.questions import questions_create, questions_to_dict
from bundles.records import CASE_FIELDS, DiagnosisChanges, RecordError, case_records_create
from cases.models import Case, Diagnosis, Region
from cases.upkeep import case_upkeep_deferred
from imaging.inputs import is_zip
from imaging.models import Image
from imaging.raster import PNG_MAGIC

FORMAT = "teaching-archive-bundle"
VERSION = 1
MAX_ENTRY_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
MAX_ENTRIES = 100_000
# The JSON entries are read whole and parsed in memory: bounded well above what real ones need (a
# manifest line is about 110 bytes, so 100,000 entries take about 11 MB; a case record a few hundred KB).
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
MAX_CASE_RECORD_BYTES = 8 * 1024 * 1024
SPOOL_BYTES = 8 * 1024 * 1024
CONFLICT_POLICIES = ("error", "skip", "rename", "replace")
SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # what a Case's SlugField accepts
SHA256 = re.compile(r"[0-9a-f]{64}")
# Errors zipfile raises while reading a damaged or unusual entry (bad CRC, truncated data, an
# unsupported compression method, encryption).
ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError)


class BundleError(Exception):
    """A bundle that cannot be imported, with a reason that names what is wrong."""


class SlugClash(BundleError):
    """Cases of the bundle whose slugs exist already, and no policy chosen for them."""

    def __init__(self, slugs: list[str]):
        self.slugs = slugs
        super().__init__(
            f"these slugs exist already: {', '.join(slugs)}; choose to skip, rename or replace them"
        )


# -- export -------------------------------------------------------------------------------------


def _diagnosis_entry(diagnosis: Diagnosis | None) -> dict | None:
    if diagnosis is None:
        return None
    return {
        "slug": diagnosis.slug,
        "name": diagnosis.name,
        "synonyms": diagnosis.synonyms,
        "accepted_answers": diagnosis.accepted_answers,
        "summary": diagnosis.summary,
        "summary_source": diagnosis.summary_source,
        "editorial_summary": diagnosis.editorial_summary,
    }


def _region_entry(region: Region) -> dict:
    chain = []
    node = region
    while node is not None:  # root first, so an import can create parents before children
        chain.insert(0, {"slug": node.slug, "name": node.name, "order": node.order})
        node = node.parent
    return {"slug": region.slug, "path": chain}


def _revision_summary(case: Case) -> list[dict]:
    if not reversion.is_registered(Case):
        return []
    versions = Version.objects.get_for_object(case).select_related("revision__user")
    return [
        {
            "date": version.revision.date_created.isoformat(),
            "user": version.revision.user.get_username() if version.revision.user else "",
            "comment": version.revision.get_comment(),
        }
        for version in versions
    ]


def case_to_dict(case: Case) -> tuple[dict, dict[str, bytes]]:
    """The case as bundle JSON, and the image files it refers to (bundle path → bytes)."""
    files: dict[str, bytes] = {}
    studies = []
    for study in case.studies.prefetch_related(
        "series__images__annotations", "series__localisation_questions__targets"
    ):
        series_list = []
        for series in study.series.all():
            images = []
            for image in series.images.all():
                with image.file.open("rb") as stored:
                    content = stored.read()
                path = f"images/{image.sha256}{PurePosixPath(image.file.name).suffix}"
                files[path] = content
                images.append(
                    {
                        **{name: getattr(image, name) for name in IMAGE_FIELDS},
                        "file": path,
                        "reviewed": image.reviewed_at is not None,
                        "annotations": [
                            {
                                "frame": a.frame,
                                "kind": a.kind,
                                "x": a.x,
                                "y": a.y,
                                "tail_x": a.tail_x,
                                "tail_y": a.tail_y,
                                "text": a.text,
                                "finding_order": a.finding.order if a.finding else None,
                            }
                            for a in image.annotations.all()
                        ],
                    }
                )
            series_list.append(
                {
                    "label": series.label,
                    "order": series.order,
                    "is_sample": series.is_sample,
                    "finding_order": series.finding.order if series.finding else None,
                    "teaching_preset": series.teaching_preset,
                    "teaching_slice": series.teaching_slice,
                    "teaching_zoom": series.teaching_zoom,
                    "images": images,
                    "localisation_questions": localisation_to_dict(series, list(series.images.all())),
                }
            )
        studies.append(
            {
                "modality": study.modality,
                "time_label": study.time_label,
                "order": study.order,
                "series": series_list,
            }
        )
    data = {
        "slug": case.slug,
        **{name: getattr(case, name) for name in CASE_FIELDS},
        "status": case.status,  # for the reader: an import makes every case a draft
        "final_diagnosis": _diagnosis_entry(case.final_diagnosis),
        "published_at": case.published_at.isoformat() if case.published_at else None,
        "created_at": case.created_at.isoformat(),
        "author": case.author.get_username() if case.author else "",
        "findings": [
            {
                "modality": f.modality,
                "study": f.study,
                "text": f.text,
                "editors_note": f.editors_note,
                "order": f.order,
            }
            for f in case.findings.all()
        ],
        "differential": [
            {
                "diagnosis": _diagnosis_entry(d.diagnosis),
                "rationale": d.rationale,
                "added_by_editors": d.added_by_editors,
                "editors_note": d.editors_note,
                "indistinguishable": d.indistinguishable,
                "order": d.order,
            }
            for d in case.differential_items.select_related("diagnosis")
        ],
        "references": [
            {"citation": r.citation, "url": r.url, "doi": r.doi, "pmid": r.pmid, "order": r.order}
            for r in case.references.all()
        ],
        "regions": [_region_entry(region) for region in case.regions.select_related("parent__parent")],
        "tags": sorted(case.tags.names()),
        "studies": studies,
        **questions_to_dict(case),
        "revision_summary": _revision_summary(case),
    }
    return data, files


def export_bundle(cases, destination, *, on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the cases to a bundle (a path or a writable binary file object); returns the manifest.

    The one writer of the format, used by ``export_cases`` and by the admin's export (a task). Cases
    are written one at a time (only one case's image files are held in memory) and the manifest,
    which lists the checksums of everything else, comes last in the zip. `on_progress` is called with
    (cases written, cases in all) after each case.
    """
    total = cases.count() if on_progress else 0
    checksums: dict[str, str] = {}
    slugs = []
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as bundle:

        def write(path: str, content: bytes) -> None:
            if path in checksums:  # the same stored file in two cases: one copy
                return
            # Images are already compressed; storing them saves time and keeps them byte-identical anyway.
            kind = zipfile.ZIP_STORED if path.startswith("images/") else zipfile.ZIP_DEFLATED
            bundle.writestr(path, content, compress_type=kind)
            checksums[path] = hashlib.sha256(content).hexdigest()

        for case in cases.select_related("final_diagnosis", "author"):
            data, files = case_to_dict(case)
            for path, content in sorted(files.items()):
                write(path, content)
            write(f"cases/{case.slug}.json", json.dumps(data, indent=2, ensure_ascii=False).encode())
            slugs.append(case.slug)
            if on_progress:
                on_progress(len(slugs), total)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created": timezone.now().isoformat(),
            "cases": slugs,
            "files": dict(sorted(checksums.items())),
        }
        bundle.writestr("manifest.json", json.dumps(manifest, indent=2))
    return manifest


def export_bundle_tempfile(cases, *, on_progress=None) -> tuple[IO[bytes], dict]:
    """The bundle in a temporary file (on disk beyond a few MB), rewound for reading, and its manifest.

    For callers that hand the bundle on rather than keep it, such as the admin's export task, which
    stores it for download; the file disappears when it is closed.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (the caller closes it)
    try:
        manifest = export_bundle(cases, spool, on_progress=on_progress)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, manifest


# -- reading and checking ------------------------------------------------------------------------


@dataclass
class CheckedBundle:
    manifest: dict
    cases: list[dict]
    files: dict[str, bytes] = field(repr=False)


def _safe_name(name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"hostile path in bundle: {name!r}")


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except ZIP_READ_ERRORS as error:
        raise BundleError(f"{name}: cannot be read from the zip ({error})") from error


def _json(name: str, content: bytes):
    try:
        return json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise BundleError(f"{name}: malformed JSON ({reason})") from error


def _manifest(archive: zipfile.ZipFile, sizes: dict[str, int]) -> dict:
    if "manifest.json" not in sizes:
        raise BundleError("manifest.json is missing: this is not a case bundle")
    if sizes["manifest.json"] > MAX_MANIFEST_BYTES:
        raise BundleError(f"manifest.json is larger than the limit of {MAX_MANIFEST_BYTES} bytes")
    manifest = _json("manifest.json", _read(archive, "manifest.json"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError("manifest.json does not describe a teaching-archive bundle")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"unknown bundle format version {manifest.get('version')!r}; this archive reads {VERSION}"
        )
    checksums, slugs = manifest.get("files"), manifest.get("cases")
    if not isinstance(checksums, dict) or not isinstance(slugs, list):
        raise BundleError("manifest.json lacks its file list or case list")
    for path, checksum in checksums.items():
        _safe_name(path)
        if not isinstance(checksum, str) or not SHA256.fullmatch(checksum):
            raise BundleError(f"manifest.json: the checksum of {path!r} is not a SHA-256 in hex")
    for slug in slugs:
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            raise BundleError(f"manifest.json: {slug!r} is not a case slug")
    if len(set(slugs)) != len(slugs):
        raise BundleError("manifest.json lists a case twice")
    return manifest


def read_bundle(source, *, max_total_bytes: int = MAX_TOTAL_BYTES) -> CheckedBundle:
    """Open and verify a bundle completely, writing nothing.

    ``max_total_bytes`` bounds what the entries may expand to (the declared sizes, which zipfile
    enforces while reading): the whole bundle is held in memory while it is checked and imported.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise BundleError(f"not a readable zip file ({error})") from error
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise BundleError(f"bundle has {len(infos)} entries, more than the limit of {MAX_ENTRIES}")
        for info in infos:
            _safe_name(info.filename)
            if info.file_size > MAX_ENTRY_BYTES:
                raise BundleError(f"{info.filename}: entry is larger than {MAX_ENTRY_BYTES} bytes")
        expanded = sum(info.file_size for info in infos)
        if expanded > max_total_bytes:
            raise BundleError(f"bundle expands to {expanded} bytes, more than the limit of {max_total_bytes}")
        sizes = {info.filename: info.file_size for info in infos}
        manifest = _manifest(archive, sizes)
        for slug in manifest["cases"]:
            path = f"cases/{slug}.json"
            if path not in manifest["files"]:
                raise BundleError(f"{path}: case listed in the manifest but not in its file list")
            if sizes.get(path, 0) > MAX_CASE_RECORD_BYTES:
                raise BundleError(f"{path}: larger than the limit of {MAX_CASE_RECORD_BYTES} bytes")
        files = {}
        for path, expected in manifest["files"].items():
            if path not in sizes:
                raise BundleError(f"{path}: listed in the manifest but missing from the bundle")
            content = _read(archive, path)
            if hashlib.sha256(content).hexdigest() != expected:
                raise BundleError(f"{path}: checksum does not match the manifest (damaged or altered)")
            files[path] = content
    cases = []
    for slug in manifest["cases"]:
        path = f"cases/{slug}.json"
        case = _parse_case(path, files[path])
        if case["slug"] != slug:
            raise BundleError(f"{path}: holds the case {case['slug']!r}, not {slug!r}")
        cases.append(case)
    for case in cases:
        try:
            images = list(_images_of(case))
        except (KeyError, TypeError) as error:
            raise BundleError(f"case {case['slug']}: malformed studies, series or images") from error
        for image in images:
            file = image.get("file") if isinstance(image, dict) else image
            if not isinstance(file, str) or file not in files or not file.startswith("images/"):
                raise BundleError(f"case {case['slug']}: image file {file!r} is not in the bundle")
            _check_image(case["slug"], image, files[file])
    return CheckedBundle(manifest, cases, files)


def _check_image(slug: str, image: dict, content: bytes) -> None:
    """An image file is of a kind this archive stores: a DICOM file that says it was de-identified
    (the format holds nothing else), or a PNG. Neither claim is trusted: the import de-identifies and
    re-encodes every file again (``bundles.images``); this only refuses a bundle that is not one."""
    where = f"case {slug}: {image['file']}"
    if is_zip(image["file"], content):
        raise BundleError(f"{where}: a zip archive, not an image file")  # the ingest would unpack it
    if image.get("kind") == Image.Kind.DICOM:
        try:
            dataset = pydicom.dcmread(io.BytesIO(content), stop_before_pixels=True)
        except Exception as error:  # pydicom raises many kinds on a damaged header
            raise BundleError(f"{where}: not a readable DICOM file ({type(error).__name__})") from error
        if str(dataset.get("PatientIdentityRemoved", "")).upper() != "YES":
            raise BundleError(f"{where}: not de-identified (PatientIdentityRemoved is not YES)")
    elif image.get("kind") == Image.Kind.RASTER:
        if not content.startswith(PNG_MAGIC):
            raise BundleError(f"{where}: not a PNG file")
    else:
        raise BundleError(f"{where}: unknown image kind {image.get('kind')!r}")


def _parse_case(path: str, content: bytes) -> dict:
    data = _json(path, content)
    required = {
        "slug",
        "title",
        "findings",
        "differential",
        "references",
        "regions",
        "tags",
        "studies",
    }
    if not isinstance(data, dict) or not required <= set(data):
        missing = sorted(required - set(data)) if isinstance(data, dict) else sorted(required)
        raise BundleError(f"{path}: not a case record (missing {', '.join(missing)})")
    return data


def _images_of(case: dict):
    for study in case["studies"]:
        for series in study["series"]:
            yield from series["images"]


# -- import --------------------------------------------------------------------------------------

# A record that passed the checks but that the database still refuses (a race with another writer,
# a value beyond what a column holds) is reported as a bundle error, not a crash.
DATABASE_ERRORS = (IntegrityError, DataError)


@dataclass
class ImportReport:
    """What an import did, by slug (``renamed`` maps a bundle's slug to the one it was given).

    Every imported case is a draft of ``author`` (a username; "" for none). ``images_flagged``
    counts the imported images that wait for an editor's burned-in text review;
    ``diagnoses_created`` and ``diagnoses_updated`` name the diagnoses the bundle added, and those
    that learned synonyms or accepted answers from it.
    """

    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)
    author: str = ""
    images_flagged: int = 0
    diagnoses_created: list[str] = field(default_factory=list)
    diagnoses_updated: list[str] = field(default_factory=list)


def import_report_message(report: ImportReport) -> str:
    """The report in a few sentences, as the admin's import shows it."""
    parts = [
        f"Imported {len(report.imported)} case(s)"
        + (f": {', '.join(report.imported)}." if report.imported else ".")
    ]
    if report.renamed:
        parts.append(
            "Renamed (the slug existed): "
            + ", ".join(f"{old} → {new}" for old, new in report.renamed.items())
            + "."
        )
    if report.replaced:
        parts.append(f"Replaced: {', '.join(report.replaced)}.")
    if report.skipped:
        parts.append(f"Skipped (exist already): {', '.join(report.skipped)}.")
    if report.imported:
        parts.append(
            f"They are drafts of {report.author or 'nobody'}, to be published after the usual checks; "
            f"{report.images_flagged} image(s) wait for a burned-in text review."
        )
    if report.diagnoses_created:
        parts.append(f"New diagnoses from the bundle: {', '.join(report.diagnoses_created)}.")
    if report.diagnoses_updated:
        updated = ", ".join(report.diagnoses_updated)
        parts.append(f"Diagnoses given synonyms or accepted answers by the bundle: {updated}.")
    return " ".join(parts)


def _free_slug(slug: str) -> str:
    n = 2
    while Case.objects.filter(slug=f"{slug}-{n}").exists():
        n += 1
    return f"{slug}-{n}"


def import_bundle(
    source,
    *,
    on_conflict: str = "error",
    by=None,
    author=None,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    on_progress: Callable[[int, int], None] | None = None,
    on_written: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import every case of a bundle, all or nothing; used by ``import_cases`` and the admin's import page.

    Every case arrives as a draft of `author` (by default `by`, the importer), its images
    de-identified and re-encoded by the ingest with flags never cleared; an editor publishes it after
    the usual checks. ``on_conflict`` says what happens to a case whose slug exists already: ``error``
    (nothing is imported), ``skip``, ``rename`` (the next free ``<slug>-N``) or ``replace`` (the
    existing case, with its images, quiz attempts and workflow record, is deleted). Every imported
    case gets a first revision in its history, by `by` when given. A bundle that cannot be imported
    raises ``BundleError`` with the reason, and the database and storage stay as they were.

    `on_progress` is called with (cases handled, cases in the bundle) once the bundle is checked and
    after each case's images. `on_written` is given the report inside the import's transaction, before
    the imported cases' search documents and facet sets are written (once each, at its end): whatever it
    writes commits with the import, and an exception it raises, or one in that last step, undoes it all
    (the stored image files included), as any failure does.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise BundleError(f"--on-conflict must be one of {', '.join(CONFLICT_POLICIES)}")
    bundle = read_bundle(source, max_total_bytes=max_total_bytes)
    progress = on_progress or (lambda done, total: None)
    progress(0, len(bundle.cases))
    clashes = [c["slug"] for c in bundle.cases if Case.objects.filter(slug=c["slug"]).exists()]
    if clashes and on_conflict == "error":
        raise SlugClash(clashes)
    author = author if author is not None else by
    report = ImportReport(author=author.get_username() if author is not None else "")
    changes = DiagnosisChanges()
    stored: list[str] = []  # image files the ingest stored: deleted again if the import fails
    try:
        # Each case's search document and facet sets are written once, when all its rows are in.
        with transaction.atomic(), reversion.create_revision(atomic=False), case_upkeep_deferred():
            if by is not None:
                reversion.set_user(by)
            reversion.set_comment(f"Imported from a case bundle made {bundle.manifest.get('created', '')}")
            # Every case's text first, then the images: a bad record is found before any file is ingested.
            written = []
            for data in bundle.cases:
                slug = data["slug"]
                if slug in clashes:
                    if on_conflict == "skip":
                        report.skipped.append(slug)
                        continue
                    if on_conflict == "rename":
                        report.renamed[slug] = slug = _free_slug(slug)
                    if on_conflict == "replace":
                        # Its images' files and renders go once this commits (imaging.cleanup).
                        Case.objects.filter(slug=slug).delete()
                        report.replaced.append(slug)
                with _named_errors(data["slug"]):
                    records = case_records_create(data, slug=slug, author=author, changes=changes)
                    questions_create(data, case=records.case)
                    written.append((data, records))
                report.imported.append(slug)
            handled = len(report.skipped)
            progress(handled, len(bundle.cases))
            for data, records in written:
                with _named_errors(data["slug"]):
                    report.images_flagged += case_images_create(
                        data,
                        case=records.case,
                        findings=records.findings,
                        files=bundle.files,
                        by=by,
                        stored=stored,
                    )
                handled += 1
                progress(handled, len(bundle.cases))
            report.diagnoses_created = changes.created
            report.diagnoses_updated = [slug for slug in changes.updated if slug not in changes.created]
            if on_written:
                on_written(report)
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    return report


@contextmanager
def _named_errors(slug: str):
    """Record errors, and rows the database refuses all the same, raised as ``BundleError``."""
    try:
        with transaction.atomic():  # a savepoint: after a refused row, the stored files can still be listed
            yield
    except RecordError as error:
        raise BundleError(str(error)) from error
    except DATABASE_ERRORS as error:
        raise BundleError(
            f"case {slug}: the record cannot be stored ({type(error).__name__}: {error})"
        ) from error
