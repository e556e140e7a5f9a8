"""Receive benchmark: a CT series pushed by ``storescu`` over one association, to our receiver and to Orthanc.

Run ``.venv/bin/python bench/receive.py`` (options: ``--slices``, default 200; ``--repeat``, default 3). It
prints figures and asserts nothing. It needs root (``unshare -n``), Debian's ``dcmtk`` and ``orthanc``.

Method
------
*Data:* bench/ingest.py's series (512 x 512 uncompressed CT slices with planted patient data), written once.

*Where:* everything runs in a child process in a network namespace of its own (``unshare -n``: loopback only),
since Orthanc 1.10 listens on every interface; our receiver runs in the same namespace, on 127.0.0.1.

*Ours:* ``manage.py receive_dicom --port 0 --stable-seconds 1`` on a throwaway SQLite database and
``MEDIA_ROOT`` / ``QUARANTINE_ROOT``, with one configured sender, and one task worker beside it
(``manage.py db_worker --interval 0.1``, django-tasks-db), which runs the gate. Timed: ``storescu``
sending every slice (from its start to its exit: association, every C-STORE, release); then the time from
``storescu``'s exit (the last instance received) until the study is in the inbox (status ``ready``, polled
every 20 ms), which includes the one stable second and the gate of every slice.

*Orthanc:* Debian's, started afresh for each repeat by bench/ingest.py's helpers (storage and index in a
temporary folder, defaults otherwise, so it fsyncs each stored file); ``storescu`` timed the same way to its
DICOM port. Orthanc has no inbox: the second figure is ours alone.

Each repeat runs ours, then Orthanc (the order alternates), so that both meet the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import make_slices, orthanc_start, orthanc_stop  # noqa: E402

STORESCU = "/usr/bin/storescu"
POLL_SECONDS = 0.02
INBOX_TIMEOUT_SECONDS = 600


def storescu(port: int, called: str, paths: list[Path]) -> float:
    """Seconds `storescu` took to send every file over one association; raises if it failed."""
    start = time.perf_counter()
    done = subprocess.run(
        [STORESCU, "-aet", "BENCH", "-aec", called, "127.0.0.1", str(port), *map(str, paths)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"storescu failed: {done.stderr.strip()[-600:]}")
    return seconds


def ours(workdir: Path, paths: list[Path]) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="ours-", dir=workdir))
    database = folder / "site.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "MEDIA_ROOT": str(folder / "media"),
        "QUARANTINE_ROOT": str(folder / "quarantine"),
        "DEBUG": "0",
        "SECRET_KEY": "receive-benchmark-only-" + "x" * 40,
    }

    def manage(*args) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )

    manage("migrate", "-v0")
    manage(
        "shell", "-c",
        "from django.contrib.auth.models import Group, User; "
        "User.objects.create_user('bench', is_staff=True).groups.add(Group.objects.get(name='faculty'))",
    )  # fmt: skip
    manage("dicom_senders", "add", "BENCH", "--author", "bench", "--host", "127.0.0.1")
    command = ["receive_dicom", "--port", "0", "--bind", "127.0.0.1", "--stable-seconds", "1"]
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    receiver = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = int(receiver.stdout.readline().rsplit(":", 1)[1])
        seconds = storescu(port, "TEACHING", paths)
        last_instance = time.perf_counter()
        deadline = last_instance + INBOX_TIMEOUT_SECONDS
        while time.perf_counter() < deadline:
            with sqlite3.connect(database) as connection:
                row = connection.execute("SELECT status FROM receiver_receivedstudy").fetchone()
            if row and row[0] == "ready":
                break
            time.sleep(POLL_SECONDS)
        else:
            raise RuntimeError("the study never reached the inbox")
        to_inbox = time.perf_counter() - last_instance
        with sqlite3.connect(database) as connection:
            accepted = connection.execute(
                "SELECT count(*) FROM receiver_receivedinstance WHERE status = 'accepted'"
            ).fetchone()[0]
    finally:
        for process in (receiver, worker):
            process.terminate()
            process.communicate(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
    if accepted != len(paths):
        raise RuntimeError(f"{accepted} of {len(paths)} slices passed the gate")
    return {"rate": len(paths) / seconds, "to_inbox": to_inbox}


def orthanc(workdir: Path, paths: list[Path]) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="orthanc-", dir=workdir))
    process, client = orthanc_start(folder)
    try:
        port = json.loads((folder / "orthanc.json").read_text())["DicomPort"]
        version = client.json("GET", "/system").get("Version", "?")
        seconds = storescu(port, "ORTHANC", paths)
        stored = len(client.json("GET", "/instances"))
    finally:
        orthanc_stop(process, client)
        shutil.rmtree(folder, ignore_errors=True)
    if stored != len(paths):
        raise RuntimeError(f"Orthanc stored {stored} of {len(paths)} slices")
    return {"rate": len(paths) / seconds, "version": version}


def inside(workdir: Path, repeat: int, out: Path) -> None:
    """In the network namespace: each repeat runs both, in alternating order."""
    paths = sorted((workdir / "slices").glob("*.dcm"))
    runs: dict[str, list[dict]] = {"ours": [], "orthanc": []}
    for run in range(repeat):
        order = [("ours", ours), ("orthanc", orthanc)]
        for name, contender in order if run % 2 == 0 else reversed(order):
            print(f"  run {run + 1} of {repeat}: {name}", file=sys.stderr, flush=True)
            runs[name].append(contender(workdir, paths))
    out.write_text(json.dumps(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.workdir, args.repeat, args.out)
        return
    for tool in (STORESCU, "/usr/sbin/Orthanc"):
        if not Path(tool).exists():
            sys.exit(f"{tool} is missing: apt-get install -y dcmtk orthanc")
    workdir = Path(tempfile.mkdtemp(prefix="receive-bench-"))
    try:
        print(f"Writing {args.slices} slices …", flush=True)
        make_slices(workdir / "slices", args.slices)
        out = workdir / "figures.json"
        command = [
            "unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
            sys.executable, str(Path(__file__).resolve()), "--inside",
            "--workdir", str(workdir), "--repeat", str(args.repeat), "--out", str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True)
        runs = json.loads(out.read_text())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(runs, args.slices)


def report(runs: dict, slices: int) -> None:
    ours_rates = [run["rate"] for run in runs["ours"]]
    orthanc_rates = [run["rate"] for run in runs["orthanc"]]
    to_inbox = [run["to_inbox"] for run in runs["ours"]]
    version = runs["orthanc"][0]["version"] if runs["orthanc"] else "?"
    print(f"\n### Receive: {slices} CT slices by storescu over one association ({len(ours_rates)} repeats)\n")
    print("| Receiver | instances/s, median | best |")
    print("|---|---|---|")
    print(f"| ours (receive_dicom) | {statistics.median(ours_rates):.0f} | {max(ours_rates):.0f} |")
    print(f"| Orthanc {version} | {statistics.median(orthanc_rates):.0f} | {max(orthanc_rates):.0f} |")
    ratio = statistics.median(ours_rates) / statistics.median(orthanc_rates)
    print(f"\nOurs / Orthanc (medians): {ratio:.2f} (goal: above 1).")
    print(
        f"Last instance → study in the inbox (--stable-seconds 1, gate of every slice, one worker): "
        f"median {statistics.median(to_inbox):.1f} s, best {min(to_inbox):.1f} s."
    )


if __name__ == "__main__":
    main()
