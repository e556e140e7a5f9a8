"""Image ingest: validate, de-identify, store, index. The admin upload and ``import_images`` share it.

Each file is accepted or rejected on its own, with a reason naming it. An accepted file is stored
de-identified — the original bytes never reach storage — and its row is written in the same
transaction; if the row cannot be written the stored file is deleted again, so a failure leaves
neither an orphan file nor a row. Rendering is deferred to first view (``imaging.rendering``).

The CPU-bound part of each file (read, validate, de-identify, encode: :mod:`imaging.preparation`)
runs in this process, and, for uploads of :data:`POOL_MIN_FILES` files or more while a core is
idle, in worker processes too (:mod:`imaging.workers`, :func:`_pool_workers`); this process
stores the prepared files and writes their rows in upload order. Workers see only plain data,
never Django or the database, and store nothing: they write each prepared file to a spool folder
of this upload, from which this process links it into storage (on one file system; else
``storage.save`` copies it); the folder is removed when the upload ends, however it ends.
Everything that has to be undone on failure happens here.
"""

import math
import multiprocessing
import os
import secrets
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from io import BytesIO
from itertools import chain, islice

import pydicom
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Max

from cases.answer_words import answer_phrases
from imaging.dicom.deidentify import Deidentifier
from imaging.dicom.errors import RejectedFile
from imaging.file_writes import CreatedFile, created_file, write_and_hash
from imaging.file_writes import placed_file as place_spooled
from imaging.inputs import InputFile, expand_named_bytes
from imaging.models import DeidentificationKey, Image, Series, Study, Upload
from imaging.preparation import (
    RASTER_REVIEW_REASON,
    Pieces,
    Prepared,
    Spooled,
    looks_like_dicom,
    pieces_sha256,
    pieces_size,
    prepare,
)
from imaging.upload_reports import file_label, without_file_name
from imaging.workers import Ticket, Workers, pool_context, reply_result

__all__ = [
    "RASTER_REVIEW_REASON",
    "FileOutcome",
    "IngestResult",
    "NothingAccepted",
    "SeriesLabelError",
    "check_series_label",
    "deidentifier_for_case",
    "files_check",
    "guess_modality",
    "images_ingest",
    "looks_like_dicom",
    "series_create",
    "series_import",
]

#: Uploads with at least this many files are prepared in worker processes too. Starting a worker
#: costs about 10-30 ms per upload (and about 0.2 s once per process, for the fork server), which
#: a second core pays back from about this many 512 x 512 slices on.
POOL_MIN_FILES = 8
#: At most this many workers per upload, however many cores: past a few, this process (storing
#: files, writing rows, handing the bytes to the workers) becomes the bottleneck.
POOL_MAX_WORKERS = 4
#: Files handed to the workers ahead of the one being stored, per worker: enough to keep them
#: busy while this process stores, few enough to bound memory (each file is in memory in full).
POOL_FILES_AHEAD_PER_WORKER = 2
#: Larger files (long cine loops, say) are prepared in this process even in a large upload:
#: handing one over would hold it in memory once more, in its worker's slot, and keep it there.
POOL_MAX_FILE_BYTES = 32 * 1024 * 1024


@dataclass
class FileOutcome:
    """What happened to one file of an upload.

    `name` is the name it was uploaded under: shown to the uploader while the upload runs and in
    the answer to it, never stored (it can name the patient). What is stored, :meth:`as_dict`,
    names the file by `position` and `sha256` instead.
    """

    name: str
    accepted: bool
    reason: str = ""
    image_id: int | None = None
    deidentification: dict = field(default_factory=dict)
    position: int = 0  # from 1, in the order of the upload (each zip entry counts)
    sha256: str = ""  # of the stored file if accepted, else of the bytes as uploaded (if read)

    @property
    def label(self) -> str:
        return file_label(self.position, self.sha256)

    def as_dict(self) -> dict:
        """The entry stored in ``Upload.report``: no file name, in the reason either."""
        return {
            "file": self.label,
            "accepted": self.accepted,
            "reason": without_file_name(self.reason, self.name),
            "image_id": self.image_id,
            "deidentification": self.deidentification,
        }


@dataclass
class IngestResult:
    upload: Upload
    outcomes: list[FileOutcome]
    workers: int = 0  # worker processes that prepared files beside this process
    worker_cpu_seconds: float = 0.0  # their CPU time (this process's own is not in it)

    @property
    def rejected(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.accepted]

    @property
    def accepted(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.accepted]


