"""DICOM files for ingest tests, and ingesting them."""

import io

import numpy as np
import pydicom
from PIL import Image as PILImage

from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.services import images_ingest


def dicom_bytes(name: str, **changes) -> bytes:
    dataset = pydicom.dcmread(SAMPLE_DIR / name)
    for keyword, value in changes.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def blank_png() -> bytes:
    """A small grey PNG: an upload with no modality, flagged for an editor's look on arrival."""
    buffer = io.BytesIO()
    PILImage.new("L", (20, 10), 128).save(buffer, "PNG")
    return buffer.getvalue()


def ingest(series, *files: tuple[str, bytes]):
    return images_ingest(series=series, files=[InputFile(name, data) for name, data in files])


def large_ct_file(size: int = 512, name: str = "large.dcm") -> InputFile:
    """CT_small's 128 x 128 pixels blown up to `size` x `size`: a frame larger than a thumbnail."""
    dataset = pydicom.dcmread(SAMPLE_DIR / "CT_small.dcm")
    factor = size // dataset.Rows
    pixels = np.kron(dataset.pixel_array, np.ones((factor, factor), dtype=dataset.pixel_array.dtype))
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return InputFile(name, buffer.getvalue())
