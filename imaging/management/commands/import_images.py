import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.models import Case, Finding
from imaging.dicom.errors import RejectedFile
from imaging.inputs import expand_paths
from imaging.models import Series
from imaging.services import FileOutcome, SeriesLabelError, guess_modality, images_ingest, series_create


class Command(BaseCommand):
    help = (
        "De-identify and import DICOM, PNG or JPEG files (single files, folders or .zip of a series) into a "
        "case's series. Prints what happened to each file; exits non-zero when any file was rejected."
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

    def handle(self, *args, case_slug, paths, **options):
        case = Case.objects.filter(slug=case_slug).first()
        if case is None:
            raise CommandError(f"No case with slug {case_slug!r}.")
        finding = None
        if options["finding"] is not None:
            finding = Finding.objects.filter(pk=options["finding"], case=case).first()
            if finding is None:
                raise CommandError(f"Case {case_slug!r} has no finding with id {options['finding']}.")
        items = list(expand_paths(paths))
        inputs = [item for item in items if not isinstance(item, RejectedFile)]
        series = self._series(case, finding, inputs, options)
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

        result = images_ingest(series=series, files=items, caption=options["caption"], on_progress=report)
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        summary = (
            f"{len(result.accepted)} accepted, {len(result.rejected)} rejected into series {series.label!r}."
        )
        if result.rejected:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def _series(self, case, finding, inputs, options) -> Series:
        label = options["series"] or (f"Series {Series.objects.filter(study__case=case).count() + 1}")
        existing = Series.objects.filter(study__case=case, label=label).first()
        if existing:
            return existing
        modality = (
            options["modality"].upper() or (finding.modality if finding else "") or guess_modality(inputs)
        )
        if not modality:
            raise CommandError(
                "Cannot tell the modality from these files: pass --modality (e.g. CR, CT, MR)."
            )
        try:
            return series_create(
                case=case,
                label=label,
                modality=modality,
                time_label=options["study_time"],
                finding=finding,
                is_sample=options["sample"],
            )
        except SeriesLabelError as error:
            raise CommandError(str(error)) from error
