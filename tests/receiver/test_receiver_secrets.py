"""A DICOMweb source's password is stored encrypted under a key derived from SECRET_KEY, stays readable
through a rotation that keeps the old key in SECRET_KEY_FALLBACKS, and fails a pull with the reason once no
key of the server reads it."""

import os
import sqlite3
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import override_settings

from receiver import tasks
from receiver.models import DicomWebSource
from receiver.secrets import UnreadableSecret, secret_decrypt, secret_encrypt
from tests.helpers.migrated_sqlite import ROOT, sqlite_copy, template

pytestmark = pytest.mark.django_db


def stored_column() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM receiver_dicomwebsource")
        return cursor.fetchone()[0]


def test_the_database_holds_the_password_encrypted_and_each_time_differently():
    DicomWebSource.objects.create(name="pacs", url="http://127.0.0.1:9/dicom-web", username="u",
                                  password_encrypted=secret_encrypt("s3cret-pw"))  # fmt: skip
    stored = stored_column()
    assert "s3cret-pw" not in stored and secret_decrypt(stored) == "s3cret-pw"
    assert secret_encrypt("s3cret-pw") != stored  # a fresh IV and timestamp each time
    assert secret_encrypt("") == "" and secret_decrypt("") == ""


def test_a_rotated_secret_key_still_reads_it_through_the_fallbacks(settings):
    stored = secret_encrypt("s3cret-pw")
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "x" * 50, [old]
    assert secret_decrypt(stored) == "s3cret-pw"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(UnreadableSecret):
        secret_decrypt(stored)


def test_a_password_no_key_reads_fails_the_pull_with_the_reason(settings, faculty):
    source = DicomWebSource.objects.create(name="pacs", url="http://127.0.0.1:9/dicom-web", username="u",
                                           password_encrypted=secret_encrypt("s3cret-pw"))  # fmt: skip
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    study = tasks.dicomweb_pull_enqueue(source=source, by=faculty, accession="ACC-1")
    study.refresh_from_db()
    assert study.status == "failed"
    assert study.status_note.startswith("The source's password cannot be read with this server's SECRET_KEY")


def test_the_migration_encrypts_the_passwords_stored_before_it_and_unapplied_gives_them_back(tmp_path):
    database = sqlite_copy(template(), tmp_path / "site.sqlite3")
    key = "migration-test-key-" + "k" * 40
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": key, "DEBUG": "1"}

    def migrate(target: str) -> None:
        done = subprocess.run([sys.executable, "manage.py", "migrate", "receiver", target, "-v0"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]

    migrate("0005")
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO receiver_dicomwebsource (name, url, username, password) "
                   "VALUES ('pacs', 'http://127.0.0.1:9/dicom-web', 'u', 's3cret-pw')")  # fmt: skip
    migrate("0006")
    with sqlite3.connect(database) as db:
        (stored,) = db.execute("SELECT password_encrypted FROM receiver_dicomwebsource").fetchone()
    assert "s3cret-pw" not in stored
    with override_settings(SECRET_KEY=key):
        assert secret_decrypt(stored) == "s3cret-pw"
    migrate("0005")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT password FROM receiver_dicomwebsource").fetchone() == ("s3cret-pw",)


def test_secrets_rotate_encrypts_again_under_the_new_key_so_the_old_one_can_go(settings):
    readable = DicomWebSource.objects.create(name="a", url="http://127.0.0.1:9/a", username="u",
                                             password_encrypted=secret_encrypt("pw-a"))  # fmt: skip
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "x" * 50, [old]
    out = StringIO()
    call_command("secrets_rotate", stdout=out)
    assert out.getvalue().startswith("1 password(s) encrypted again")
    settings.SECRET_KEY_FALLBACKS = []
    readable.refresh_from_db()
    assert secret_decrypt(readable.password_encrypted) == "pw-a"


def test_secrets_rotate_changes_nothing_when_a_password_is_unreadable(settings):
    DicomWebSource.objects.create(name="a", url="http://127.0.0.1:9/a", username="u",
                                  password_encrypted=secret_encrypt("pw-a"))  # fmt: skip
    settings.SECRET_KEY = "key-b-" + "y" * 50
    DicomWebSource.objects.create(name="b", url="http://127.0.0.1:9/b", username="u",
                                  password_encrypted=secret_encrypt("pw-b"))  # fmt: skip
    before = list(DicomWebSource.objects.order_by("name").values_list("password_encrypted", flat=True))
    with pytest.raises(CommandError, match="the password of the source 'a'"):
        call_command("secrets_rotate")
    assert (
        list(DicomWebSource.objects.order_by("name").values_list("password_encrypted", flat=True)) == before
    )
