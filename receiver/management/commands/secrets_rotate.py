"""``manage.py secrets_rotate``: encrypt every stored DICOMweb source password again under the current
``SECRET_KEY``, so that the old key can leave ``SECRET_KEY_FALLBACKS`` (docs/receiving.md)."""

from django.core.management.base import BaseCommand, CommandError

from receiver.secrets import UnreadableSecret, secrets_rotate


class Command(BaseCommand):
    help = "Encrypt the stored DICOMweb source passwords again under the current SECRET_KEY."

    def handle(self, *args, **options):
        try:
            rotated = secrets_rotate()
        except UnreadableSecret as error:
            raise CommandError(
                f"{error}: no key in SECRET_KEY or SECRET_KEY_FALLBACKS reads it. Nothing was changed; "
                "put the key it was stored under back into SECRET_KEY_FALLBACKS, or enter the password again."
            ) from error
        self.stdout.write(f"{rotated} password(s) encrypted again under the current SECRET_KEY.")
