"""Ingest benchmark: our image ingest against its floor and against Orthanc, plus first view of a slice.

Run ``.venv/bin/python bench/ingest.py`` (options: ``--slices``, ``--repeat``, ``--time-limit``,
``--profile``). It prints figures and goals and asserts nothing; results go to bench/RESULTS.md.

Method: one real CT slice (pydicom's ``693_J2KI.dcm``, 512 x 512) is decoded once and written
``--slices`` times, uncompressed, as one series with identifying data filled in. Each contender is
fed the same files one at a time by one client: (a) ours, :func:`imaging.services.images_ingest`
called directly in this process (throwaway SQLite database and ``MEDIA_ROOT``, file storage);
(b) the floor, ``pydicom.dcmread`` + the same :class:`~imaging.dicom.deidentify.Deidentifier` +
``pydicom.dcmwrite`` to a file; (c) Orthanc's ``POST /instances``, started afresh for each repeat
in its own network namespace (``unshare -n``, loopback only). Each repeat runs them in turn so that
all meet the same load, and deletes what each wrote before the next starts (:func:`written_away`).
First view: every stored slice rendered once, uncached (:func:`imaging.rendering.frame_png`, CT
``soft_tissue``), against Orthanc's ``GET /instances/{id}/preview``. Goals (from issue 18): ingest
ahead of Orthanc, ingest time within 1.5x of the floor's, first view at most a third of Orthanc's
preview. Other ways of running our ingest (the same upload through the task queue, say) are
measured beside (a) when listed in :func:`our_contenders`.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import cProfile
import ctypes
import http.client
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORTHANC = "/usr/sbin/Orthanc"
SAMPLE = "693_J2KI.dcm"
WARMUP_SLICES = 5
ORTHANC_START_SECONDS = 30
ORTHANC_STOP_SECONDS = 20
HTTP_TIMEOUT_SECONDS = 30
GOAL_FLOOR_RATIO = 1.5  # ingest time / floor time, at most
GOAL_ORTHANC_RATIO = 1.0  # ingest rate / Orthanc rate, above
GOAL_VIEW_RATIO = 1 / 3  # first view / Orthanc preview, at most


# -- data -------------------------------------------------------------------------------------------


def sample_path() -> Path:
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files" / SAMPLE


def make_slices(folder: Path, count: int) -> list[Path]:
    """Write `count` uncompressed 512 x 512 CT slices of one series, made from one real slice."""
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(sample_path())
    ds.decompress()  # JPEG 2000 -> Explicit VR Little Endian, decoded once
    for elem in list(ds):
        if elem.tag.element == 0:  # group lengths, stale once anything changes
            del ds[elem.tag]
    for elem in list(ds.file_meta):
        if elem.tag.element == 0:
            del ds.file_meta[elem.tag]
    if "PatientIdentityRemoved" in ds:
        del ds.PatientIdentityRemoved

    # Identifying data, so that de-identification has work to do.
    ds.PatientName = "DOE^JANE^BENCHMARK"
    ds.PatientID = "MRN-0048213"
    ds.PatientBirthDate = "19680412"
    ds.PatientSex = "F"
    ds.PatientAge = "056Y"
    ds.OtherPatientIDs = "NHS 943 476 5919"
    ds.PatientAddress = "12 Harbour Road, Portsmouth"
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "InstanceCreationDate"):
        setattr(ds, keyword, "20240315")
    for keyword in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "InstanceCreationTime"):
        setattr(ds, keyword, "101542")
    ds.AccessionNumber = "ACC20240315-117"
    ds.StudyID = "4711"
    ds.InstitutionName = "St Elsewhere General Hospital"
    ds.InstitutionAddress = "1 Hospital Way, Portsmouth"
    ds.StationName = "CT-ROOM-2"
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.PerformingPhysicianName = "QUINN^MICHAELA"
    ds.OperatorsName = "SMITH^JO"
    ds.StudyDescription = "CT HEAD WITHOUT CONTRAST ? SAH"
    ds.Manufacturer = "BenchCorp"
    ds.DeviceSerialNumber = "SN-88231"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()

    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    thickness = 1.0
    ds.SliceThickness = thickness
    ds.SpacingBetweenSlices = thickness
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [x, y, z - (number - 1) * thickness]
        ds.SliceLocation = z - (number - 1) * thickness
        path = folder / f"slice-{number:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# -- helpers ----------------------------------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds
        self.hit = False

    def passed(self) -> bool:
        if time.perf_counter() >= self.end:
            self.hit = True
        return self.hit


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rate_summary(runs: list[dict]) -> dict:
    rates = [run["count"] / run["seconds"] for run in runs if run["seconds"] > 0]
    cpu_ms = [
        run["cpu_seconds"] * 1000 / run["count"] for run in runs if run.get("cpu_seconds") and run["count"]
    ]
    return {
        "median": statistics.median(rates) if rates else None,
        "best": max(rates) if rates else None,
        "runs": [round(rate, 1) for rate in rates],
        "cpu_ms": statistics.median(cpu_ms) if cpu_ms else None,
        "cut_short": any(run["cut_short"] for run in runs),
    }


def paired_ratios(runs: list[dict], baseline_runs: list[dict]) -> list[float]:
    """Per repeat, (time per image in `runs`) / (time per image in `baseline_runs`).

    Each repeat runs the two back to back, so a pair meets the same load; their median cancels a
    slow drift of the machine that the ratio of the two medians does not, and their spread shows
    how far one repeat can stray.
    """
    return [
        (run["seconds"] / run["count"]) / (base["seconds"] / base["count"])
        for run, base in zip(runs, baseline_runs, strict=True)
        if run["count"] and base["count"] and base["seconds"] > 0
    ]


def view_summary(times_ms: list[float], cut_short: bool) -> dict:
    return {
        "p50": percentile(times_ms, 50),
        "p95": percentile(times_ms, 95),
        "n": len(times_ms),
        "cut_short": cut_short,
    }


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


# -- (b) the floor ----------------------------------------------------------------------------------


def floor_pass(paths: list[Path], out: Path, seconds: float) -> dict:
    """pydicom read + the same de-identification + ``pydicom.dcmwrite`` to a file; nothing else."""
    import pydicom

    from imaging.dicom.deidentify import Deidentifier

    out.mkdir(parents=True)
    deidentifier = Deidentifier(seed=secrets.token_hex(16))
    deadline = Deadline(seconds)
    count = 0
    cpu_start, start = time.process_time(), time.perf_counter()
    for path in paths:
        if deadline.passed():
            break
        dataset = pydicom.dcmread(BytesIO(path.read_bytes()))
        deidentifier.deidentify(dataset)
        pydicom.dcmwrite(out / f"{count}.dcm", dataset, enforce_file_format=True)
        count += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"count": count, "seconds": elapsed, "cpu_seconds": cpu, "cut_short": deadline.hit}


# -- (a) ours ---------------------------------------------------------------------------------------


def django_setup(workdir: Path) -> None:
    """A throwaway SQLite database and MEDIA_ROOT, migrated; DEBUG off as in production."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["QUARANTINE_ROOT"] = str(workdir / "quarantine")
    os.environ["DEBUG"] = "0"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    for where in (settings.DATABASES["default"]["NAME"], settings.MEDIA_ROOT, settings.QUARANTINE_ROOT):
        if not str(where).startswith(str(workdir)):  # never the real database or media
            raise SystemExit(f"refusing to run: {where} is outside {workdir}")
    call_command("migrate", verbosity=0)


