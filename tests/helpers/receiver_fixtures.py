"""Fixtures of the receiver's tests (a pytest plugin, named in their ``pytest_plugins``): a real SCP
on a free port of 127.0.0.1, a configured sender, a quarantine folder of the test's own."""

import pytest

from receiver.models import DicomSender
from receiver.scp import Receiver
from tests.helpers.receiver import LIMITS


@pytest.fixture
def quarantine_root(settings, tmp_path):
    root = tmp_path / "quarantine"
    settings.STORAGES = {
        **settings.STORAGES,
        "quarantine": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    return root


@pytest.fixture
def receiver(quarantine_root, media_root):
    """A receiver on a free port of 127.0.0.1; studies are handed over only when a test says so."""
    scp = Receiver(ae_title="TEACHING", bind="127.0.0.1", port=0, stable_seconds=3600, limits=LIMITS)
    scp.start()
    yield scp
    scp.shutdown()


@pytest.fixture
def sender(faculty):
    return DicomSender.objects.create(ae_title="PACS1", author=faculty)
