"""Case bundles: a versioned zip that carries whole cases from one archive to another.

Layout of a bundle (format ``teaching-archive-bundle``, version 1)::

    manifest.json            format, version, created, case slugs, and the SHA-256 of every other file
    cases/<slug>.json        one case: every field, findings, differential (with the diagnosis entries),
                             references, regions (with their parents), tags, studies, series, images,
                             overlays, attribution, licence, status, revision summary
    images/<sha256>.<ext>    the stored, already de-identified image files, byte for byte

The manifest is the last entry of the zip (it lists the checksums of the entries before it); readers
find entries by name, so their order is no part of the format.

One writer (``export_bundle``, to a path or a file object; ``export_bundle_tempfile`` for a download)
and one reader (``import_bundle``) serve the ``export_cases``/``import_cases`` commands and the case
admin alike.

Import checks the whole bundle before it writes anything: format and version, well-formed JSON,
safe entry names, the number of entries and what they expand to, every file present with the
checksum the manifest gives, each case file holding the case the manifest names, and every image
file being what this archive stores (a DICOM file marked PatientIdentityRemoved YES by the
de-identification, or a PNG). The database writes happen in one transaction; a record that does not
fit the models is reported as a ``BundleError``; image files saved to storage before a failure are
deleted again, so a rejected or failed import leaves the database and storage as they were. The files
of replaced cases are deleted only once the transaction commits.
"""

import hashlib
import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

import pydicom
import reversion
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from reversion.models import Version

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from imaging.models import Annotation, Image, Series, Study
from imaging.raster import PNG_MAGIC

FORMAT = "teaching-archive-bundle"
VERSION = 1
MAX_ENTRY_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
MAX_ENTRIES = 100_000
SPOOL_BYTES = 8 * 1024 * 1024
CONFLICT_POLICIES = ("error", "skip", "rename", "replace")
SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # what a Case's SlugField accepts

CASE_FIELDS = [
    "title",
    "age",
    "sex",
    "clinical_history",
    "diagnosis_certainty",
    "diagnosis_proof",
    "treatment_outcome",
    "discussion",
    "teaching_points",
    "attribution",
    "licence",
    "status",
]
IMAGE_FIELDS = [
    "kind",
    "sha256",
    "size_bytes",
    "modality",
    "rows",
    "columns",
    "frame_count",
    "sort_key",
    "slice_position",
    "order",
    "caption",
    "deid_report",
    "needs_review",
    "review_reason",
]


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
    for study in case.studies.prefetch_related("series__images__annotations"):
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
        "final_diagnosis": _diagnosis_entry(case.final_diagnosis),
        "published_at": case.published_at.isoformat() if case.published_at else None,
        "created_at": case.created_at.isoformat(),
        "author": case.author.get_username() if case.author else "",
        "findings": [
            {"modality": f.modality, "study": f.study, "text": f.text, "order": f.order}
            for f in case.findings.all()
        ],
        "differential": [
            {
                "diagnosis": _diagnosis_entry(d.diagnosis),
                "rationale": d.rationale,
                "added_by_editors": d.added_by_editors,
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
        "revision_summary": _revision_summary(case),
    }
    return data, files


def export_bundle(cases, destination) -> dict:
    """Write the cases to a bundle (a path or a writable binary file object); returns the manifest.

    The one writer of the format, used by ``export_cases`` and by the admin's export action. Cases
    are written one at a time (only one case's image files are held in memory) and the manifest,
    which lists the checksums of everything else, comes last in the zip.
    """
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
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created": timezone.now().isoformat(),
            "cases": slugs,
            "files": dict(sorted(checksums.items())),
        }
        bundle.writestr("manifest.json", json.dumps(manifest, indent=2))
    return manifest