def _deidentification_key(case) -> DeidentificationKey:
    """One key per case keeps replaced UIDs and shifted dates consistent across all its uploads."""
    key, _ = DeidentificationKey.objects.get_or_create(
        case=case,
        defaults={"seed": secrets.token_hex(16), "date_offset_days": -secrets.randbelow(3650) - 365},
    )
    return key


def deidentifier_for_case(case) -> Deidentifier:
    """The case's Deidentifier (see :func:`_deidentification_key`)."""
    key = _deidentification_key(case)
    return Deidentifier(seed=key.seed, date_offset_days=key.date_offset_days)


@dataclass
class _PoolUse:
    """How many worker processes an upload used, and their CPU time."""

    workers: int = 0
    cpu_seconds: float = 0.0


# -- preparation: in this process, or in worker processes -----------------------------------------

# What preparing one item gave: the prepared file, or why it was rejected.
_Result = Prepared | tuple[Spooled, dict, dict] | RejectedFile


def _prepared(
    items: Iterable[InputFile | RejectedFile], key: DeidentificationKey, spool: str, usage: _PoolUse
) -> Iterator[tuple[str, _Result]]:
    """Each item's name and its preparation or rejection, in the order of `items`.

    Small uploads are prepared here; from :data:`POOL_MIN_FILES` files on, in worker processes
    too, as many as :func:`_pool_workers` allows (recorded in `usage`). Both give
    the same results in the same order: a worker's Deidentifier is built from the same key, and
    derives every new value from it.
    """
    # Built here in either case, so that an unusable key fails here, before any work.
    deidentifier = Deidentifier(seed=key.seed, date_offset_days=key.date_offset_days)
    items = iter(items)
    head = list(islice(items, POOL_MIN_FILES))  # enough to tell whether the pool pays
    workers = _pool_workers()
    if len(head) < POOL_MIN_FILES or workers < 1:
        for item in chain(head, items):
            yield item.name, _prepare_here(item, deidentifier)
        return
    usage.workers = workers
    yield from _prepared_in_pool(chain(head, items), key, deidentifier, spool, usage)


def _prepare_here(item: InputFile | RejectedFile, deidentifier: Deidentifier) -> _Result:
    if isinstance(item, RejectedFile):
        return item
    try:
        # Hashed where the bytes are stored: on the writing thread, beside the next file.
        return prepare(item.name, item.data, deidentifier, memory_limit=settings.DECODE_MEMORY_LIMIT)
    except RejectedFile as rejection:
        return rejection


def _prepared_in_pool(
    items: Iterable[InputFile | RejectedFile],
    key: DeidentificationKey,
    deidentifier: Deidentifier,
    spool: str,
    usage: _PoolUse,
) -> Iterator[tuple[str, _Result]]:
    """:func:`_prepared` with ``usage.workers`` worker processes, streaming through a bounded window.

    The window holds, in input order, the files handed to the workers (at most
    ``workers * POOL_FILES_AHEAD_PER_WORKER`` at a time) and the files prepared here, twice
    that in all. Results leave it from the front, so the order of `items` is kept.

    Rather than wait idle for the result at the front, this process prepares the next file
    itself: that uses the time the workers take to start, and on a busy machine, where the
    workers get less than a core each, it does more of the work itself. Files over
    :data:`POOL_MAX_FILE_BYTES`, and any file no worker's slot could take, are prepared here
    when their turn comes.

    When the consumer stops early (an error while storing, say), closing this generator stops
    the workers; they store nothing, so nothing is left over.
    """
    pool = Workers(
        usage.workers,
        POOL_FILES_AHEAD_PER_WORKER,
        seed=key.seed,
        date_offset_days=key.date_offset_days,
        spool=spool,
        context=_pool_context(),
        memory_limit=settings.DECODE_MEMORY_LIMIT,
    )
    try:
        with pool:
            yield from _through_window(items, pool, deidentifier)
    finally:
        usage.cpu_seconds = pool.cpu_seconds  # added up as the workers stop


