from django.core.management.base import BaseCommand, CommandError

from cases.bundles import CONFLICT_POLICIES, BundleError, SlugClash, import_bundle


class Command(BaseCommand):
    help = "Import a case bundle made by export_cases. All or nothing: a bad bundle changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="The bundle (.zip) to import")
        parser.add_argument(
            "--on-conflict",
            choices=CONFLICT_POLICIES[1:],
            default=None,
            help="What to do when a case's slug exists already; without it, a clash stops the import.",
        )

    def handle(self, *args, bundle, on_conflict, **options):
        try:
            with open(bundle, "rb") as source:
                report = import_bundle(source, on_conflict=on_conflict or "error")
        except OSError as error:
            raise CommandError(f"Cannot read {bundle}: {error}") from error
        except SlugClash as error:
            raise CommandError(
                f"Bundle rejected, nothing imported: these slugs exist already: {', '.join(error.slugs)}; "
                "choose --on-conflict skip, rename or replace"
            ) from error
        except BundleError as error:
            raise CommandError(f"Bundle rejected, nothing imported: {error}") from error
        for old, new in report.renamed.items():
            self.stdout.write(f"renamed {old} → {new}")
        for slug in report.skipped:
            self.stdout.write(f"skipped {slug} (exists already)")
        for slug in report.replaced:
            self.stdout.write(f"replaced {slug}")
        self.stdout.write(self.style.SUCCESS(f"Imported {len(report.imported)} case(s)."))
