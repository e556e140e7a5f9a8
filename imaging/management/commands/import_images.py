import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from cases.models import Case, Finding
from imaging.dicom.errors import RejectedFile
from imaging.ingest_tasks import upload_enqueue
from imaging.inputs import IGNORED_NAMES, expand_paths
from imaging.models import Series
from imaging.services import (
    FileOutcome,
    NothingAccepted,
    SeriesLabelError,
    files_check,
    guess_modality,
    images_ingest,
    series_create,
    series_import,
)


def _files_under(paths: list[Path]) -> Iterator[Path]:
    """The files `paths` name, folders walked as ``expand_paths`` walks them (zips stay whole: the worker
    opens them)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not p.name.startswith(".") and p.name not in IGNORED_NAMES
            )
        elif path.is_file():
            if path.name not in IGNORED_NAMES:
                yield path
        else:
            raise CommandError(f"No such file: {path}. Nothing was queued.")


class Command(BaseCommand):
    help = (
        "De-identify and import DICOM, PNG or JPEG files (single files, folders or .zip of a series) into a "
        "case's series. Prints what happened to each file; exits non-zero when any file was rejected. "
        "When every file is rejected, no series or study is created for them."
    )

    def add_arguments(self, parser):
        parser.add_argument("case_slug")
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--series", default="", help="The author's series label, e.g. 'Sagittal T2'.")
        parser.add_argument("--finding", type=int, help="Id of the finding the series illustrates.")
        parser.add_argument("--study-time", default="Initial", help="Relative time label of the study.")
        parser.add_argument("--modality", default="", help="DICOM modality code; default: from the files.")
        parser.add_argument(
            "--sample", action="store_true", help="Images not from this patient (badge shown)."
        )
        parser.add_argument("--caption", default="")
        parser.add_argument(
            "--background",
            action="store_true",
            help="Queue the import for a worker (`manage.py db_worker`) instead of running it here: the "
            "files are copied to quarantine storage, and the upload's id and the page showing its "
            "progress are printed. The worker must see the same quarantine storage (same host, or a "
            "shared bucket).",
        )

    def handle(self, *args, case_slug, paths, **options):
        case = Case.objects.filter(slug=case_slug).first()
        if case is None:
            raise CommandError(f"No case with slug {case_slug!r}.")
        finding = None
        if options["finding"] is not None:
            finding = Finding.objects.filter(pk=options["finding"], case=case).first()
            if finding is None:
                raise CommandError(f"Case {case_slug!r} has no finding with id {options['finding']}.")
        if options["background"]:
            self._queue(case, finding, paths, options)
            return
        items = list(expand_paths(paths))
        total = len(items)
        done = 0

        def report(outcome: FileOutcome) -> None:
            nonlocal done
            done += 1
            verdict = "accepted" if outcome.accepted else f"REJECTED: {outcome.reason}"
            self.stdout.write(f"{outcome.name}: {verdict}")
            if sys.stderr.isatty():
                bar = "#" * (30 * done // max(total, 1))
                sys.stderr.write(f"\r[{bar:<30}] {done}/{total}")
                sys.stderr.flush()

        label = options["series"] or f"Series {Series.objects.filter(study__case=case).count() + 1}"
        series = Series.objects.filter(study__case=case, label=label).first()
        try:
            if series is not None:
                result = images_ingest(
                    series=series, files=items, caption=options["caption"], on_progress=report
                )
            else:
                modality = self._modality(finding, items, options)
                result = series_import(
                    case=case,
                    label=label,
                    modality=modality,
                    time_label=options["study_time"],
                    finding=finding,
                    is_sample=options["sample"],
                    files=items,
                    caption=options["caption"],
                    on_progress=report,
                )
                series = result.upload.series
        except NothingAccepted as refusal:
            raise CommandError(
                f"0 accepted, {len(refusal.result.rejected)} rejected: nothing was imported, and no series "
                "or study was created."
            ) from refusal
        except SeriesLabelError as error:
            raise CommandError(str(error)) from error
        finally:
            if sys.stderr.isatty() and done:
                sys.stderr.write("\n")  # ends the progress bar's line
        summary = (
            f"{len(result.accepted)} accepted, {len(result.rejected)} rejected into series {series.label!r}."
        )
        if result.rejected:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def _queue(self, case, finding, paths: list[Path], options) -> None:
        """Queue the files for a worker (``--background``): the series is found or made here, and an
        import that stores nothing leaves it empty, as an admin upload does."""
        files = list(_files_under(paths))
        label = options["series"] or f"Series {Series.objects.filter(study__case=case).count() + 1}"
        series = Series.objects.filter(study__case=case, label=label).first()
        try:
            if series is None:
                modality = (
                    options["modality"].upper()
                    or (finding.modality if finding else "")
                    or guess_modality(
                        item for item in expand_paths(paths) if not isinstance(item, RejectedFile)
                    )
                )
                if not modality:
                    raise CommandError(
                        "Cannot tell the modality from these files (PNG and JPEG files carry none): pass "
                        "--modality (e.g. CR, CT, MR). Nothing was queued."
                    )
                series = series_create(
                    case=case,
                    label=label,
                    modality=modality,
                    time_label=options["study_time"],
                    finding=finding,
                    is_sample=options["sample"],
                )
        except SeriesLabelError as error:
            raise CommandError(str(error)) from error
        with ExitStack() as stack:
            opened = [stack.enter_context(File(path.open("rb"), name=path.name)) for path in files]
            upload = upload_enqueue(series=series, files=opened, caption=options["caption"])
        self.stdout.write(
            f"Queued upload {upload.pk}: {upload.total} file(s) into series {series.label!r}. A worker "
            f"(python manage.py db_worker) imports them; progress: "
            f"{reverse('admin:imaging_upload_progress', args=[upload.pk])}"
        )

    def _modality(self, finding, items, options) -> str:
        inputs = [item for item in items if not isinstance(item, RejectedFile)]
        modality = (
            options["modality"].upper() or (finding.modality if finding else "") or guess_modality(inputs)
        )
        if modality:
            return modality
        # Without a modality no series can be made: say first which files would be rejected, and why,
        # so that a broken file is not mistaken for a missing option.
        outcomes = files_check(items)
        rejected = [outcome for outcome in outcomes if not outcome.accepted]
        for outcome in rejected:
            self.stdout.write(f"{outcome.name}: REJECTED: {outcome.reason}")
        if len(rejected) == len(outcomes):
            raise CommandError(
                f"0 accepted, {len(rejected)} rejected: nothing was imported, and no series or study was "
                "created."
            )
        raise CommandError(
            "Cannot tell the modality from these files (PNG and JPEG files carry none): pass --modality "
            "(e.g. CR, CT, MR). Nothing was imported."
        )
