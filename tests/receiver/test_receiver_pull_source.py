"""A DICOMweb source that sends what it should not: each instance is spooled as the bytes it sent, never
read as DICOM before the gate. The source is a small HTTP server on 127.0.0.1 answering QIDO-RS and
WADO-RS with what each test sets; the real PACS (Orthanc) is in test_receiver_orthanc.py."""

import json
import threading
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import parse_qs

import pytest

from receiver import pulling, tasks
from receiver.models import DicomWebSource, ReceivedStudy
from tests.helpers.bombs import deflate_bomb_dicom
from tests.helpers.receiver import quarantined_files
from tests.helpers.receiver_samples import encoded, sample

pytest_plugins = ["tests.helpers.receiver_fixtures"]
pytestmark = pytest.mark.django_db

STUDY, SERIES, INSTANCE = "1.2.826.0.1.77", "1.2.826.0.1.77.1", "1.2.826.0.1.77.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
BOUNDARY = "part-boundary-7f3a"


def uid(value: str) -> dict:
    return {"vr": "UI", "Value": [value]}


class Source(BaseHTTPRequestHandler):
    """Answers each GET from `answers` (path without query → status, headers, body), in pieces of 64 kB,
    counting in `sent` what went out; records the paths asked. A search asked for its results past the
    first (``offset``) has no more, unless `ignores_offset`."""

    answers: dict[str, tuple[int, dict, bytes]] = {}
    asked: list[str] = []
    sent: dict[str, int] = {}
    ignores_offset = False

    def do_GET(self):
        path, _, query = self.path.partition("?")
        self.asked.append(self.path)
        status, headers, body = self.answers.get(path, (404, {"Content-Type": "text/plain"}, b"not here"))
        if parse_qs(query).get("offset", ["0"]) != ["0"] and not self.ignores_offset:
            body = b"[]"
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.sent[path] = 0
        try:
            for start in range(0, len(body), 1 << 16):
                self.wfile.write(body[start : start + (1 << 16)])
                self.sent[path] += len(body[start : start + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the archive stopped reading

    def log_message(self, *args):
        pass


@pytest.fixture
def source(faculty):
    """The source, listing one CT instance of one study (found by its accession number); each test says
    what its retrieval answers."""
    Source.answers, Source.asked, Source.sent, Source.ignores_offset = {}, [], {}, False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Source)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    listed = {"00080016": uid(CT_IMAGE_STORAGE), "0020000E": uid(SERIES), "00080018": uid(INSTANCE)}
    answer(f"/dicom-web/studies/{STUDY}/instances", listed)
    answer("/dicom-web/studies", {"0020000D": uid(STUDY)})
    yield DicomWebSource.objects.create(
        name="hostile", url=f"http://127.0.0.1:{server.server_port}/dicom-web"
    )
    server.shutdown()
    server.server_close()
    thread.join()


def answer(path: str, *listed: dict) -> None:
    Source.answers[path] = (
        200,
        {"Content-Type": "application/dicom+json"},
        json.dumps(list(listed)).encode(),
    )


INSTANCE_PATH = f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/{INSTANCE}"


def instance_answers(*files: bytes, content_type: str | None = None) -> None:
    parts = b"".join(
        f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n" for data in files
    )
    body = parts + f"--{BOUNDARY}--\r\n".encode()
    content_type = content_type or f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    Source.answers[INSTANCE_PATH] = (200, {"Content-Type": content_type}, body)


def sample_bytes() -> bytes:
    ds = sample("CT_small.dcm", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=INSTANCE)
    return encoded(ds)


def pulled(source, faculty) -> ReceivedStudy:
    """Ask for the study; the immediate task backend pulls it and runs its gate at once."""
    study = tasks.dicomweb_pull_enqueue(source=source, by=faculty, accession="ACC-77")
    study.refresh_from_db()
    return study


def test_a_deflate_bomb_is_spooled_as_sent_and_refused_by_the_gate_without_being_inflated(
    source, faculty, quarantine_root, media_root
):
    bomb = deflate_bomb_dicom(inflated=1 << 30)  # a megabyte or so that inflates to 1 GiB
    instance_answers(bomb)
    tracemalloc.start()
    try:
        study = pulled(source, faculty)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak >> 20} MiB allocated: the pull or the gate inflated the data set"
    instance = study.instances.get()
    assert (instance.size_bytes, instance.status, bool(instance.file)) == (len(bomb), "rejected", False)
    assert "limit" in instance.reason
    assert study.status == "failed" and study.status_note.startswith("No instance passed the image gate: ")
    assert quarantined_files(quarantine_root) == []


