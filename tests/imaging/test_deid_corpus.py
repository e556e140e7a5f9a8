"""A planted-PHI corpus through the real ingest: not one planted value survives, anywhere.

Each file is one of pydicom's samples in another encoding (explicit and implicit VR, big endian,
deflated, JPEG, JPEG 2000, multi-frame), with a name, an ID, a date or a diagnosis planted in
every place de-identification has been seen to miss and more: the top level and nested
sequences (kept and not), private and unknown public tags, overlays and curves, the file meta
and the preamble, JPEG segments and JPEG 2000 comments inside the frames, the bits above Bits
Stored and the bytes after the image, and the names the files are uploaded under. Then every
stored file (everything under MEDIA_ROOT, deflated data sets inflated) and every row of the
database is scanned, byte by byte, for every planted value in every encoding it could take.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from django.apps import apps
from django.core import serializers
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.sequence import Sequence

from imaging.inputs import InputFile
from imaging.models import Image, Upload
from imaging.services import images_ingest, series_create
from tests.helpers.dicom_samples import sample_dataset

pytestmark = [
    pytest.mark.django_db,
    # The planted file is malformed on purpose (an unknown public tag, non-conforming values).
    pytest.mark.filterwarnings("ignore:VR lookup failed", "ignore:Invalid value for VR"),
]

# (sample, how it is encoded): the encodings the issue asks for, each a real pydicom sample.
SAMPLES = [
    "CT_small.dcm",  # explicit VR little endian
    "MR_small.dcm",  # explicit VR little endian
    "MR_small_bigendian.dcm",  # explicit VR big endian
    "MR_small_implicit.dcm",  # implicit VR little endian
    "image_dfl.dcm",  # deflated explicit VR little endian
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, encapsulated
    "JPEG2000.dcm",  # JPEG 2000, encapsulated
    "examples_ybr_color.dcm",  # multi-frame (30) JPEG
    "rtdose.dcm",  # multi-frame (15) native, implicit VR
]
SHARED_VALUES = ["097Y", "+0530"]  # an age over 89 and a time-zone offset, planted in every file


@dataclass
class Planted:
    """The values planted in one file, each a distinct text, and where."""

    index: int
    values: dict[str, str] = field(default_factory=dict)  # value -> place
    interleaved: dict[str, str] = field(default_factory=dict)  # high bytes of 16-bit pixels

    def token(self, place: str) -> str:
        value = f"ZQ{self.index:02d}P{len(self.values) + len(self.interleaved):03d}Z"
        self.values[value] = place
        return value

    def date(self, place: str) -> str:
        # All planted dates fall within one year, and the case's shift is a year or more: a
        # shifted date can never be mistaken for a planted one.
        value = (dt.date(1900, 1, 1) + dt.timedelta(days=self.index * 40 + len(self.values) % 40)).strftime(
            "%Y%m%d"
        )
        while value in self.values:
            value = (dt.datetime.strptime(value, "%Y%m%d") + dt.timedelta(days=1)).strftime("%Y%m%d")
        self.values[value] = place
        return value

    def uid(self, place: str) -> str:
        value = f"1.2.840.10008.99.9{self.index:02d}{len(self.values):03d}.7"  # under DICOM's own root
        self.values[value] = place
        return value


def _segment(code: int, payload: bytes) -> bytes:
    return bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload


def _plant_header(ds: Dataset, p: Planted) -> None:
    for keyword in [
        "OtherPatientIDs",
        "PatientAddress",
        "InstitutionName",
        "InstitutionAddress",
        "StudyDescription",
        "SeriesDescription",
        "ProtocolName",
        "ImageComments",
        "AccessionNumber",
        "StudyID",
        "DeviceSerialNumber",
        "StationName",
        "PatientComments",
        "AdditionalPatientHistory",
        "RequestedProcedureDescription",
        "PatientBirthDateInAlternativeCalendar",
        "PatientDeathDateInAlternativeCalendar",
        "CameraOwnerName",
        "CommentsOnRadiationDose",
        "ContainerIdentifier",
        "HL7InstanceIdentifier",
        "SecondaryCaptureDeviceID",
        "TextValue",
        "WindowCenterWidthExplanation",
        "EthnicGroup",
    ]:
        setattr(ds, keyword, p.token(f"top-level {keyword}"))
    ds.PatientID = p.token("Patient ID")
    for keyword in ("PatientName", "ReferringPhysicianName", "OperatorsName", "PerformingPhysicianName"):
        setattr(ds, keyword, f"DOE^{p.token(keyword)}")
    for keyword in ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        setattr(ds, keyword, p.date(keyword))
    ds.InstanceCreationDate = p.date("InstanceCreationDate")
    ds.AcquisitionDateTime = p.date("AcquisitionDateTime") + "101112+0530"
    ds.TimezoneOffsetFromUTC = "+0530"
    ds.PatientAge = "097Y"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        setattr(ds, keyword, p.uid(keyword))
    ds.add_new(0x00100FF0, "PN", p.token("unknown public tag (0010,0FF0)"))
    ds.add_new(0x00090010, "LO", p.token("private creator"))
    ds.add_new(0x00091001, "LO", p.token("private element"))
    # A sequence the keep list keeps, two levels deep, and one it does not.
    deeper = Dataset()
    deeper.PixelSpacing = [0.5, 0.5]
    deeper.OperatorsName = p.token("functional group, 2 levels down: OperatorsName")
    deeper.ImageComments = p.token("functional group, 2 levels down: ImageComments")
    deeper.add_new(0x00291010, "LO", p.token("functional group, 2 levels down: private"))
    group = Dataset()
    group.SecondaryCaptureDeviceID = p.token("functional group: SecondaryCaptureDeviceID")
    group.PatientName = p.token("functional group: PatientName")
    group.FrameAcquisitionDateTime = p.date("functional group: FrameAcquisitionDateTime") + "101112"
    group.PixelMeasuresSequence = Sequence([deeper])
    ds.SharedFunctionalGroupsSequence = Sequence([group])
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = p.uid("referenced image UID")
    reference.DerivationDescription = p.token("referenced image: DerivationDescription")
    ds.ReferencedImageSequence = Sequence([reference])
    icon = Dataset()
    icon.Rows, icon.Columns = 4, 4
    icon.add_new(0x7FE00010, "OB", p.token("icon pixel data").encode().ljust(16, b"\0"))
    ds.IconImageSequence = Sequence([icon])
    # Overlay and curve groups.
    ds.add_new(0x60000022, "LO", p.token("overlay description"))
    ds.add_new(0x60001500, "LO", p.token("overlay label"))
    ds.add_new(0x60003000, "OW", p.token("overlay data").encode().ljust(16, b"\0"))
    ds.add_new(0x50000022, "LO", p.token("curve description"))
    ds.add_new(0xFFFCFFFC, "OB", p.token("data set trailing padding").encode())
    # File meta and preamble.
    ds.file_meta.SourceApplicationEntityTitle = p.token("file meta: source AE title")
    ds.file_meta.ImplementationVersionName = p.token("file meta: implementation version")
    ds.file_meta.PrivateInformationCreatorUID = "1.2.3.4"
    ds.file_meta.PrivateInformation = p.token("file meta: private information").encode()
    ds.preamble = p.token("preamble").encode().ljust(128, b"\0")


def _plant_pixels(ds: Dataset, p: Planted) -> None:
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax.is_encapsulated:
        frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames") or 1)))
        if frames[0][:2] == b"\xff\xd8":  # JPEG: a comment and an Exif segment in every frame
            com, app = p.token("JPEG COM segment").encode(), p.token("JPEG APP1 segment").encode()
            frames = [f[:2] + _segment(0xFE, com) + _segment(0xE1, b"Exif\0\0" + app) + f[2:] for f in frames]
        else:  # JPEG 2000: a comment in the main header, before the first tile-part
            comment = _segment(0x64, b"\x00\x01" + p.token("JPEG 2000 COM marker").encode())
            frames = [f[: f.index(b"\xff\x90")] + comment + f[f.index(b"\xff\x90") :] for f in frames]
        ds.PixelData = encapsulate(frames)
    elif ds.BitsAllocated == 16 and syntax.is_little_endian and ds.SamplesPerPixel == 1:
        # A name in the high byte of every 16-bit pixel, Bits Stored cut to 8 (a retired overlay
        # would sit there too); and a name after the end of the image.
        import numpy as np

        values = np.frombuffer(ds.PixelData, dtype="<u2").copy() & 0x00FF
        hidden = p.token("bits above Bits Stored")
        p.interleaved[hidden] = p.values.pop(hidden)
        values[: len(hidden)] |= np.frombuffer(hidden.encode(), dtype=np.uint8).astype(np.uint16) << 8
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 7, 0
        ds.PixelData = values.tobytes() + p.token("bytes after the image").encode()
    else:
        ds.PixelData = ds.PixelData + p.token("bytes after the image").encode()


def _planted_file(name: str, index: int) -> tuple[bytes, Planted]:
    ds = sample_dataset(name)
    # One upload into one MR series: the gate refuses a file of another modality than its series'.
    ds.Modality = "MR"
    p = Planted(index)
    _plant_header(ds, p)
    _plant_pixels(ds, p)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue(), p


def _encrypted_flag(archive: bytes, entry: str) -> bytes:
    """The zip with `entry` marked as encrypted (zipfile then refuses it, quoting its name)."""
    data = bytearray(archive)
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at : at + name_at + len(entry)] == entry.encode():
                data[at + flag_at] |= 0x01
            at = data.find(signature, at + 4)
    return bytes(data)


def _upload(index: int) -> tuple[list[InputFile], Planted]:
    """The planted files as an author would hand them over: named after the patient."""
    p = Planted(index)
    files = []
    for number, name in enumerate(SAMPLES, start=1):
        data, planted = _planted_file(name, number)
        files.append(InputFile(f"DOE_JANE_{p.token(f'file name {number}')}_ct{number}.dcm", data))
        p.values.update(planted.values)
        p.interleaved.update(planted.interleaved)
    entry, archive_name = f"{p.token('zip entry name')}.dcm", f"{p.token('zip name')}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(entry, files[0].data)
    files.append(InputFile(archive_name, _encrypted_flag(buffer.getvalue(), entry)))
    files.append(InputFile(f"{p.token('rejected file name')}_notes.dcm", b"not a DICOM file at all"))
    return files, p


def _stored_bytes(media_root: Path) -> list[tuple[str, bytes]]:
    """Every file under MEDIA_ROOT; a deflated data set also inflated, as it would be read."""
    found = []
    for path in sorted(p for p in Path(media_root).rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.append((str(path), data))
        if data[128:132] == b"DICM":
            meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
            if meta.TransferSyntaxUID == pydicom.uid.DeflatedExplicitVRLittleEndian:
                start = 132 + 12 + meta.FileMetaInformationGroupLength
                found.append((f"{path} (inflated)", zlib.decompress(data[start:], -zlib.MAX_WBITS)))
    return found


def _database_rows() -> str:
    """Every row of every table, as JSON."""
    return "\n".join(serializers.serialize("json", model.objects.all()) for model in apps.get_models())


def _encodings(value: str) -> list[bytes]:
    forms = {value, value.replace("^", " "), value.lower(), value.upper()}
    return [f.encode(codec) for f in forms for codec in ("utf-8", "utf-16-le", "utf-16-be")]


def _survivors(p: Planted, haystacks: list[tuple[str, bytes]]) -> dict[str, list[str]]:
    lowered = [(where, data.lower()) for where, data in haystacks]
    survivors: dict[str, list[str]] = {}
    for value in [*p.values, *SHARED_VALUES]:
        needles = {n.lower() for n in _encodings(value)}
        where = [w for w, data in lowered if any(needle in data for needle in needles)]
        if where:
            survivors[value] = where
    for value in p.interleaved:
        pattern = re.compile(b"".join(b"." + re.escape(bytes([c])) for c in value.encode()), re.DOTALL)
        where = [w for w, data in haystacks if pattern.search(data)]
        if where:
            survivors[value] = where
    return survivors


def test_no_planted_value_survives_the_ingest_anywhere(make_case, diagnosis, media_root, capsys):
    case = make_case(slug="planted", final_diagnosis=diagnosis("Chordoma"))
    series = series_create(case=case, label="Axial T1", modality="MR")
    files, planted = _upload(0)
    for data in (f.data for f in files[: len(SAMPLES)]):
        assert b"ZQ" in data  # planted, in the clear, before the ingest (deflated excepted)

    result = images_ingest(series=series, files=files)

    accepted = [o for o in result.outcomes if o.accepted]
    assert len(accepted) == len(SAMPLES), [(o.name, o.reason) for o in result.outcomes if not o.accepted]
    rejected = [o for o in result.outcomes if not o.accepted]
    assert len(rejected) == 2 and "encrypted" in rejected[0].reason
    # The uploader is told the names now; the stored report never keeps them.
    assert any("DOE_JANE_" in o.name for o in accepted)
    stored = _stored_bytes(media_root)
    assert len([w for w, _ in stored if w.endswith(".dcm")]) == len(SAMPLES)
    haystacks = [*stored, ("database rows", _database_rows().encode())]

    survivors = _survivors(planted, haystacks)

    count = len(planted.values) + len(planted.interleaved) + len(SHARED_VALUES)
    with capsys.disabled():
        print(f"\nplanted-PHI corpus: {count} values in {len(files)} files; {len(survivors)} survived")
    assert survivors == {}, {value: (planted.values.get(value), where) for value, where in survivors.items()}
    assert count > 400
    for image in Image.objects.all():
        back = pydicom.dcmread(image.file.path)
        assert back.PatientIdentityRemoved == "YES"
        assert back.get("PatientAge") in (None, "090Y")
    report = Upload.objects.get().report
    labels = [entry["file"].split(" (")[0] for entry in report]
    assert labels == [f"file {n}" for n in range(1, len(files) + 1)]