def _through_window(
    items: Iterable[InputFile | RejectedFile], pool: Workers, deidentifier: Deidentifier
) -> Iterator[tuple[str, _Result]]:
    """The window of :func:`_prepared_in_pool`: each item's result, in order."""
    ahead = pool.count * POOL_FILES_AHEAD_PER_WORKER
    window_size = 2 * ahead  # bounds memory: every file in the window is held in full
    source = iter(items)
    window: deque[tuple[str, Ticket | InputFile | _Result]] = deque()
    in_flight = 0  # files with the workers, not yet taken from the window
    exhausted = False
    while True:
        while not exhausted and in_flight < ahead and len(window) < window_size:  # supply the workers
            item = next(source, None)
            if item is None:
                exhausted = True
            elif isinstance(item, RejectedFile) or len(item.data) > POOL_MAX_FILE_BYTES:
                window.append((item.name, item))  # settled, or to be prepared here in turn
            else:
                ticket = pool.submit(item.name, item.data)
                window.append((item.name, item if ticket is None else ticket))
                in_flight += ticket is not None
        if not window:
            return
        name, first = window[0]
        waiting = isinstance(first, Ticket) and not pool.ready(first)
        if waiting and not exhausted and len(window) < window_size:
            item = next(source, None)
            if item is None:
                exhausted = True
            else:
                window.append((item.name, _prepare_here(item, deidentifier)))
            continue
        window.popleft()
        if isinstance(first, Ticket):
            in_flight -= 1
            yield name, reply_result(pool.result(first))
        elif isinstance(first, InputFile):
            yield name, _prepare_here(first, deidentifier)
        else:
            yield name, first


def _pool_workers() -> int:
    """How many worker processes an upload gets: one per usable core (:func:`_usable_cores`)
    besides this process's own, at most ``settings.INGEST_WORKERS`` (None: no other limit) and
    :data:`POOL_MAX_WORKERS`;
    none while other processes keep the other cores busy, or in a daemon process (it may not
    start processes of its own).

    This process prepares files too, whenever the next result is not there yet, so on two cores
    one worker and this process share the work. In bench/ingest.py's series on 2 vCPUs, eight
    alternating pairs: 1.79 against 2.11 ms per slice with no worker, faster in 7 of 8 (ten more:
    2.19 against 2.54, faster in 8 of 10); two workers, which had to share the two cores with
    this process, took 2.12.

    The 1-minute load average counts this process, busy with the upload or with the requests
    before it; what it shows beyond that is other work. When that leaves less than half a core
    idle besides this process's own, a worker would only take turns with it, and handing files
    over costs CPU of its own (about 0.1 ms per 0.5 MB slice), so the upload is prepared here.
    Workers count as other work too: uploads back to back for minutes (an import of many
    series) raise the load average with their own workers, and some of them then run without.
    """
    wanted = settings.INGEST_WORKERS
    if wanted == 0 or multiprocessing.current_process().daemon or not hasattr(os, "pread"):
        return 0  # (os.pread, with which a worker reads its slot: not on Windows)
    usable = _usable_cores()
    try:
        others = max(os.getloadavg()[0] - 1.0, 0.0)
    except (AttributeError, OSError):  # not on Unix
        others = 0.0
    spare = int(usable - 1 - others + 0.5)  # idle cores besides this process's own, rounded
    return max(0, min(spare, POOL_MAX_WORKERS, POOL_MAX_WORKERS if wanted is None else wanted))


# A container's CPU limit (cgroup v2): "<quota> <period>" in microseconds, or "max <period>".
_CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def _usable_cores() -> int:
    """The cores this process may run on, and no more than its container's CPU quota allows.

    ``sched_getaffinity`` sees every core of the host in a container limited by a quota
    (``docker run --cpus=2``); the quota, rounded up, is what the upload can really use.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        with open(_CGROUP_CPU_MAX) as limit:
            quota, period = limit.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 here, or a line it cannot read
        pass
    return cores


def _pool_context() -> multiprocessing.context.BaseContext:
    return pool_context()  # here, so that a test can have the workers forked instead


# -- storing and indexing -----------------------------------------------------------------------


class _WholeContent(ContentFile):
    """Bytes already in memory, written in one piece (not in 64 KB chunks, each one copied first)."""

    DEFAULT_CHUNK_SIZE = 1 << 30


class _SpooledFile(File):
    """A worker's spool file: file system storage moves it into place rather than copying it."""

    def __init__(self, spooled: Spooled) -> None:
        super().__init__(open(spooled.path, "rb"), name="upload")  # noqa: SIM115 (File closes it)
        self._path = spooled.path

    def temporary_file_path(self) -> str:
        return self._path


