"""Case bundles: a full round trip, and every kind of bad bundle rejected without a trace."""

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bundles.services import BundleError, case_to_dict, export_bundle, import_bundle
from cases.facet_rows import facets_rebuild
from cases.models import Case, Diagnosis, DifferentialItem, FacetCount, Finding
from imaging.demo import demo_images_ensure
from imaging.models import Annotation, Image, Series, Upload
from tests.helpers.bundles import BAD_BUNDLES, empty_the_archive, media_files, rewrite, stored_images
from tests.helpers.facets import maintained

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


# What an import does not carry over: the exporting archive's workflow state and author (a case
# arrives as a draft of the importer), and what the ingest says again of each image it re-keys.
NOT_CARRIED = ("status", "published_at", "author", "revision_summary")
IMAGE_ROW_REKEYED = (
    "sha256",
    "size_bytes",
    "deid_report",
    "file",
    "reviewed",
    "needs_review",
    "review_reason",
)


def comparable(case: Case) -> dict:
    data, _files = case_to_dict(case)
    for name in NOT_CARRIED:
        data.pop(name)
    for study in data["studies"]:
        for series in study["series"]:
            for image in series["images"]:
                for name in IMAGE_ROW_REKEYED:
                    image.pop(name)
    return data


@pytest.fixture
def archive(seeded):
    demo_images_ensure()
    image = Image.objects.filter(series__study__case__slug="back-and-left-leg-pain-47f").first()
    finding = image.series.study.case.findings.first()
    Series.objects.filter(pk=image.series_id).update(finding=finding)
    Annotation.objects.create(
        image=image, kind="arrow", x=0.4, y=0.5, tail_x=0.7, tail_y=0.2, text="Lesion", finding=finding
    )
    # The content fields the format gained, filled in (the seed leaves some empty).
    Diagnosis.objects.filter(slug=image.series.study.case.final_diagnosis.slug).update(
        accepted_answers=["an accepted answer"]
    )
    Case.objects.update(age_sex_source="Stated by the source.", editors_notes="An editors' note.")
    Finding.objects.update(editors_note="Measured by the editors.")
    DifferentialItem.objects.filter(order=1).update(editors_note="Why it was kept.", indistinguishable=True)
    Case.objects.filter(slug="acute-back-pain-29m").update(status=Case.Status.DRAFT, published_at=None)
    return {case.slug: comparable(case) for case in Case.objects.all()}


def export_all() -> bytes:
    buffer = io.BytesIO()
    export_bundle(Case.objects.all(), buffer)
    return buffer.getvalue()


def test_round_trip_restores_every_field_tag_and_image_as_drafts(archive, media_root, editor):
    bundle = export_all()
    flagged_before = set(
        Image.objects.filter(needs_review=True).values_list(
            "series__study__case__slug", "order", "series__label"
        )
    )
    empty_the_archive()
    for name in media_files(media_root):
        (media_root / name).unlink()
    report = import_bundle(io.BytesIO(bundle), by=editor)
    assert sorted(report.imported) == sorted(archive)
    assert {case.slug: comparable(case) for case in Case.objects.all()} == archive
    assert report.author == editor.username
    assert set(Case.objects.values_list("status", "author")) == {(Case.Status.DRAFT, editor.pk)}
    # Every image went through the ingest again: stored anew, none of them reviewed, no flag lost.
    assert (
        len(stored_images(media_root))
        == Image.objects.count()
        == report.images_flagged + Image.objects.filter(needs_review=False).count()
    )
    assert not Image.objects.filter(reviewed_at__isnull=False).exists()
    assert flagged_before <= set(
        Image.objects.filter(needs_review=True).values_list(
            "series__study__case__slug", "order", "series__label"
        )
    )
    assert Upload.objects.filter(uploaded_by=editor).count() == Series.objects.count()
    assert Annotation.objects.get().finding.case.slug == "back-and-left-leg-pain-47f"
    # The new content fields made the trip.
    assert [d.slug for d in Diagnosis.objects.all() if d.accepted_answers == ["an accepted answer"]] != []
    assert DifferentialItem.objects.filter(indistinguishable=True, editors_note="Why it was kept.").exists()


NEW_FIELDS = {
    "case": ("age_sex_source", "editors_notes"),
    "finding": ("editors_note",),
    "differential": ("editors_note", "indistinguishable"),
    "diagnosis": ("accepted_answers",),
}


