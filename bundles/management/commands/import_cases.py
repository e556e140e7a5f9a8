from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from authoring import rules
from bundles.services import CONFLICT_POLICIES, BundleError, ImportReport, SlugClash, import_bundle


class Command(BaseCommand):
    help = (
        "Import a case bundle made by export_cases. All or nothing: a bad bundle changes nothing. Every case "
        "arrives as a draft and every image is de-identified and re-encoded again, as an upload is."
    )

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="The bundle (.zip) to import")
        parser.add_argument(
            "--on-conflict",
            choices=CONFLICT_POLICIES[1:],
            default=None,
            help="What to do when a case's slug exists already; without it, a clash stops the import.",
        )
        parser.add_argument(
            "--author",
            metavar="USERNAME",
            default=None,
            help="The faculty member or editor whose drafts the cases become; without it, they have no "
            "author (editors see every draft).",
        )

    def handle(self, *args, bundle, on_conflict, author, **options):
        author = self._author(author) if author else None
        try:
            with open(bundle, "rb") as source:
                report = import_bundle(source, on_conflict=on_conflict or "error", author=author)
        except OSError as error:
            raise CommandError(f"Cannot read {bundle}: {error}") from error
        except SlugClash as error:
            raise CommandError(
                f"Bundle rejected, nothing imported: these slugs exist already: {', '.join(error.slugs)}; "
                "choose --on-conflict skip, rename or replace"
            ) from error
        except BundleError as error:
            raise CommandError(f"Bundle rejected, nothing imported: {error}") from error
        self._report(report)

    def _author(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}: nothing imported.")
        if not rules.may_author(user):
            raise CommandError(
                f"{username!r} may not author cases (not faculty or an editor): nothing imported."
            )
        return user

    def _report(self, report: ImportReport) -> None:
        for old, new in report.renamed.items():
            self.stdout.write(f"renamed {old} → {new}")
        for slug in report.skipped:
            self.stdout.write(f"skipped {slug} (exists already)")
        for slug in report.replaced:
            self.stdout.write(f"replaced {slug}")
        for slug in report.diagnoses_created:
            self.stdout.write(f"new diagnosis {slug} (from the bundle)")
        for slug in report.diagnoses_updated:
            self.stdout.write(f"diagnosis {slug} learned synonyms or accepted answers from the bundle")
        if report.imported:
            owner = f"drafts of {report.author}" if report.author else "drafts without an author"
            self.stdout.write(
                f"The imported cases are {owner}; {report.images_flagged} image(s) wait for a burned-in text "
                "review. An editor publishes them after the usual checks."
            )
        self.stdout.write(self.style.SUCCESS(f"Imported {len(report.imported)} case(s)."))