def _unsaved_image(series: Series, size: int, fields: dict, report: dict, caption: str) -> Image:
    return Image(
        series=series,
        size_bytes=size,
        deid_report=report,
        caption=caption,
        **{**fields, "kind": Image.Kind(fields["kind"])},
    )


def _stored_image(
    series: Series, content: Pieces | Spooled, fields: dict, report: dict, caption: str
) -> Image:
    """An unsaved row whose de-identified file is already in storage (and hashed, if not yet)."""
    if isinstance(content, Spooled):
        image = _unsaved_image(series, content.size, fields, report, caption)
        with _SpooledFile(content) as spooled:
            image.file.save("upload", spooled, save=False)
        return image
    if fields.get("sha256") is None:
        fields = {**fields, "sha256": pieces_sha256(content)}
    image = _unsaved_image(series, pieces_size(content), fields, report, caption)
    image.file.save("upload", _WholeContent(b"".join(content)), save=False)
    return image


class _PendingRows:
    """Rows written in batches: one commit per batch instead of per image (the commit dominated).

    If a batch cannot be written, the files of that batch are deleted again before the error goes
    on, so a failure leaves neither a row nor an orphan file.
    """

    BATCH_SIZE = 32

    def __init__(self) -> None:
        self.pending: list[tuple[Image, FileOutcome]] = []

    def add(self, image: Image, outcome: FileOutcome) -> None:
        self.pending.append((image, outcome))
        if len(self.pending) >= self.BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        images = [image for image, _ in self.pending]
        try:
            with transaction.atomic():
                Image.objects.bulk_create(images)
        except BaseException:
            self.discard()
            raise
        for image, outcome in self.pending:
            outcome.image_id, outcome.sha256 = image.pk, image.sha256
        self.pending = []

    def discard(self) -> None:
        for image, _ in self.pending:
            image.file.delete(save=False)
        self.pending = []