def older_bundle(entries):
    """The bundle as an archive made it before the content fields were added."""
    manifest = json.loads(entries["manifest.json"])
    for slug in manifest["cases"]:
        path = f"cases/{slug}.json"
        case = json.loads(entries[path])
        for name in NEW_FIELDS["case"]:
            case.pop(name)
        diagnoses = [case["final_diagnosis"], *(item["diagnosis"] for item in case["differential"])]
        for diagnosis in filter(None, diagnoses):
            diagnosis.pop("accepted_answers", None)
        for finding in case["findings"]:
            for name in NEW_FIELDS["finding"]:
                finding.pop(name)
        for item in case["differential"]:
            for name in NEW_FIELDS["differential"]:
                item.pop(name)
        entries[path] = json.dumps(case).encode()
        manifest["files"][path] = hashlib.sha256(entries[path]).hexdigest()
    entries["manifest.json"] = json.dumps(manifest).encode()


def test_an_older_bundle_without_the_new_fields_still_imports(archive, media_root):
    bundle = rewrite(export_all(), older_bundle)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive_file:
        assert not any(b"editors_note" in archive_file.read(name) for name in archive_file.namelist())
    empty_the_archive()
    report = import_bundle(io.BytesIO(bundle))
    assert sorted(report.imported) == sorted(archive)
    assert set(Case.objects.values_list("age_sex_source", "editors_notes")) == {("", "")}
    assert set(Finding.objects.values_list("editors_note", flat=True)) == {""}
    assert set(DifferentialItem.objects.values_list("editors_note", "indistinguishable")) == {("", False)}
    assert all(diagnosis.accepted_answers == [] for diagnosis in Diagnosis.objects.all())


@pytest.mark.parametrize("kind", BAD_BUNDLES)
def test_bad_bundles_are_rejected_and_change_nothing(archive, media_root, kind):
    bundle = rewrite(export_all(), BAD_BUNDLES[kind])
    empty_the_archive()
    files_before = media_files(media_root)
    with pytest.raises(BundleError) as rejected:
        import_bundle(io.BytesIO(bundle))
    assert str(rejected.value)
    assert Case.objects.count() == 0 and Image.objects.count() == 0 and Diagnosis.objects.count() == 0
    assert media_files(media_root) == files_before


def test_not_a_zip_is_rejected():
    with pytest.raises(BundleError, match="not a readable zip"):
        import_bundle(io.BytesIO(b"<html>not a bundle</html>"))


def test_a_failure_during_import_rolls_back_rows_and_files(archive, media_root, monkeypatch):
    bundle = export_all()
    empty_the_archive()
    files_before = media_files(media_root)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    # The arrows are written after their images were ingested and stored.
    monkeypatch.setattr("bundles.images._annotation_create", broken)
    with pytest.raises(RuntimeError):
        import_bundle(io.BytesIO(bundle))
    assert Case.objects.count() == 0 and Image.objects.count() == 0
    assert media_files(media_root) == files_before


def test_slug_clashes_need_an_explicit_policy(archive, media_root, django_capture_on_commit_callbacks):
    bundle = export_all()
    with pytest.raises(BundleError, match="exist already"):
        import_bundle(io.BytesIO(bundle))
    assert Case.objects.count() == 3

    assert sorted(import_bundle(io.BytesIO(bundle), on_conflict="skip").skipped) == sorted(archive)
    assert Case.objects.count() == 3

    renamed = import_bundle(io.BytesIO(bundle), on_conflict="rename").renamed
    assert renamed["acute-back-pain-29m"] == "acute-back-pain-29m-2"
    assert Case.objects.count() == 6

    images_before = Image.objects.count()
    stored_before = stored_images(media_root)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        replaced = import_bundle(io.BytesIO(bundle), on_conflict="replace").replaced
    assert sorted(replaced) == sorted(archive)
    assert Case.objects.count() == 6 and Image.objects.count() == images_before
    # The replaced cases' old files stay until the transaction commits (a rollback still needs them) …
    assert len(stored_images(media_root)) > len(stored_before)
    for callback in callbacks:
        callback()
    # … and are gone then, not orphaned: as many stored images as rows.
    assert len(stored_images(media_root)) == len(stored_before) == Image.objects.count()


