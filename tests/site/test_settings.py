"""Settings come from the environment; production refuses to start without a real secret key."""

import pytest
from django.db import connection

from tests.helpers.settings import run_settings


def test_production_refuses_to_start_without_a_secret_key():
    result = run_settings({"DEBUG": "0"}, "print('started')")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_a_secret_key_and_reads_hosts_and_media():
    result = run_settings(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "cases.example.org",
            "MEDIA_ROOT": "/srv/media",
        },
        "print(settings.DEBUG, settings.ALLOWED_HOSTS, settings.MEDIA_ROOT)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['cases.example.org'] /srv/media"


def test_object_storage_is_chosen_by_s3_bucket_and_refuses_half_its_keys():
    code = (
        "from django.core.files.storage import storages; print(storages['default'].__class__.__name__, "
        "storages['quarantine'].__class__.__name__)"
    )
    assert run_settings({}, code).stdout.split() == ["FileSystemStorage", "FileSystemStorage"]
    bucket = {"S3_BUCKET": "archive", "S3_ENDPOINT_URL": "http://127.0.0.1:9", "S3_ACCESS_KEY_ID": "key"}
    half = run_settings(bucket, code)
    assert half.returncode != 0 and "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY" in half.stderr
    both = run_settings({**bucket, "S3_SECRET_ACCESS_KEY": "secret"}, code)
    assert both.stdout.split() == ["S3Storage", "S3Storage"], both.stderr


def test_database_url_selects_postgresql():
    result = run_settings(
        {"DATABASE_URL": "postgres://archive:secret@db.internal:5433/cases"},
        "d = settings.DATABASES['default']; print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'])",
    )
    assert result.stdout.strip() == "django.db.backends.postgresql db.internal 5433 cases"


def test_sqlite_is_the_default_database():
    result = run_settings({}, "print(settings.DATABASES['default']['ENGINE'])")
    assert result.stdout.strip() == "django.db.backends.sqlite3"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_postgresql_pass_really_runs_on_postgresql():
    # Guards CI: if DATABASE_URL were lost, the "PostgreSQL" pass would silently test SQLite again.
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert cursor.fetchone()[0]
