"""``manage.py receive_dicom``: run the DICOM Storage SCP until interrupted (docs/receiving.md)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from receiver.scp import Limits, Receiver


class Command(BaseCommand):
    help = "Receive DICOM studies from configured senders (C-ECHO, C-STORE) into their owners' inboxes."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=11112, help="TCP port; 0 picks a free one (printed).")
        parser.add_argument("--ae-title", default="TEACHING", help="This receiver's AE title.")
        parser.add_argument(
            "--stable-seconds",
            type=float,
            default=60.0,
            help="A study is handed to the task queue once no instance of it arrived for this long.",
        )
        parser.add_argument(
            "--bind", default="0.0.0.0", help="Address to listen on (default: every interface)."
        )

    def handle(self, *args, port, ae_title, stable_seconds, bind, **options):
        if not 1 <= len(ae_title.strip()) <= 16:
            raise CommandError("--ae-title must be 1 to 16 characters.")
        if stable_seconds < 0 or not 0 <= port <= 65535:
            raise CommandError("--stable-seconds must be 0 or more and --port 0 to 65535.")
        limits = Limits(
            max_instances=settings.RECEIVER_MAX_INSTANCES,
            max_bytes=settings.RECEIVER_MAX_BYTES,
            max_seconds=settings.RECEIVER_MAX_SECONDS,
            idle_seconds=settings.RECEIVER_IDLE_SECONDS,
        )
        receiver = Receiver(
            ae_title=ae_title, bind=bind, port=port, stable_seconds=stable_seconds, limits=limits
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        try:
            actual = receiver.start()
        except OSError as error:
            raise CommandError(f"Cannot listen on {bind}:{port}: {error}") from error
        # The first line a supervisor (or make demo) reads: where to send.
        self.stdout.write(f"Receiving as {ae_title.strip()} on {bind}:{actual}")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            receiver.shutdown()
            self.stdout.write("Receiver stopped.")
