"""Worker processes that prepare an upload's files, fed and read by this process without threads.

:class:`Workers` starts its processes (:func:`imaging.preparation.serve`) from a fork server
that has imported :mod:`imaging.preparation` once, and talks to each through a pipe of its own.
A file goes to a worker through one of that worker's *slots*: a file in memory with no name
(``memfd_create``), whose descriptor the worker is handed at its start, written over for every
task (see :class:`~imaging.preparation.Task`). It holds the file as uploaded, before
de-identification, so it has no name in any folder, and it is freed with the two processes,
however they end. Where ``memfd_create`` is missing (not Linux) a slot is a temporary file
unlinked at once, on tmpfs (``/dev/shm``) if there is one, else in the upload's spool folder,
where Django keeps large uploads anyway (``FILE_UPLOAD_TEMP_DIR``). A worker's replies come
back in the order of its tasks, so the caller gets every file's result in upload order by asking,
file by file, the worker it went to.

Nothing here runs on a thread. :class:`concurrent.futures.ProcessPoolExecutor`, used before,
hands work over on two threads of this process; while this process de-identified files of its
own (pure Python, holding the GIL for 1.5 ms at a time) those threads waited for the GIL and
the workers for them: with two workers on two cores the upload took 3.8 ms per slice in
bench/ingest.py's series, against 2.5 ms with no worker at all.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
from collections import deque
from dataclasses import dataclass
from multiprocessing.reduction import send_handle

from imaging.decode_budget import DEFAULT_MEMORY_LIMIT
from imaging.dicom.errors import RejectedFile
from imaging.preparation import Reply, Task, serve

__all__ = ["BrokenWorker", "Ticket", "Workers"]

# Shared memory that a file can be written to and read from as a file, where memfd_create is
# missing. Where this is missing too, the slots go to the upload's spool folder: slower, the same.
_SHARED_MEMORY_FOLDER = "/dev/shm"
# What the fork server imports before it forks any worker: the worker's module, and the installed
# packages it needs (a missing one is skipped). The packages are listed as well because Python
# 3.11's fork server ignores this process's sys.path: it finds the project's modules only when
# started from the project's folder, and a worker that has to import pydicom, numpy and Pillow
# itself spends about 0.2 s on its first file.
_PRELOAD = ("imaging.preparation", "numpy", "PIL.Image", "PIL.PngImagePlugin", "pydicom", "pydicom.pixels")
# How long a worker gets to stop by itself once told to, before it is terminated.
_STOP_SECONDS = 5.0


class BrokenWorker(RuntimeError):
    """A worker process stopped before it answered (killed, out of memory, crashed)."""


@dataclass(frozen=True, eq=False)  # eq=False: each ticket is itself, though its slot is reused
class Ticket:
    """A file handed to a worker: which worker, and which of its slots holds the bytes."""

    worker: int
    slot: int


class Workers:
    """`count` worker processes, each with `slots` slots: at most ``count * slots`` files in flight.

    Use as a context manager: leaving it stops the workers (terminating them if the upload is
    given up half-way, so that none is still writing to the spool folder when it is removed) and
    closes the slots.
    """

    def __init__(
        self,
        count: int,
        slots: int,
        *,
        seed: str,
        date_offset_days: int,
        spool: str,
        context,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.count = count
        self.processes: list = []
        self.connections: list = []
        self.descriptors: list[list[int]] = []  # per worker, its slots' descriptors
        # Per worker: its free slots (numbers) and its tickets, oldest first.
        self.free_slots: list[list[int]] = []
        self.in_flight: list[deque[Ticket]] = []
        self.finished = False
        self.cpu_seconds = 0.0  # the workers' CPU time, added up as they stop
        try:
            for index in range(count):
                here, there = context.Pipe()
                self.connections.append(here)  # closed by close(), whatever happens next
                process = context.Process(
                    target=serve,
                    args=(there, seed, date_offset_days, spool, slots, memory_limit),
                    name=f"ingest-worker-{index}",
                    daemon=True,  # never outlives this process
                )
                try:
                    process.start()
                finally:
                    there.close()  # the worker's end: this process keeps only its own
                self.processes.append(process)
                self.descriptors.append([])
                for _ in range(slots):  # the worker takes them before its first task
                    self.descriptors[index].append(_new_slot(spool))
                    send_handle(here, self.descriptors[index][-1], process.pid)
                self.free_slots.append(list(range(slots)))
                self.in_flight.append(deque())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.finished = kind is None
        self.close()

    def submit(self, name: str, data: bytes) -> Ticket | None:
        """Hand `data` to the worker with the fewest files in flight; None if none has a free slot,
        or if the slot could not take the bytes (shared memory full: the caller prepares it)."""
        candidates = [index for index in range(self.count) if self.free_slots[index]]
        if not candidates:
            return None
        worker = min(candidates, key=lambda index: len(self.in_flight[index]))
        slot = self.free_slots[worker][-1]
        try:
            written = os.pwrite(self.descriptors[worker][slot], data, 0)
        except OSError:  # ENOSPC, ENOMEM: no memory for it; the caller prepares it
            return None
        if written != len(data):
            return None
        self.free_slots[worker].pop()
        ticket = Ticket(worker, slot)
        self.in_flight[worker].append(ticket)
        try:
            self.connections[worker].send(Task(name, slot, len(data)))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._broken(worker) from None
        return ticket

    def ready(self, ticket: Ticket) -> bool:
        """Whether the worker's reply for `ticket`, the oldest of its tickets, has come."""
        return self.connections[ticket.worker].poll()

    def result(self, ticket: Ticket) -> Reply:
        """The reply for `ticket`, waiting for it: the oldest ticket of its worker must come first."""
        queue = self.in_flight[ticket.worker]
        if not queue or queue[0] != ticket:
            raise ValueError("a worker's replies must be taken in the order of its tickets")
        try:
            reply = self.connections[ticket.worker].recv()
        except (EOFError, ConnectionResetError, OSError):
            raise self._broken(ticket.worker) from None
        queue.popleft()
        self.free_slots[ticket.worker].append(ticket.slot)
        return reply

    def _broken(self, worker: int) -> BrokenWorker:
        process = self.processes[worker]
        process.join(timeout=1)
        return BrokenWorker(
            f"ingest worker {worker} stopped before it answered (exit code {process.exitcode}); "
            "the upload was given up and nothing of the files not yet stored was kept"
        )

    def close(self) -> None:
        """Stop the workers: told to when every file was answered, terminated otherwise."""
        told = []
        for index, process in enumerate(self.processes):
            connection = self.connections[index]
            if self.finished and not self.in_flight[index]:
                with contextlib.suppress(OSError):
                    connection.send(None)
                    told.append(connection)
            else:
                process.terminate()
        for connection in told:
            with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
                if connection.poll(_STOP_SECONDS):
                    kind, seconds = connection.recv()
                    self.cpu_seconds += seconds if kind == "stopped" else 0.0
        for process in self.processes:
            process.join(timeout=_STOP_SECONDS)
            if process.exitcode is None:
                process.kill()
                process.join()
        for connection in self.connections:
            connection.close()
        for descriptors in self.descriptors:
            for descriptor in descriptors:
                os.close(descriptor)
        self.descriptors = []


