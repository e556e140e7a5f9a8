"""``manage.py purge_received``: discard received studies older than RECEIVED_STUDY_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from receiver.services import received_purge


class Command(BaseCommand):
    help = "Delete received studies (and their files) that arrived more than RECEIVED_STUDY_DAYS days ago."

    def handle(self, *args, **options):
        purged = received_purge()
        self.stdout.write(
            f"Purged {purged} received stud{'y' if purged == 1 else 'ies'} "
            f"older than {settings.RECEIVED_STUDY_DAYS} days."
        )
