"""The start of a server benchmark: a work folder of its own, Django set up, SIGTERM unwinding.

Importable before Django is set up (``bench/server.py`` is not).
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def django_in_work_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder whose ``media/`` receives anything the bench stores (as the server's does),
    with Django set up and SIGTERM turned into an exit so that every ``finally`` runs."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        work = Path(folder)
        os.environ["MEDIA_ROOT"] = str(work / "media")
        import django

        django.setup()
        from bench.server import exit_on_sigterm

        exit_on_sigterm()
        yield work