def make_case():
    from cases.models import Case

    return Case.objects.create(slug="ingest-benchmark", title="Ingest benchmark")


def ingest_pass(case, paths: list[Path], label: str, seconds: float):
    """(a): images_ingest of the slices into a new series, in this process; the figures and the series."""
    from imaging.inputs import InputFile
    from imaging.services import images_ingest, series_create

    series = series_create(case=case, label=label, modality="CT")
    deadline = Deadline(seconds)

    def files():
        for path in paths:
            if deadline.passed():
                return
            yield InputFile(path.name, path.read_bytes())

    cpu_start, start = time.process_time(), time.perf_counter()
    result = images_ingest(series=series, files=files())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if result.rejected:
        raise SystemExit(f"ingest rejected slices: {[o.reason for o in result.rejected][:3]}")
    figures = {
        "count": len(result.accepted),
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "cut_short": deadline.hit,
    }
    return figures, series


class QueueWorker:
    """One ``manage.py db_worker`` for the whole benchmark, on its database; stopped by its pid at exit."""

    process: subprocess.Popen | None = None

    @classmethod
    def ensure(cls, workdir: Path) -> None:
        if cls.process is None:
            log = (workdir / "db_worker.log").open("w")
            cls.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--no-reload",
                    "--interval",
                    "0.01",
                    "--no-startup-delay",
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            atexit.register(cls.stop)

    @classmethod
    def stop(cls) -> None:
        if cls.process is not None and cls.process.poll() is None:
            os.kill(cls.process.pid, signal.SIGTERM)
            try:
                cls.process.wait(timeout=ORTHANC_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.kill(cls.process.pid, signal.SIGKILL)
                cls.process.wait()


def queue_pass(case, paths: list[Path], label: str, seconds: float):
    """The same upload through the task queue: quarantined and queued here (as the admin does), ingested
    by one ``db_worker``; timed from the queueing to the upload's "done". CPU time: this process's only."""
    from django.core.files import File

    from imaging.ingest_tasks import upload_enqueue
    from imaging.models import Upload
    from imaging.services import series_create

    QueueWorker.ensure(Path(os.environ["QUARANTINE_ROOT"]).parent)
    series = series_create(case=case, label=label, modality="CT")
    deadline = Deadline(seconds)
    cpu_start, start = time.process_time(), time.perf_counter()
    opened = [File(path.open("rb"), name=path.name) for path in paths]
    try:
        upload = upload_enqueue(series=series, files=opened)
    finally:
        for file in opened:
            file.close()
    status = Upload.objects.filter(pk=upload.pk).values_list("status", flat=True)
    while status.first() not in (Upload.Status.DONE, Upload.Status.FAILED) and not deadline.passed():
        time.sleep(0.005)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    upload.refresh_from_db()
    if upload.status != Upload.Status.DONE or upload.rejected:
        raise SystemExit(
            f"the queued upload ended {upload.status}, {upload.rejected} rejected: {upload.status_note}"
        )
    return {"count": upload.accepted, "seconds": elapsed, "cpu_seconds": cpu, "cut_short": False}, series


def our_contenders():
    """Ways of running our ingest, each ``(label, run)`` with ``run`` called like :func:`ingest_pass`.

    The first is (a), whose stored slices are then viewed. Each is measured in every repeat, right
    after (a), and reported beside it with the same ratios.
    """
    return [
        ("(a) ours: images_ingest, in this process", ingest_pass),
        ("(a') ours: the same upload through the task queue, one db_worker", queue_pass),
    ]


def first_views(series, seconds: float) -> tuple[list[float], bool]:
    """frame_png(soft_tissue) of every slice of `series`, each not rendered before; ms each."""
    from django.core.files.storage import default_storage

    from imaging.models import Image
    from imaging.rendering import frame_png, render_path

    deadline = Deadline(seconds)
    times_ms = []
    for pk in series.images.order_by("order").values_list("pk", flat=True):
        if deadline.passed():
            break
        if default_storage.exists(render_path(pk, "soft_tissue-0.png")):
            raise SystemExit(f"image {pk} was already rendered: not a first view")
        start = time.perf_counter()
        png = frame_png(Image.objects.get(pk=pk), 0, "soft_tissue")
        times_ms.append((time.perf_counter() - start) * 1000)
        if not is_png(png):
            raise SystemExit("frame_png did not return a PNG")
    return times_ms, deadline.hit


def warm_up(case, paths: list[Path], workdir: Path, seconds: float) -> None:
    """Untimed: the first calls pay for imports, caches and the first queries.

    Then one untimed floor pass over every slice, deleted again: see :func:`written_away`.
    """
    warm = paths[:WARMUP_SLICES]
    floor_pass(warm, workdir / "floor-warm-up", seconds)
    (_, ours), *others = our_contenders()
    _, series = ours(case, warm, "Warm-up", seconds)
    first_views(series, seconds)
    for number, (_, run) in enumerate(others, start=2):
        run(case, warm, f"Warm-up {number}", seconds)
    floor_pass(paths, workdir / "pages-warm-up", seconds)
    written_away(workdir / "pages-warm-up")


def written_away(*folders: Path) -> None:
    """Delete what a contender wrote, and flush the rest to disk, before the next one starts.

    On a virtual machine, writing into memory the kernel never used costs more than writing into
    memory it used and freed, so whoever ran after a deletion would look fast. So each contender's
    files are deleted once it is done (ours after the first views), and one untimed pass before
    the first repeat writes and deletes as much; ``os.sync`` keeps one contender's write-back out
    of the next one's time.
    """
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    os.sync()


def profile_ingest(case, paths: list[Path], seconds: float, top: int = 30) -> None:
    """One more ingest under cProfile: cumulative and own time per function, in ms per image."""
    profiler = cProfile.Profile()
    profiler.enable()
    figures, _ = ingest_pass(case, paths, "Profiled", seconds)
    profiler.disable()
    images = max(figures["count"], 1)
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tottime, cumtime, callers)}

    def name(key) -> str:
        file, line, function = key
        if file == "~":
            return function
        for prefix in (str(ROOT) + "/", "site-packages/"):
            if prefix in file:
                file = file.split(prefix, 1)[1]
        return f"{file}:{line}({function})"

    print(f"\nProfile of one more ingest of {images} slices (cProfile slows it down: compare shares)")
    for title, column in (("cumulative", 3), ("own (tottime)", 2)):
        print(f"\n  top {top} by {title} time, ms per image      calls/image")
        rows = sorted(stats.items(), key=lambda item: item[1][column], reverse=True)[:top]
        for key, values in rows:
            print(f"  {values[column] * 1000 / images:8.2f}  {values[1] / images:10.1f}   {name(key)}")