def export_bundle_tempfile(cases) -> tuple[IO[bytes], dict]:
    """The bundle in a temporary file (on disk beyond a few MB), rewound for reading, and its manifest.

    For callers that hand the bundle on rather than keep it, such as the admin's download; the file
    disappears when it is closed.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (the caller closes it)
    try:
        manifest = export_bundle(cases, spool)
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
        names = {info.filename for info in infos}
        if "manifest.json" not in names:
            raise BundleError("manifest.json is missing: this is not a case bundle")
        manifest = _load_json(archive, "manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError("manifest.json does not describe a teaching-archive bundle")
        if manifest.get("version") != VERSION:
            raise BundleError(
                f"unknown bundle format version {manifest.get('version')!r}; this archive reads {VERSION}"
            )
        checksums = manifest.get("files")
        if not isinstance(checksums, dict) or not isinstance(manifest.get("cases"), list):
            raise BundleError("manifest.json lacks its file list or case list")
        files = {}
        for path, expected in checksums.items():
            _safe_name(path)
            if path not in names:
                raise BundleError(f"{path}: listed in the manifest but missing from the bundle")
            content = archive.read(path)
            if hashlib.sha256(content).hexdigest() != expected:
                raise BundleError(f"{path}: checksum does not match the manifest (damaged or altered)")
            files[path] = content
        cases = []
        for slug in manifest["cases"]:
            if not isinstance(slug, str) or not SLUG.fullmatch(slug):
                raise BundleError(f"manifest.json: {slug!r} is not a case slug")
            path = f"cases/{slug}.json"
            if path not in files:
                raise BundleError(f"{path}: case listed in the manifest but not in its file list")
            case = _parse_case(path, files[path])
            if case["slug"] != slug:
                raise BundleError(f"{path}: holds the case {case['slug']!r}, not {slug!r}")
            cases.append(case)
        if len({case["slug"] for case in cases}) != len(cases):
            raise BundleError("manifest.json lists a case twice")
        for case in cases:
            try:
                images = list(_images_of(case))
            except (KeyError, TypeError) as error:
                raise BundleError(f"case {case['slug']}: malformed studies, series or images") from error
            for image in images:
                if not isinstance(image, dict) or image.get("file") not in files:
                    file = image.get("file") if isinstance(image, dict) else image
                    raise BundleError(f"case {case['slug']}: image file {file!r} is not in the bundle")
                _check_image(case["slug"], image, files[image["file"]])
        return CheckedBundle(manifest, cases, files)


def _check_image(slug: str, image: dict, content: bytes) -> None:
    """An image file is what this archive stores, and only that: a DICOM file its de-identification
    marked (PatientIdentityRemoved YES) or a re-encoded PNG. A bundle cannot bring in what the ingest
    would have stripped."""
    where = f"case {slug}: {image['file']}"
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


def _load_json(archive: zipfile.ZipFile, name: str):
    try:
        return json.loads(archive.read(name))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{name}: malformed JSON ({error})") from error


def _parse_case(path: str, content: bytes) -> dict:
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path}: malformed JSON ({error})") from error
    required = {
        "slug",
        "title",
        "status",
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

# A record that passed the checks but does not fit the models (a missing key, a wrong type, a value the
# database refuses) is reported as a bundle error, not a crash.
RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, ValidationError, IntegrityError, DataError)


@dataclass
class ImportReport:
    """What an import did, by slug (``renamed`` maps a bundle's slug to the one it was given)."""

    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)


def _free_slug(slug: str) -> str:
    n = 2
    while Case.objects.filter(slug=f"{slug}-{n}").exists():
        n += 1
    return f"{slug}-{n}"


def _diagnosis(entry: dict) -> Diagnosis:
    diagnosis, created = Diagnosis.objects.get_or_create(
        slug=entry["slug"],
        defaults={
            name: entry.get(name, "" if name != "synonyms" else [])
            for name in ("name", "synonyms", "summary", "summary_source", "editorial_summary")
        },
    )
    if not created:
        # Keep the local entry; only learn synonyms it did not know.
        known = {s.lower() for s in diagnosis.synonyms}
        extra = [s for s in entry.get("synonyms", []) if s.lower() not in known]
        if extra:
            diagnosis.synonyms = [*diagnosis.synonyms, *extra]
            diagnosis.save(update_fields=["synonyms"])
    return diagnosis


def _region(entry: dict) -> Region:
    parent = None
    for node in entry["path"]:
        parent, _ = Region.objects.get_or_create(
            slug=node["slug"],
            defaults={"name": node["name"], "order": node.get("order", 0), "parent": parent},
        )
    return parent


