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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone

__all__ = ["cache_table_create", "heartbeat", "stale_before"]

logger = logging.getLogger(__name__)


def stale_before() -> datetime:
    """Running jobs whose heartbeat is older than this are dead (``settings.UPLOAD_STALE_SECONDS``)."""
    return timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS)


@contextmanager
def heartbeat(rows: QuerySet, *, every: float | None = None) -> Iterator[None]:
    """While the block runs, set ``heartbeat_at`` of `rows` (the job's row, filtered on its status so that a
    job settled meanwhile is not revived) to now every `every` seconds (default
    ``settings.UPLOAD_HEARTBEAT_SECONDS``), from a thread with its own database connection."""
    every = settings.UPLOAD_HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    rows.update(heartbeat_at=timezone.now())
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
