"""The cluster bench's checks: what the clients were told against the database, the worker's queue
drained, and every failed request one that was under way on the killed host when it died.

Each check is a (label, passed, detail) triple, printed as one PASS/FAIL line. Import after Django is set
up (they read the cluster's database through the ORM).
"""

import time
from dataclasses import dataclass

from bench.multihost.clients import UploadLedger
from bench.multihost.nginx import CutAnswer, ProxyRecord

Check = tuple[str, bool, str]
#: Slack for clocks read by two processes (nginx logs to the millisecond).
CLOCK_SLACK = 0.01


@dataclass
class KillWindow:
    """From the SIGKILL to the moment no process of the killed host was left, on both clocks: the bench's
    monotonic one (its clients' records) and the wall clock (nginx's log)."""

    at: float
    done: float
    at_wall: float
    done_wall: float
    upstream: str  # "10.201.0.11:8000"

    def holds_client(self, started: float, ended: float) -> bool:
        return started < self.done and ended >= self.at

    def holds_cut(self, cut: CutAnswer) -> bool:
        """An answer cut off by the killed host, logged within the window (nginx logs to the second)."""
        return cut.upstream == self.upstream and self.at_wall - 1 <= cut.logged <= self.done_wall + 1

    def holds_proxy(self, record: ProxyRecord) -> bool:
        return (
            self.upstream in record.upstreams
            and record.started < self.done_wall + CLOCK_SLACK
            and record.ended >= self.at_wall - CLOCK_SLACK
        )


def queue_drained(timeout: float) -> tuple[bool, float]:
    """Wait until no upload is queued or running and no task is ready or running; (drained, seconds)."""
    from django_tasks_db.models import DBTaskResult

    from imaging.models import Upload

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        busy = Upload.objects.filter(status__in=[Upload.Status.QUEUED, Upload.Status.RUNNING]).exists()
        if not busy and not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists():
            return True, time.monotonic() - started
        time.sleep(0.5)
    return False, time.monotonic() - started


def check_uploads(ledger: UploadLedger, drained: bool, waited: float) -> list[Check]:
    from django.core.files.storage import default_storage
    from django_tasks_db.models import DBTaskResult

    from imaging.models import Image, Upload

    rows = {upload.series.label: upload for upload in Upload.objects.select_related("series")}
    lost = [
        label
        for label, upload_id in ledger.acknowledged.items()
        if label not in rows
        or rows[label].pk != upload_id
        or rows[label].status != Upload.Status.DONE
        or rows[label].accepted != ledger.sent[label]
    ]
    unfinished = [
        f"{u.pk} {u.status} {u.status_note}" for u in rows.values() if u.status != Upload.Status.DONE
    ]
    tasks = task_counts(DBTaskResult)
    images = Image.objects.filter(series__uploads__isnull=False).distinct()
    missing_files = [image.file.name for image in images if not default_storage.exists(image.file.name)]
    stored_anyway = sum(1 for label in ledger.sent if label in rows and label not in ledger.acknowledged)
    return [
        (
            "every acknowledged upload is stored, finished by the worker, every file accepted",
            not lost,
            f"{len(ledger.acknowledged) - len(lost)} of {len(ledger.acknowledged)} acknowledged "
            f"({len(ledger.sent)} sent, {stored_anyway} stored though not acknowledged)"
            + (f"; lost or unfinished: {lost[:5]}" if lost else ""),
        ),
        (
            "the worker finished every upload and task (none queued, running or failed)",
            drained and not unfinished and not tasks.get("FAILED"),
            f"queue drained {waited:.1f} s after the load; uploads {len(rows)}, not done: {unfinished[:5]}; "
            "tasks " + ", ".join(f"{status} {n}" for status, n in sorted(tasks.items())),
        ),
        (
            "every uploaded image's file is in the bucket",
            not missing_files and images.exists(),
            f"{images.count() - len(missing_files)} of {images.count()} found"
            + (f"; missing: {missing_files[:3]}" if missing_files else ""),
        ),
    ]


def task_counts(model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in model.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def check_failures(
    client_records: list, proxy_records: list[ProxyRecord], cuts: list[CutAnswer], wrk: dict, kill: KillWindow
) -> Check:
    """Failures only where they must be: requests under way on the killed host at the kill. For wrk, which
    only counts its errors, a read error is a connection nginx closed after the killed host cut its answer
    off mid-way (nginx's error log names those); any other socket error is a failure."""
    client_failures = [r for r in client_records if r.outcome != "ok"]
    stray_clients = [r for r in client_failures if not kill.holds_client(r.started, r.ended)]
    proxy_errors = [r for r in proxy_records if r.status >= 500]
    stray_proxy = [r for r in proxy_errors if not kill.holds_proxy(r)]
    cut_at_kill = [c for c in cuts if kill.holds_cut(c)]
    stray_cuts = len(cuts) - len(cut_at_kill)
    reads = wrk.get("errors_read", 0)
    others = sum(wrk.get(f"errors_{name}", 0) for name in ("connect", "write", "timeout"))
    detail = (
        f"{len(proxy_errors)} 5xx answers from the proxy, {len(proxy_errors) - len(stray_proxy)} of them "
        f"in flight on {kill.upstream} at the kill; {len(client_failures)} client failures, "
        f"{len(client_failures) - len(stray_clients)} in flight; {len(cut_at_kill)} answers cut off mid-way "
        f"by the kill ({stray_cuts} at other times); wrk socket errors: read {reads}, others {others}"
    )
    examples = [f"{r.method} {r.path} {r.status} via {r.upstreams}" for r in stray_proxy[:3]]
    examples += [f"{r.client} {r.kind} {r.outcome} {r.detail!r}" for r in stray_clients[:3]]
    if examples:
        detail += "; outside the kill: " + "; ".join(examples)
    return (
        "errors only for requests in flight on the killed host (no failure before or after, no socket "
        "error at wrk but a read error for an answer the kill cut off)",
        not stray_clients
        and not stray_proxy
        and not stray_cuts
        and others == 0
        and reads <= len(cut_at_kill),
        detail,
    )