def test_commands_export_a_subset_and_report_rejections(archive, tmp_path):
    out = tmp_path / "one.zip"
    call_command("export_cases", str(out), "--case", "lumbosacral-mri-and-chest-ct", stdout=io.StringIO())
    with zipfile.ZipFile(out) as bundle:
        assert json.loads(bundle.read("manifest.json"))["cases"] == ["lumbosacral-mri-and-chest-ct"]
    with pytest.raises(CommandError, match="No case with slug: nope"):
        call_command("export_cases", str(out), "--case", "nope")
    with pytest.raises(CommandError, match=r"nothing imported: .*choose --on-conflict skip, rename or"):
        call_command("import_cases", str(out))
    messages = io.StringIO()
    call_command("import_cases", str(out), "--on-conflict", "rename", stdout=messages)
    assert "renamed lumbosacral-mri-and-chest-ct → lumbosacral-mri-and-chest-ct-2" in messages.getvalue()


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.postgres
def test_bundle_moves_from_sqlite_to_postgresql(tmp_path):
    import psycopg2
    from django.db import connection

    settings_dict = connection.settings_dict
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    sqlite_env = {
        **base,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'source.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "source-media"),
    }
    host, port, user = (
        settings_dict["HOST"] or "127.0.0.1",
        settings_dict["PORT"] or 5432,
        settings_dict["USER"],
    )
    target_db = "bundle_round_trip_target"
    admin = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {target_db}")
        cursor.execute(f"CREATE DATABASE {target_db}")
    pg_env = {
        **base,
        "DATABASE_URL": f"postgres://{user}@{host}:{port}/{target_db}",
        "MEDIA_ROOT": str(tmp_path / "target-media"),
    }
    # Images are re-keyed by the receiving archive, so their rows are compared, not their bytes.
    summary = (
        "from cases.models import Case; import json; "
        "print(json.dumps({c.slug: [c.final_diagnosis.slug, sorted(c.tags.names()), "
        "sorted([i.series.label, i.order, i.kind, i.rows, i.columns, i.frame_count] "
        "for s in c.studies.all() for r in s.series.all() for i in r.images.all())] "
        "for c in Case.objects.all()}, sort_keys=True))"
    )
    statuses = "from cases.models import Case; print(sorted({c.status for c in Case.objects.all()}))"
    try:
        manage(sqlite_env, "migrate", "-v0")
        manage(sqlite_env, "load_demo")
        manage(sqlite_env, "export_cases", str(tmp_path / "all.zip"))
        manage(pg_env, "migrate", "-v0")
        manage(pg_env, "import_cases", str(tmp_path / "all.zip"))
        source = manage(sqlite_env, "shell", "-v0", "-c", summary).strip().splitlines()[-1]
        target = manage(pg_env, "shell", "-v0", "-c", summary).strip().splitlines()[-1]
        assert json.loads(source) == json.loads(target)
        assert len(json.loads(target)) == 3
        assert manage(pg_env, "shell", "-v0", "-c", statuses).strip().splitlines()[-1] == "['draft']"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {target_db} WITH (FORCE)")
        admin.close()


def test_a_failed_export_leaves_no_partial_bundle(archive, tmp_path, monkeypatch):
    out = tmp_path / "all.zip"

    def broken(case):
        raise OSError("storage unavailable")

    monkeypatch.setattr("bundles.services.case_to_dict", broken)
    with pytest.raises(OSError, match="storage unavailable"):
        call_command("export_cases", str(out), stdout=io.StringIO())
    assert not out.exists()
    assert [path.name for path in tmp_path.iterdir() if path.is_file()] == []


def test_the_facet_rows_and_counts_after_an_import_equal_a_rebuild(archive):
    """The import writes each case's facet sets once, at its end (``case_upkeep_deferred``), after the
    cases it replaces have been taken out of the counts: the result is what a rebuild computes."""

    facets_rebuild()  # the fixture made a case a draft with QuerySet.update(), which no receiver hears
    published = Case.objects.published().count()
    assert published and FacetCount.objects.get(facet="all", value="").count == published
    bundle = export_all()
    import_bundle(io.BytesIO(bundle), on_conflict="rename")
    import_bundle(io.BytesIO(bundle), on_conflict="replace")  # the published originals are replaced by drafts
    imported = maintained()
    facets_rebuild()
    assert imported == maintained()
    assert not FacetCount.objects.filter(facet="all", count__gt=0).exists()
