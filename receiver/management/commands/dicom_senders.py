"""``manage.py dicom_senders add <AE> --author <username> [--host <address>]`` and ``dicom_senders list``."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from receiver.models import DicomSender


class Command(BaseCommand):
    help = "Manage the DICOM senders allowed to store studies (as editors do in the admin)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        add = commands.add_parser(
            "add", help="Allow a calling AE title to store into a faculty member's inbox."
        )
        add.add_argument("ae_title")
        add.add_argument("--author", required=True, help="Username whose inbox receives the studies.")
        add.add_argument("--host", default=None, help="The only address it may call from (optional).")
        commands.add_parser("list", help="List the configured senders.")

    def handle(self, *args, command, **options):
        if command == "add":
            self._add(options["ae_title"], options["author"], options["host"])
        else:
            for sender in DicomSender.objects.select_related("author"):
                self.stdout.write(
                    f"{sender.ae_title}\t{sender.host or 'any address'}\t{sender.author.get_username()}"
                )

    def _add(self, ae_title: str, username: str, host: str | None) -> None:
        from authoring.rules import may_author

        author = get_user_model().objects.filter(username=username).first()
        if author is None:
            raise CommandError(f"No user named {username!r}.")
        if not may_author(author):
            raise CommandError(
                f"{username!r} is not faculty or an editor: studies would land in no usable inbox."
            )
        sender = DicomSender(ae_title=ae_title.strip(), host=host or None, author=author)
        try:
            sender.full_clean()
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        sender.save()
        self.stdout.write(f"Added sender {sender} for {username}.")
