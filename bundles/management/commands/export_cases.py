from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bundles.services import export_bundle
from cases.models import Case


class Command(BaseCommand):
    help = "Export cases (all, or those named with --case) with their images to a versioned bundle (.zip)."

    def add_arguments(self, parser):
        parser.add_argument("out", help="The bundle to write, e.g. cases.zip")
        parser.add_argument("--case", action="append", default=[], metavar="SLUG", help="Repeat for several.")

    def handle(self, *args, out, case, **options):
        cases = Case.objects.order_by("pk")
        if case:
            found = set(cases.filter(slug__in=case).values_list("slug", flat=True))
            missing = sorted(set(case) - found)
            if missing:
                raise CommandError(f"No case with slug: {', '.join(missing)}")
            cases = cases.filter(slug__in=case)
        # Written beside the target and moved into place at the end: a failed export leaves no partial bundle.
        partial = Path(f"{out}.part")
        try:
            manifest = export_bundle(cases, partial)
            partial.replace(out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        images = sum(path.startswith("images/") for path in manifest["files"])
        self.stdout.write(
            self.style.SUCCESS(f"Exported {len(manifest['cases'])} case(s) and {images} image(s) to {out}")
        )