# -- (c) Orthanc, in its own network namespace ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the Orthanc child before exec: SIGTERM it if the benchmark process dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class OrthancClient:
    def __init__(self, port: int, auth: tuple[str, str] | None = None) -> None:
        self.port = port
        # HTTP basic, for an Orthanc whose AuthenticationEnabled is on (the receiver's pull test).
        self.authorization = "Basic " + base64.b64encode(":".join(auth).encode()).decode() if auth else ""
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_SECONDS)

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> bytes:
        headers = {"Content-Type": content_type} if content_type else {}
        if self.authorization:
            headers["Authorization"] = self.authorization
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, ConnectionError):
            self.connection.close()  # reconnect once
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"Orthanc {method} {path}: HTTP {response.status} {data[:200]!r}")
        return data

    def json(self, method: str, path: str, body: bytes | None = None, content_type: str = ""):
        return json.loads(self.request(method, path, body, content_type))


def orthanc_start(folder: Path) -> tuple[subprocess.Popen, OrthancClient]:
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "ingest-benchmark",
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [],
    }
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [ORTHANC, str(config_path)], stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
    )
    client = OrthancClient(http_port)
    deadline = Deadline(ORTHANC_START_SECONDS)
    while not deadline.passed():
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {process.returncode}; see {folder / 'orthanc.log'}")
        try:
            client.json("GET", "/system")
            return process, client
        except (OSError, RuntimeError, http.client.HTTPException):
            client.connection.close()
            time.sleep(0.1)
    orthanc_stop(process, client)
    raise RuntimeError(f"Orthanc did not answer within {ORTHANC_START_SECONDS} s")


