from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from programme.demo import programme_demo_ensure


class Command(BaseCommand):
    help = "After load_demo: a director log-in, a demo playlist, cohort and assignment. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--allow-without-debug", action="store_true")

    def handle(self, *args, **options):
        # As load_demo: the director's password is published, so not on a real deployment.
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError("load_programme_demo refused: DEBUG is off (see load_demo).")
        for line in programme_demo_ensure() or ["nothing to add: the programme demo is there already"]:
            self.stdout.write(line)
