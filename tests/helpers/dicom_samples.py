"""Access to pydicom's bundled sample files, and small helpers to craft variants of them."""

from __future__ import annotations

import copy
from functools import cache
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


@cache
def _raw(name: str) -> bytes:
    return (TEST_FILES / name).read_bytes()


def sample_bytes(name: str) -> bytes:
    """The bytes of one of pydicom's sample files (read from the wheel, never downloaded)."""
    return _raw(name)


def sample_dataset(name: str) -> Dataset:
    """A fresh parsed copy of a sample file, safe to modify."""
    return pydicom.dcmread(BytesIO(_raw(name)))


def to_bytes(ds: Dataset) -> bytes:
    """Encode a (possibly edited) data set as a DICOM file, keeping its transfer syntax."""
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, copy.deepcopy(ds), enforce_file_format=True)
    return buffer.getvalue()
