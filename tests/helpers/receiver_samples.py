"""DICOM files with planted patient data for the receiver's tests (Django-free: the Orthanc helper runs it
in a process of its own)."""

from io import BytesIO

import pydicom
from pydicom.data import get_testdata_file

PLANTED = {
    "PatientName": "Plantedname^Jane",
    "PatientID": "PLANTED-PID-4711",
    "PatientBirthDate": "19610203",
    "InstitutionName": "Planted General Hospital",
    "ReferringPhysicianName": "Plantedphysician^Bob",
    "AccessionNumber": "PLANTACC99",
    "StudyDate": "20200315",
}
PLANTED_TEXTS = [
    b"Plantedname",
    b"PLANTED-PID-4711",
    b"19610203",
    b"Planted General",
    b"Plantedphysician",
    b"PLANTACC99",
]


def sample(name: str, **changes) -> pydicom.Dataset:
    """A pydicom sample file with planted patient data (and any `changes`)."""
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    for keyword, value in {**PLANTED, **changes}.items():
        setattr(ds, keyword, value)
    return ds


def encoded(ds: pydicom.Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def assert_no_planted_data(data: bytes) -> None:
    for text in PLANTED_TEXTS:
        assert text not in data, text
