from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cases.demo_accounts import demo_accounts_ensure
from cases.seed import SEED_FILE, read_seed, seed_load
from imaging.demo import demo_images_ensure


class Command(BaseCommand):
    help = (
        "Load the seed cases, diagnoses, regions and demo accounts. Idempotent: a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", default=str(SEED_FILE), help="Seed file (default: fixtures/seed.json).")
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Run even with DEBUG off, knowing that it creates accounts whose passwords are published.",
        )

    def handle(self, *args, **options):
        # The demo accounts' passwords are in the code and the README: on a server anyone could log in
        # as the admin. DEBUG off is how a deployment says it is one (config/settings.py).
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(
                "load_demo refused: DEBUG is off, so this looks like a real deployment, and load_demo "
                "creates log-ins (admin, editor, faculty, resident) whose passwords are published. Run it "
                "on a development machine (DEBUG=1, the default), or pass --allow-without-debug if you "
                "really mean to, and change or remove those accounts before anyone else can reach the site."
            )
        try:
            data = read_seed(Path(options["seed"]))
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read the seed file: {error}") from error
        accounts = demo_accounts_ensure()
        faculty = get_user_model().objects.get(username="faculty")
        report = seed_load(data=data, author=faculty)
        for kind, plural in (("region", "regions"), ("diagnosis", "diagnoses"), ("case", "cases")):
            created = report.created.get(kind, [])
            self.stdout.write(
                f"{plural}: {len(created)} created, {report.existing.get(kind, 0)} already present"
            )
        images = demo_images_ensure()
        self.stdout.write(f"sample image series: {len(images)} added")
        self.stdout.write("\nDemo log-ins (for this local demo only):")
        for account, created in accounts:
            role = account.role or "superuser"
            note = "" if created else "  (existed already; password unchanged)"
            self.stdout.write(f"  {role:<10} {account.username} / {account.password}{note}")