def orthanc_stop(process: subprocess.Popen, client: OrthancClient) -> None:
    if process.poll() is None:
        try:
            client.request("POST", "/tools/shutdown")
        except Exception:
            process.terminate()
        try:
            process.wait(ORTHANC_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(ORTHANC_STOP_SECONDS)
    client.connection.close()


def orthanc_store(client: OrthancClient, paths: list[Path], seconds: float) -> tuple[dict, list[str]]:
    deadline = Deadline(seconds)
    ids = []
    start = time.perf_counter()
    for path in paths:
        if deadline.passed():
            break
        answer = client.json("POST", "/instances", path.read_bytes(), "application/dicom")
        if answer.get("Status") != "Success":
            raise RuntimeError(f"Orthanc did not store {path.name}: {answer}")
        ids.append(answer["ID"])
    figures = {"count": len(ids), "seconds": time.perf_counter() - start, "cut_short": deadline.hit}
    return figures, ids


def orthanc_previews(client: OrthancClient, ids: list[str], seconds: float) -> tuple[list[float], bool]:
    deadline = Deadline(seconds)
    times_ms = []
    for instance in ids:
        if deadline.passed():
            break
        start = time.perf_counter()
        png = client.request("GET", f"/instances/{instance}/preview")
        times_ms.append((time.perf_counter() - start) * 1000)
        if not is_png(png):
            raise RuntimeError("Orthanc's preview is not a PNG")
    return times_ms, deadline.hit


def orthanc_empty(client: OrthancClient) -> None:
    for patient in client.json("GET", "/patients")[:1000]:
        client.request("DELETE", f"/patients/{patient}")
    if client.json("GET", "/instances"):
        raise RuntimeError("Orthanc still holds instances after deleting every patient")


def orthanc_part(workdir: Path, seconds: float) -> dict:
    """Inside `unshare -n`: start a fresh Orthanc, warm it up, store every slice, preview each, stop it."""
    paths = sorted((workdir / "slices").glob("*.dcm"))
    folder = Path(tempfile.mkdtemp(prefix="orthanc-", dir=workdir))
    process, client = orthanc_start(folder)
    try:
        version = client.json("GET", "/system").get("Version", "?")
        _, ids = orthanc_store(client, paths[:WARMUP_SLICES], seconds)
        orthanc_previews(client, ids[:1], seconds)
        orthanc_empty(client)
        figures, ids = orthanc_store(client, paths, seconds)
        views, views_cut = orthanc_previews(client, ids, seconds)
    finally:
        orthanc_stop(process, client)
        shutil.rmtree(folder, ignore_errors=True)
    return {"version": version, "run": figures, "views": views, "views_cut": views_cut}


def run_orthanc_child(workdir: Path, seconds: float) -> dict:
    """Re-run this file as the Orthanc part in a new network namespace; its figures, or an error."""
    if not Path(ORTHANC).exists():
        return {"error": f"{ORTHANC} is missing: apt-get install -y orthanc"}
    out = workdir / "orthanc-figures.json"
    out.unlink(missing_ok=True)
    command = [
        "unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
        sys.executable, str(Path(__file__).resolve()), "--orthanc-part",
        "--workdir", str(workdir), "--time-limit", str(seconds), "--out", str(out),
    ]  # fmt: skip
    # The warm-up, store and preview loops, plus start, stop and emptying.
    timeout = 4 * seconds + ORTHANC_START_SECONDS + 2 * ORTHANC_STOP_SECONDS + 60
    try:
        done = subprocess.run(command, timeout=timeout, capture_output=True, text=True, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"the Orthanc part took longer than {timeout:.0f} s"}
    if done.returncode != 0 or not out.exists():
        return {"error": f"the Orthanc part failed ({done.returncode}): {done.stderr.strip()[-600:]}"}
    return json.loads(out.read_text())


def measure(paths: list[Path], workdir: Path, repeat: int, seconds: float) -> dict:
    """Each repeat runs the floor, ours (each of :func:`our_contenders`) and Orthanc in turn."""
    django_setup(workdir)
    case = make_case()
    warm_up(case, paths, workdir, seconds)
    from django.conf import settings

    stored = [Path(settings.MEDIA_ROOT) / "images", Path(settings.MEDIA_ROOT) / "renders"]
    contenders = our_contenders()
    floor_runs, orthanc_runs = [], []
    ours_runs: list[list[dict]] = [[] for _ in contenders]
    views, orthanc_views = [], []
    views_cut = orthanc_views_cut = False
    orthanc = {"version": "n/a"}
    for run in range(1, repeat + 1):
        print(f"  run {run} of {repeat}: floor, ours, Orthanc", flush=True)
        written_away()  # Orthanc's, before the floor
        floor_runs.append(floor_pass(paths, workdir / f"floor-{run}", seconds))
        written_away(workdir / f"floor-{run}")
        for number, (_, ingest) in enumerate(contenders):
            figures, series = ingest(case, paths, f"Axial {run}.{number}", seconds)
            ours_runs[number].append(figures)
            if number == 0:
                times_ms, cut = first_views(series, seconds)
                views += times_ms
                views_cut |= cut
            written_away(*stored)
        if "error" not in orthanc:
            orthanc = run_orthanc_child(workdir, seconds)
        if "error" not in orthanc:
            orthanc_runs.append(orthanc["run"])
            orthanc_views += orthanc["views"]
            orthanc_views_cut |= orthanc["views_cut"]
    return {
        "case": case,
        "floor": rate_summary(floor_runs),
        "ours": [
            {
                "label": label,
                "ingest": rate_summary(runs),
                "paired_floor_ratios": paired_ratios(runs, floor_runs),
            }
            for (label, _), runs in zip(contenders, ours_runs, strict=True)
        ],
        "view": view_summary(views, views_cut),
        "orthanc": {
            "version": orthanc.get("version", "n/a"),
            "error": orthanc.get("error"),
            "ingest": rate_summary(orthanc_runs),
            "view": view_summary(orthanc_views, orthanc_views_cut),
        },
    }


# -- report -----------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_facts(orthanc_version: str) -> list[tuple[str, str]]:
    import sqlite3

    import django
    import numpy
    import PIL
    import pydicom

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    return [
        ("CPUs", f"{os.cpu_count()} ({usable} usable), {cpu_model()}"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("pydicom", pydicom.__version__),
        ("numpy / Pillow", f"{numpy.__version__} / {PIL.__version__}"),
        ("Django / SQLite", f"{django.get_version()} / {sqlite3.sqlite_version}"),
        ("Orthanc", orthanc_version),
        ("Load average", f"{load} (1, 5, 15 min, at the end: other work on the machine)"),
    ]


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def verdict(value: float | None, goal: float, at_most: bool) -> str:
    if value is None:
        return "n/a"
    return "met" if (value <= goal if at_most else value > goal) else "MISSED"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def report(args, slice_bytes: int, mine: dict) -> None:
    orthanc = mine["orthanc"]
    print(
        f"\nIngest benchmark: {args.slices} CT slices 512 x 512 (uncompressed, {slice_bytes / 1024:.0f} KB "
        f"each), {args.repeat} repeat(s), one client"
    )
    print("\nMachine")
    for label, value in machine_facts(orthanc["version"]):
        print(f"  {label:<16} {value}")
    if orthanc["error"]:
        print(f"\n  Orthanc part not measured (fully): {orthanc['error']}")

    o_ingest = orthanc["ingest"]
    o_view = orthanc["view"]
    print("\nIngest                                          images/s   best     runs")
    rows = [("(b) floor: dcmread + de-identify + dcmwrite", mine["floor"])]
    rows += [(ours["label"], ours["ingest"]) for ours in mine["ours"]]
    rows.append(("(c) Orthanc: POST /instances", o_ingest))
    for label, figures in rows:
        cut = "  (cut short by --time-limit)" if figures.get("cut_short") else ""
        runs = ", ".join(str(r) for r in figures.get("runs", []))
        print(f"  {label:<47} {fmt(figures.get('median')):>7}  {fmt(figures.get('best')):>7}   {runs}{cut}")

    print("\nFirst view of a slice (not cached)              p50 ms   p95 ms   views")
    rows = [
        ("ours: frame_png, CT soft_tissue, PNG level 1", mine["view"]),
        ("Orthanc: GET /instances/{id}/preview", o_view),
    ]
    for label, figures in rows:
        cut = "  (cut short by --time-limit)" if figures.get("cut_short") else ""
        print(
            f"  {label:<47} {fmt(figures.get('p50'), '.2f'):>7}  {fmt(figures.get('p95'), '.2f'):>7}   "
            f"{figures.get('n', 0):>5}{cut}"
        )

    print("\nCPU per image (this process; median ms)")
    print(f"  {'(b) floor':<47} {fmt(mine['floor']['cpu_ms'], '.2f'):>7}")
    for ours in mine["ours"]:
        print(f"  {ours['label']:<47} {fmt(ours['ingest']['cpu_ms'], '.2f'):>7}")

    print("\nRatios (medians)                                value    goal      verdict")
    rows = []
    for ours in mine["ours"]:
        pairs = ours["paired_floor_ratios"]
        rows += [
            (ours["label"], None, None, True),
            ("  ingest time / floor time", ratio(mine["floor"]["median"], ours["ingest"]["median"]),
             GOAL_FLOOR_RATIO, True),
            ("    median of per-repeat pairs", statistics.median(pairs) if pairs else None,
             GOAL_FLOOR_RATIO, True),
            ("  ingest rate / Orthanc rate", ratio(ours["ingest"]["median"], o_ingest["median"]),
             GOAL_ORTHANC_RATIO, False),
        ]  # fmt: skip
    rows += [
        (
            "first view / Orthanc preview, p50",
            ratio(mine["view"]["p50"], o_view["p50"]),
            GOAL_VIEW_RATIO,
            True,
        ),
        (
            "first view / Orthanc preview, p95",
            ratio(mine["view"]["p95"], o_view["p95"]),
            GOAL_VIEW_RATIO,
            True,
        ),
    ]
    for label, value, goal, at_most in rows:
        if goal is None:
            print(f"  {label}")
            continue
        shown = "n/a" if value is None else f"{value:.2f}x"
        goal_text = f"{'<=' if at_most else '>'} {goal:.2f}"
        print(f"  {label:<47} {shown:>6}   {goal_text:<9} {verdict(value, goal, at_most)}")
    for ours in mine["ours"]:
        pairs = ours["paired_floor_ratios"]
        if pairs:
            listed = ", ".join(f"{pair:.2f}" for pair in pairs)
            print(f"  {ours['label']}: ingest time / floor time, each repeat: {listed}")


# -- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=200, help="slices in the series (default 200)")
    # Several: on a shared virtual machine one repeat's ingest/floor ratio can stray a long way.
    parser.add_argument("--repeat", type=int, default=9, help="timed runs of each contender (default 9)")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="seconds at most per timed loop (default 120)"
    )
    parser.add_argument("--profile", action="store_true", help="profile one more ingest with cProfile")
    parser.add_argument("--orthanc-part", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.slices < 1 or args.repeat < 1 or args.time_limit <= 0:
        parser.error("--slices and --repeat must be at least 1, --time-limit positive")

    if args.orthanc_part:  # the child, inside `unshare -n`
        args.out.write_text(json.dumps(orthanc_part(args.workdir, args.time_limit)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temp:
        workdir = Path(temp)
        print(f"Writing {args.slices} slices to {workdir / 'slices'} ...", flush=True)
        paths = make_slices(workdir / "slices", args.slices)
        print("Measuring (Orthanc runs in its own network namespace) ...", flush=True)
        figures = measure(paths, workdir, args.repeat, args.time_limit)
        report(args, paths[0].stat().st_size, figures)
        if args.profile:
            profile_ingest(figures["case"], paths, args.time_limit)
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    main()
