"""``manage.py db_worker``: django-tasks-db's worker, which also settles the jobs of dead workers.

The ORM backend neither retries a task nor notices that a worker died, and offers no hook at worker
start (its signals fire around each task only, so an idle worker would never sweep). Wrapping its
command is the public way, as ``django.contrib.staticfiles`` wraps ``runserver``: the sweep
(:func:`imaging.ingest_tasks.uploads_sweep`, then the quarantine's, then the receivers of
:data:`imaging.jobs.worker_sweep`: other apps' jobs) runs before the worker takes its first task, and
every ``settings.UPLOAD_SWEEP_SECONDS`` after, from a thread beside it. Every worker sweeps; the sweep
is safe to run in several at once.
"""

import logging
import threading

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands import db_worker

from imaging.ingest_tasks import uploads_sweep
from imaging.jobs import worker_sweep
from imaging.quarantine import quarantine_sweep

logger = logging.getLogger(__name__)


def sweep() -> None:
    try:
        for upload_id, status in uploads_sweep():
            logger.warning("Dead worker's upload %s settled: %s", upload_id, status)
        quarantine_sweep()
    except Exception:  # a sweep that fails (a busy database) is tried again at the next interval
        logger.exception("The sweep of dead uploads failed")
    try:
        # Each app's own sweep; one that fails (logged by send_robust) leaves the others to run.
        worker_sweep.send_robust(sender=None)
    finally:
        connection.close()  # this thread's own; the next sweep opens a fresh one


def sweep_every(seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        sweep()


class Command(db_worker.Command):
    help = db_worker.Command.help + ", sweeping the uploads of dead workers at start and at intervals"

    def handle(self, *args, **options):
        sweep()
        stop = threading.Event()
        threading.Thread(
            target=sweep_every, args=(settings.UPLOAD_SWEEP_SECONDS, stop), name="upload-sweep", daemon=True
        ).start()
        try:
            return super().handle(*args, **options)
        finally:
            stop.set()