def _create_case(data: dict, slug: str, files: dict[str, bytes], saved_files: list) -> Case:
    author = get_user_model().objects.filter(username=data.get("author") or None).first()
    case = Case.objects.create(
        slug=slug,
        **{name: data.get(name) if name == "age" else data.get(name, "") for name in CASE_FIELDS},
        final_diagnosis=_diagnosis(data["final_diagnosis"]) if data.get("final_diagnosis") else None,
        published_at=parse_datetime(data["published_at"]) if data.get("published_at") else None,
        created_at=parse_datetime(data["created_at"]) if data.get("created_at") else timezone.now(),
        author=author,
    )
    findings = {f["order"]: Finding.objects.create(case=case, **f) for f in data["findings"]}
    for item in data["differential"]:
        DifferentialItem.objects.create(
            case=case,
            diagnosis=_diagnosis(item["diagnosis"]),
            rationale=item.get("rationale", ""),
            added_by_editors=item.get("added_by_editors", False),
            order=item["order"],
        )
    for reference in data["references"]:
        Reference.objects.create(case=case, **reference)
    case.regions.set([_region(entry) for entry in data["regions"]])
    case.tags.set(data["tags"])
    for study_data in data["studies"]:
        study = Study.objects.create(
            case=case,
            modality=study_data["modality"],
            time_label=study_data["time_label"],
            order=study_data["order"],
        )
        for series_data in study_data["series"]:
            series = Series.objects.create(
                study=study,
                label=series_data["label"],
                order=series_data["order"],
                is_sample=series_data["is_sample"],
                finding=findings.get(series_data.get("finding_order")),
                teaching_preset=series_data.get("teaching_preset", ""),
                teaching_slice=series_data.get("teaching_slice"),
                teaching_zoom=series_data.get("teaching_zoom", 1.0),
            )
            for image_data in series_data["images"]:
                image = Image(
                    series=series, **{name: image_data[name] for name in IMAGE_FIELDS if name in image_data}
                )
                if image_data.get("reviewed"):
                    image.reviewed_at = timezone.now()
                content = files[image_data["file"]]
                image.file.save("bundle", ContentFile(content), save=False)
                saved_files.append(image.file.name)
                image.sha256 = hashlib.sha256(content).hexdigest()
                image.size_bytes = len(content)
                image.save()
                for note in image_data.get("annotations", []):
                    Annotation.objects.create(
                        image=image, finding=findings.get(note.pop("finding_order", None)), **note
                    )
    return case


def import_bundle(
    source, *, on_conflict: str = "error", by=None, max_total_bytes: int = MAX_TOTAL_BYTES
) -> ImportReport:
    """Import every case of a bundle, all or nothing; used by ``import_cases`` and the admin's import page.

    ``on_conflict`` says what happens to a case whose slug exists already: ``error`` (nothing is
    imported), ``skip``, ``rename`` (the next free ``<slug>-N``) or ``replace`` (the existing case,
    with its images, quiz attempts and workflow record, is deleted). Every imported case gets a first
    revision in its history, by ``by`` when given. A bundle that cannot be imported raises
    ``BundleError`` with the reason, and the database and storage stay as they were.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise BundleError(f"--on-conflict must be one of {', '.join(CONFLICT_POLICIES)}")
    bundle = read_bundle(source, max_total_bytes=max_total_bytes)
    clashes = [c["slug"] for c in bundle.cases if Case.objects.filter(slug=c["slug"]).exists()]
    if clashes and on_conflict == "error":
        raise SlugClash(clashes)
    report = ImportReport()
    saved_files: list[str] = []
    try:
        with transaction.atomic(), reversion.create_revision(atomic=False):
            if by is not None:
                reversion.set_user(by)
            reversion.set_comment(f"Imported from a case bundle made {bundle.manifest.get('created', '')}")
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
                try:
                    _create_case(data, slug, bundle.files, saved_files)
                except RECORD_ERRORS as error:
                    raise BundleError(
                        f"case {data['slug']}: the record cannot be stored ({type(error).__name__}: {error})"
                    ) from error
                report.imported.append(slug)
    except BaseException:
        for name in saved_files:
            default_storage.delete(name)
        raise
    return report
