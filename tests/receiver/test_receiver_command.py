"""The commands as an operator runs them, in processes of their own on a database file of the test's own:
``dicom_senders add`` and ``list``, and ``receive_dicom --port 0`` (which prints the port it got) receiving
from ``storescu`` and handing the study over after ``--stable-seconds`` to a task worker (``db_worker``)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.dcmtk import storescu
from tests.helpers.migrated_sqlite import migrated_sqlite_copy
from tests.helpers.receiver import assert_no_planted_data, sample

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site(tmp_path):
    """Environment and a runner for manage.py on a migrated SQLite file with one faculty member."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "QUARANTINE_ROOT": str(tmp_path / "quarantine"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }

    def manage(*args, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    migrated_sqlite_copy(tmp_path / "site.sqlite3")
    manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Group, User; "
        "User.objects.create_user('fac', is_staff=True).groups.add(Group.objects.get(name='faculty')); "
        "User.objects.create_user('res').groups.add(Group.objects.get(name='resident'))",
    )
    return env, manage, tmp_path


def test_dicom_senders_add_and_list(site):
    _, manage, _ = site
    assert (
        "Added sender PACS1 @ 127.0.0.1 for fac"
        in manage("dicom_senders", "add", "PACS1", "--author", "fac", "--host", "127.0.0.1").stdout
    )
    assert manage("dicom_senders", "list").stdout.split() == ["PACS1", "127.0.0.1", "fac"]
    for refused in (
        ["PACS1", "--author", "fac"],
        ["OTHER", "--author", "res"],
        ["OTHER", "--author", "nobody"],
        ["OTHER", "--author", "fac", "--host", "not-an-address"],
    ):
        result = manage("dicom_senders", "add", *refused, check=False)
        assert result.returncode != 0 and "Error" in result.stderr, refused
    assert manage("dicom_senders", "list").stdout.split() == ["PACS1", "127.0.0.1", "fac"]


def study_status(database: Path) -> str | None:
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT status FROM receiver_receivedstudy").fetchone()
    return row[0] if row else None


def test_receive_dicom_prints_its_port_receives_and_hands_the_study_over(site):
    env, manage, tmp_path = site
    manage("dicom_senders", "add", "PACS1", "--author", "fac")
    path = tmp_path / "ct.dcm"
    sample("CT_small.dcm").save_as(path, enforce_file_format=True)
    receiver = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "receive_dicom",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--stable-seconds",
            "1",
            "--ae-title",
            "TEACHING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = receiver.stdout.readline()
        assert first.startswith("Receiving as TEACHING on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        sent = storescu(port, path)
        assert sent.returncode == 0, sent.stderr
        for _ in range(600):  # handed over once quiet for a second: its gate task is queued
            if study_status(tmp_path / "site.sqlite3") == "processing":
                break
            time.sleep(0.05)
        assert study_status(tmp_path / "site.sqlite3") == "processing"
        manage("db_worker", "--batch", "--no-startup-delay")  # a task worker runs the gate, then exits
        assert study_status(tmp_path / "site.sqlite3") == "ready"
    finally:
        receiver.send_signal(signal.SIGTERM)
        out, err = receiver.communicate(timeout=60)
    assert receiver.returncode == 0, err
    assert "Receiver stopped." in out
    assert [p for p in (tmp_path / "quarantine").rglob("*") if p.is_file()] == []
    (stored,) = (tmp_path / "media" / "received").rglob("*.dcm")
    assert_no_planted_data(stored.read_bytes())