def test_an_instance_named_by_something_not_a_uid_is_never_asked_for(source, faculty, quarantine_root):
    path_up = {"00080016": uid(CT_IMAGE_STORAGE), "0020000E": uid("../../admin"), "00080018": uid(INSTANCE)}
    answer(f"/dicom-web/studies/{STUDY}/instances", path_up)
    study = pulled(source, faculty)
    assert study.status == "failed"
    assert study.status_note == (
        "The source named a study, series or instance by something not a DICOM UID: '../../admin'."
    )
    assert not any("admin" in path for path in Source.asked)
    assert quarantined_files(quarantine_root) == []


def test_an_answer_that_is_not_dicom_files_fails_the_pull(source, faculty, quarantine_root):
    instance_answers(b"<html>Log in</html>", content_type="text/html")
    study = pulled(source, faculty)
    assert study.status == "failed"
    assert study.status_note == "The source answered a retrieval with 'text/html', not DICOM files."
    assert quarantined_files(quarantine_root) == []


def test_an_answer_larger_than_the_receivers_limit_is_not_read_past_it(
    source, faculty, quarantine_root, settings
):
    settings.RECEIVER_MAX_BYTES = 100_000
    instance_answers(b"\x00" * (64 << 20))
    study = pulled(source, faculty)
    assert (study.status, study.status_note) == ("failed", "The study is larger than 100000 bytes.")
    assert not study.instances.exists() and quarantined_files(quarantine_root) == []
    # What went out before the archive stopped reading: its 100 kB and what the sockets' buffers held.
    assert Source.sent[INSTANCE_PATH] < 32 << 20


def test_a_source_that_ignores_the_offset_is_listed_once(source, faculty, quarantine_root, media_root):
    Source.ignores_offset = True
    instance_answers(sample_bytes())
    study = pulled(source, faculty)
    assert study.instances.count() == 1 and study.status == "ready"


def test_a_redirect_is_not_followed(source, faculty, quarantine_root):
    Source.answers[INSTANCE_PATH] = (302, {"Location": "http://127.0.0.1:9/elsewhere"}, b"")
    study = pulled(source, faculty)
    assert (study.status, study.status_note) == (
        "failed",
        "The source answered a retrieval with a redirect, which the archive does not follow.",
    )


def test_parts_are_kept_byte_for_byte_and_an_answer_cut_short_fails(source, faculty, quarantine_root):
    edges = b"\r\n\r\n\r-\n--"  # line ends, a blank line and dashes at each edge of the part
    instance_answers(edges + sample_bytes() + edges, b"\r\n" + sample_bytes())
    spooled = []
    real = pulling._spool
    with mock.patch.object(
        pulling, "_spool", lambda study, data, sop: spooled.append(data) or real(study, data, sop)
    ):
        pulled(source, faculty)
    assert spooled == [edges + sample_bytes() + edges, b"\r\n" + sample_bytes()]
    _status, headers, body = Source.answers[INSTANCE_PATH]
    Source.answers[INSTANCE_PATH] = (200, headers, body[: len(body) // 2])
    study = pulled(source, faculty)
    assert study.status_note == "The source's answer to a retrieval was cut short (a part without its end)."