class _Writes:
    """Prepared files written to storage by a thread beside this one, in order; then their rows.

    Writing a 0.5 MB file is mostly the kernel's work, and hashing it is OpenSSL's; the thread
    releases the GIL for both, so where a second core has time, it writes one file while this
    thread prepares the next, and where none has, it costs next to nothing. Into file system
    storage the file is created here and the thread only writes and hashes it
    (:mod:`imaging.file_writes` says why: in alternating in-process runs of bench/ingest.py's
    series on 2 cores, median 381 images/s with ``storage.save`` on the thread, 416 so); into any
    other storage the thread runs ``storage.save``. DICOM files come in pieces, their pixel data
    uncopied (:func:`~imaging.dicom.writing.dataset_to_pieces`; 446 → 466 images/s, median of
    the same kind of runs). At most :attr:`AHEAD` files wait to be written
    (each is held in memory). A row is added to `rows` only once its file is stored, in upload
    order.
    """

    AHEAD = 4

    def __init__(self, rows: _PendingRows) -> None:
        self.rows = rows
        self.pool: ThreadPoolExecutor | None = None  # started with the first file
        # Each: the write, the row and file this thread created (None: the thread stores the
        # file and returns the row), the row's place in the series, the file's outcome.
        self.pending: deque[tuple[Future, tuple[Image, CreatedFile] | None, int, FileOutcome]] = deque()
        self.known_folders: set[str] = set()

    def add(self, order: int, outcome: FileOutcome, series: Series, content, *row_fields) -> None:
        """Store `content` (pieces, or a worker's spooled file); `row_fields`: fields, report, caption."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="ingest-write")
        self.pending.append((*self._submit(series, content, *row_fields), order, outcome))
        while self.pending and (self.pending[0][0].done() or len(self.pending) > self.AHEAD):
            self._settle()

    def _submit(self, series, content, fields, report, caption):
        if isinstance(content, Spooled):
            image = _unsaved_image(series, content.size, fields, report, caption)
            if place_spooled(image, content.path, self.known_folders) is not None:
                placed: Future = Future()  # in storage already: nothing for the thread to do
                placed.set_result(image)
                return placed, None
        else:
            image = _unsaved_image(series, pieces_size(content), fields, report, caption)
            new_file = created_file(image, self.known_folders)
            if new_file is not None:
                try:
                    return self.pool.submit(write_and_hash, new_file.fd, content), (image, new_file)
                except BaseException:
                    new_file.abandon()
                    raise
        return self.pool.submit(_stored_image, series, content, fields, report, caption), None

    def _settle(self) -> None:
        future, created, order, outcome = self.pending.popleft()
        if created is None:
            image = future.result()  # a failure to store is raised here, in this thread
        else:
            image, new_file = created
            try:
                image.sha256 = future.result()
                new_file.finish()
            except BaseException:
                new_file.abandon()
                raise
        image.order = order
        self.rows.add(image, outcome)

    def finish(self) -> None:
        """Wait for every file to be stored and add its row."""
        while self.pending:
            self._settle()
        self._stop()

    def discard(self) -> None:
        """Wait for the writes under way and delete the files they stored; add no row."""
        for future, created, _, _ in self.pending:
            try:
                image = future.result()
            except BaseException:
                image = None  # storage.save stored nothing
            if created is not None:
                created[1].abandon()
            elif image is not None:
                image.file.delete(save=False)
        self.pending.clear()
        self._stop()

    def _stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def _renumber(series: Series) -> None:
    """Order a series by slice position: InstanceNumber, else position along the normal."""
    rows = series.images.order_by("sort_key", "pk").values_list("pk", "order")
    moved = [
        Image(pk=pk, order=position)
        for position, (pk, order) in enumerate(rows, start=1)
        if order != position
    ]
    Image.objects.bulk_update(moved, ["order"])


def images_ingest(
    *,
    series: Series,
    files: Iterable[InputFile | RejectedFile],
    by=None,
    caption: str = "",
    on_progress: Callable[[FileOutcome], None] | None = None,
) -> IngestResult:
    """Ingest `files` into `series`: one outcome per file, in order, and an Upload recording them.

    A :class:`RejectedFile` among `files` (refused before it was read) is recorded as rejected.

    A rejected file stores nothing. If storing or indexing fails, the files of the batch not yet
    committed are deleted again and the error goes on (earlier batches stay committed).
    """
    key = _deidentification_key(series.study.case)
    outcomes: list[FileOutcome] = []
    rows = _PendingRows()
    writes = _Writes(rows)
    # New images go after the series' images in upload order, until _renumber puts them in
    # slice order: for files uploaded in order (a series' files usually are), nothing moves.
    order = next_order(series.images.all())
    # The workers' spool folder goes last, once every spooled file was moved into storage or
    # given up: files never taken (rejected in the end, cancelled) go with it.
    spool = tempfile.TemporaryDirectory(
        prefix="ingest-spool-", dir=settings.FILE_UPLOAD_TEMP_DIR, ignore_cleanup_errors=True
    )
    try:
        usage = _PoolUse()
        with closing(_prepared(expand_named_bytes(files), key, spool.name, usage)) as prepared:
            try:
                for position, (name, result) in enumerate(prepared, start=1):
                    if isinstance(result, RejectedFile):
                        outcome = FileOutcome(name, accepted=False, reason=result.reason, position=position)
                        outcome.sha256 = result.sha256
                    else:
                        content, fields, report = result
                        outcome = FileOutcome(
                            name, accepted=True, deidentification=report, position=position
                        )
                        writes.add(order, outcome, series, content, fields, report, caption)
                        order += 1
                    outcomes.append(outcome)
                    if on_progress:
                        on_progress(outcome)
                writes.finish()
            except BaseException:
                writes.discard()
                raise
        rows.flush()
    except BaseException:
        rows.discard()
        raise
    finally:
        spool.cleanup()
    with transaction.atomic():
        _renumber(series)
        upload = Upload.objects.create(
            series=series,
            uploaded_by=by,
            accepted=sum(outcome.accepted for outcome in outcomes),
            rejected=sum(not outcome.accepted for outcome in outcomes),
            report=[outcome.as_dict() for outcome in outcomes],
        )
    return IngestResult(upload, outcomes, workers=usage.workers, worker_cpu_seconds=usage.cpu_seconds)


def next_order(queryset) -> int:
    return (queryset.aggregate(top=Max("order"))["top"] or 0) + 1


class SeriesLabelError(ValueError):
    pass


def check_series_label(case, label: str) -> None:
    """The label residents see must not give the answer away (it is shown in quiz mode too)."""
    lowered = label.lower()
    for phrase in answer_phrases(case):
        if phrase and phrase.lower() in lowered:
            raise SeriesLabelError(
                f"The series label {label!r} names the diagnosis ({phrase!r}); use e.g. 'Sagittal T2'."
            )


def series_create(
    *, case, label: str, modality: str, time_label: str = "Initial", finding=None, is_sample: bool = False
) -> Series:
    """A series in the case's study with that modality and time label (the study is created if new)."""
    series, _study_created = _series_and_study(
        case=case, label=label, modality=modality, time_label=time_label, finding=finding, is_sample=is_sample
    )
    return series


