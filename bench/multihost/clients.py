"""The cluster bench's clients beside wrk: a faculty member who uploads series through the admin, and
residents who answer quizzes (``bench.faults.Quizzer``). Each has its own keep-alive connection and
cookies (``bench.faults.Client``) and goes through the proxy, like a browser.

An upload is *acknowledged* when the admin answers the POST with its redirect to the upload's progress
page, which names the upload: the files are then in the quarantine and the upload row committed.
"""

import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bench.faults import CSRF_RE, Worker

PROGRESS_RE = re.compile(r"/admin/imaging/upload/(\d+)/progress/$")
FACULTY_PASSWORD = "bench-cluster-faculty-pass"
#: A series' order is unique in its study: the bench's come after any the generated case has.
ORDER_FROM = 1000


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[str, bytes]:
    """``multipart/form-data`` of ``fields`` and ``files`` (field name, file name, bytes), as a browser
    sends a form with a file input."""
    boundary = f"----cluster{secrets.token_hex(12)}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, filename, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/dicom\r\n\r\n"
        )
        parts += [head.encode(), content, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


@dataclass
class UploadLedger:
    """What the faculty client was told about each upload it sent, by series label."""

    sent: dict[str, int] = field(default_factory=dict)  # label -> files sent
    acknowledged: dict[str, int] = field(default_factory=dict)  # label -> upload id
    lock: threading.Lock = field(default_factory=threading.Lock)


class Uploader(Worker):
    """A faculty member adding new series to their draft case, each with a few CT slices."""

    def __init__(
        self,
        *args,
        username: str,
        study_id: int,
        slices: list[list[Path]],
        uploads: UploadLedger,
        gap: float,
        **kw,
    ):
        super().__init__(*args, **kw)
        self.username = username
        self.study_id = study_id
        self.slices = slices  # one list of files per upload, each a series of its own (own UIDs)
        self.uploads = uploads
        self.count = 0
        self.gap = gap  # seconds between two uploads

    def setup(self) -> None:
        page = self.client.call("login page", "GET", "/accounts/login/")
        token = CSRF_RE.search(page.text).group(1) if page else ""
        form = {
            "username": self.username,
            "password": FACULTY_PASSWORD,
            "csrfmiddlewaretoken": token,
            "next": "",
        }
        if self.client.call("login", "POST", "/accounts/login/", form, expect=(302,)) is None:
            raise RuntimeError(f"{self.username} could not log in")

    def run(self) -> None:
        try:
            if not self.prepared:
                self.setup()
            while not self.stop.is_set() and self.count < len(self.slices):
                self.step()
                self.stop.wait(self.gap)
        except BaseException as error:  # reported after the run, never swallowed
            self.error = error

    def step(self) -> None:
        files = self.slices[self.count]
        self.count += 1
        label = f"Axial upload {self.count} {self.client.name}"
        page = self.client.call("upload form", "GET", "/admin/imaging/series/add/")
        if page is None:
            return
        match = CSRF_RE.search(page.text)
        fields = {
            "csrfmiddlewaretoken": match.group(1) if match else "",
            "study": str(self.study_id),
            "label": label,
            "finding": "",
            "order": str(ORDER_FROM + self.count),
            "teaching_preset": "",
            "teaching_slice": "",
            "teaching_zoom": "1",
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
            "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000",
            "_save": "Save",
        }
        body = multipart(fields, [("upload", path.name, path.read_bytes()) for path in files])
        with self.uploads.lock:
            self.uploads.sent[label] = len(files)
        answer = self.client.call(
            "upload",
            "POST",
            "/admin/imaging/series/add/",
            body,
            expect=(302,),
            check=lambda response: PROGRESS_RE.search(response.headers.get("Location") or "") is not None,
        )
        if answer is None:
            return
        upload_id = int(PROGRESS_RE.search(answer.headers["Location"]).group(1))
        with self.uploads.lock:
            self.uploads.acknowledged[label] = upload_id
        self.client.call("upload progress", "GET", f"/admin/imaging/upload/{upload_id}/progress.json")