def _new_slot(spool: str) -> int:
    """A descriptor of a new file that no name leads to: memory (Linux), else tmpfs, else the spool."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return os.memfd_create("ingest-slot", os.MFD_CLOEXEC)
    folder = _SHARED_MEMORY_FOLDER if os.access(_SHARED_MEMORY_FOLDER, os.W_OK | os.X_OK) else spool
    descriptor, path = tempfile.mkstemp(prefix="ingest-slot-", dir=folder)
    os.unlink(path)
    return descriptor


def reply_result(reply: Reply):
    """A worker's reply as the ingest takes it: the prepared file, or a rejection; a failure is raised."""
    kind, value = reply
    if kind == "prepared":
        return value
    if kind == "rejected" and isinstance(value, RejectedFile):
        return value
    error, worker_traceback = value
    error.add_note(f"Raised in an ingest worker process:\n{worker_traceback}")
    raise error


def pool_context() -> multiprocessing.context.BaseContext:
    """Workers come from a fork server, which has imported :mod:`imaging.preparation` once.

    Not plain fork: this process may have threads (a threaded server) and open database
    connections, and a child forked from it could inherit a lock held by another thread, or
    close a connection it shares with this process. A fork server is a fresh, single-threaded
    interpreter without Django (it costs about 0.2 s once per process, then a worker about
    10-30 ms); spawn would pay the interpreter start and the imports (about 1 s) for every worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Only read when the server starts, so setting it every time is harmless.
    context.set_forkserver_preload(list(_PRELOAD))
    return context
