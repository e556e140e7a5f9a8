"""Small pieces any long task can use: a heartbeat on the row that records the job, and the cut-off that
tells a dead job from a slow one.

The task framework's ORM backend neither retries a task nor notices that its worker died, so a job
worth watching records itself in a row of its own (an :class:`~imaging.models.Upload`, say) with a
``status`` and a ``heartbeat_at``; while it runs, :func:`heartbeat` refreshes that time from a thread
beside the task, so that a slow step (one large file) never makes it look dead; a sweep
(``manage.py db_worker`` runs them) treats a running row whose heartbeat is older than
:func:`stale_before` as abandoned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.models import Model, QuerySet
from django.dispatch import Signal
from django.utils import timezone

__all__ = [
    "cache_table_create",
    "heartbeat",
    "live_writer_running",
    "live_writers",
    "stale_before",
    "stale_jobs",
    "worker_sweep",
]

#: Sent by every worker's sweep (``manage.py db_worker``, at start and at intervals). An app whose jobs
#: record themselves in rows of their own connects a receiver that settles its dead jobs; ``imaging``
#: cannot import the apps above it, so they come to it.
worker_sweep = Signal()

#: One check per kind of job, besides uploads, that stores image files before the rows naming them commit
#: (a bundle import's one transaction), registered by its app: each says whether such a job is running
#: live now. A sweep that removes a dead job's unnamed files waits while any says yes (and while an
#: upload runs live), or it would take a live job's files for the dead one's.
live_writers: list[Callable[[], bool]] = []


def live_writer_running() -> bool:
    return any(check() for check in live_writers)


logger = logging.getLogger(__name__)


def stale_before() -> datetime:
    """Running jobs whose heartbeat is older than this are dead (``settings.UPLOAD_STALE_SECONDS``)."""
    return timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS)


def stale_jobs(running: QuerySet) -> list[Model]:
    """The rows of `running` (a job model's rows still running) whose heartbeat is older than
    :func:`stale_before`, each claimed for this sweeper by refreshing its heartbeat so that sweepers
    running at once leave it (if this one dies too, the row goes stale again). The rows are as read
    before the claim: ``heartbeat_at`` is the dead run's last sign of life."""
    claimed = []
    for job in running.filter(heartbeat_at__lt=stale_before()):
        if running.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(heartbeat_at=timezone.now()):
            claimed.append(job)
    return claimed


@contextmanager
def heartbeat(
    rows: QuerySet, *, every: float | None = None, fields: Callable[[], dict] | None = None
) -> Iterator[None]:
    """While the block runs, set ``heartbeat_at`` of `rows` (the job's row, filtered on its status so that a
    job settled meanwhile is not revived) to now every `every` seconds (default
    ``settings.UPLOAD_HEARTBEAT_SECONDS``), from a thread with its own database connection.

    `fields`, called at each beat, gives more columns to write with it: the progress of a job whose own
    connection is inside one long transaction, where its writes stay unseen until the end."""
    every = settings.UPLOAD_HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    rows.update(heartbeat_at=timezone.now(), **(fields() if fields else {}))
                except DatabaseError:  # a busy database: the next beat tries again
                    logger.warning("heartbeat of %s failed", rows.model.__name__, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{rows.model.__name__}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # Not waited for long: a beat blocked behind the task's own transaction ends when that does.
        thread.join(timeout=1)


def cache_table_create(sender, using: str = "default", verbosity: int = 1, **_kwargs) -> None:
    """``post_migrate``: make the database cache's table (a no-op with any other cache backend), so
    that ``migrate`` alone prepares a database for the web processes and the workers to share."""
    call_command("createcachetable", database=using, verbosity=max(verbosity - 1, 0))