@transaction.atomic
def _series_and_study(
    *, case, label: str, modality: str, time_label: str, finding, is_sample: bool
) -> tuple[Series, bool]:
    """:func:`series_create`, and whether it created the study too."""
    check_series_label(case, label)
    study = Study.objects.filter(case=case, modality=modality, time_label=time_label).first()
    study_created = study is None
    if study_created:
        study = Study.objects.create(
            case=case, modality=modality, time_label=time_label, order=next_order(case.studies.all())
        )
    series = Series.objects.create(
        study=study, label=label, finding=finding, is_sample=is_sample, order=next_order(study.series.all())
    )
    return series, study_created


class NothingAccepted(Exception):
    """Every file of an import into a new series was rejected: the series is not kept (nor a study made
    for it), so a failed import leaves nothing behind. ``result`` names each file and its reason."""

    def __init__(self, result: IngestResult) -> None:
        self.result = result
        super().__init__(f"every file was rejected ({len(result.rejected)}): nothing was imported")


def series_import(
    *,
    case,
    label: str,
    modality: str,
    time_label: str = "Initial",
    finding=None,
    is_sample: bool = False,
    files: Iterable[InputFile | RejectedFile],
    by=None,
    caption: str = "",
    on_progress: Callable[[FileOutcome], None] | None = None,
) -> IngestResult:
    """`files` ingested into a new series of `case` (:func:`series_create`, then :func:`images_ingest`).

    Raises :class:`NothingAccepted` when every file was rejected: the new series, its upload report,
    and a study and de-identification key created for it are removed again. If the ingest fails, they
    are removed too unless images were stored before the failure (those batches stay committed).
    """
    made_key = not DeidentificationKey.objects.filter(case=case).exists()
    series, made_study = _series_and_study(
        case=case, label=label, modality=modality, time_label=time_label, finding=finding, is_sample=is_sample
    )
    try:
        result = images_ingest(series=series, files=files, by=by, caption=caption, on_progress=on_progress)
    except BaseException:
        _remove_if_empty(series, made_study=made_study, made_key=made_key)
        raise
    if not result.accepted:
        _remove_if_empty(series, made_study=made_study, made_key=made_key)
        raise NothingAccepted(result)
    return result


@transaction.atomic
def _remove_if_empty(series: Series, *, made_study: bool, made_key: bool) -> None:
    """Undo :func:`series_import`'s rows when it stored no image: the series (its Upload rows go with
    it), and the study and the case's key if it made them and nothing else uses them."""
    if series.images.exists():
        return
    study, case = series.study, series.study.case
    series.delete()
    if made_study and not study.series.exists():
        study.delete()
    if made_key and not Image.objects.filter(series__study__case=case).exists():
        DeidentificationKey.objects.filter(case=case).delete()


def files_check(files: Iterable[InputFile | RejectedFile]) -> list[FileOutcome]:
    """Each file's verdict as :func:`images_ingest` would give it, storing nothing and writing no row.

    For a caller that cannot make the series yet (its modality is unknown) and must still say which
    files would be rejected, and why. Each file is prepared in full with a throwaway key, so this costs
    what an ingest costs; the prepared bytes are dropped.
    """
    deidentifier = Deidentifier()  # a fresh random key: nothing it produces is kept
    outcomes = []
    for item in expand_named_bytes(files):
        result = _prepare_here(item, deidentifier)
        if isinstance(result, RejectedFile):
            outcomes.append(FileOutcome(item.name, accepted=False, reason=result.reason))
        else:
            outcomes.append(FileOutcome(item.name, accepted=True))
    return outcomes


def guess_modality(files: Iterable[InputFile]) -> str:
    """The Modality of the first readable DICOM header, or "" (raster files carry none)."""
    for item in files:
        if looks_like_dicom(item.name, item.data):
            try:
                dataset = pydicom.dcmread(
                    BytesIO(item.data), stop_before_pixels=True, specific_tags=["Modality"]
                )
            except Exception:
                continue
            if dataset.get("Modality"):
                return str(dataset.Modality).upper()
    return ""
