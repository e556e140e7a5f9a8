"""Decoding is bounded: bombs are refused by name within the memory budget, cut-short images refused.

The bombs are read in a child process whose address space is limited to the budget
(``DECODE_MEMORY_LIMIT``'s default, 1 GiB) above what the interpreter holds before the file is
read: a reader that allocated what a bomb declares would fail there with a MemoryError instead of
refusing the file by name. Files just within a smaller budget are read and rendered under the same
kind of limit, which keeps the cost model (imaging.decode_budget) an upper bound.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit

from imaging.codestreams import BadCodestream, j2k_codestream, jpeg_codestream, png_codestream
from imaging.decode_budget import DEFAULT_MEMORY_LIMIT
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_dicom, read_for_rendering
from imaging.raster import read_raster
from tests.helpers import bombs
from tests.helpers.dicom_samples import sample_bytes, sample_dataset, to_bytes

ROOT = Path(__file__).resolve().parents[3]
MIB = 1 << 20

# xdist_group: one reader process for the module (`make test` runs with --dist loadgroup), not one per worker.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR"),
    pytest.mark.xdist_group("decode-bounds"),
]

# The reader process loads every codec once (so that the baseline holds what any read needs), then
# for each file forks a child that limits its address space to what it uses now plus the budget and
# reads the file: one interpreter start for all the files, not one per file.
READER = r"""
import json, os, resource, sys, time, warnings
warnings.simplefilter("ignore")
from io import BytesIO
from pathlib import Path
from PIL import Image
from imaging.dicom.errors import RejectedFile
from imaging.dicom.reading import read_dicom, read_for_rendering
from imaging.dicom.render import png_bytes, render_frame, FULL_RANGE
from imaging.raster import read_raster, reencode_png
from tests.helpers.dicom_samples import sample_bytes

for sample in ("CT_small.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
               "MR_small_RLE.dcm", "SC_rgb_jpeg.dcm", "image_dfl.dcm"):
    png_bytes(render_frame(read_dicom(sample_bytes(sample), name=sample), 0))
for fmt in ("PNG", "JPEG"):
    buffer = BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, fmt)
    reencode_png(read_raster(buffer.getvalue(), name=fmt))
def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":"))
def read(path, budget, render):
    data = path.read_bytes()
    used, before = status("VmSize"), status("VmHWM")
    resource.setrlimit(resource.RLIMIT_AS, (used + budget, resource.getrlimit(resource.RLIMIT_AS)[1]))
    start = time.perf_counter()
    try:
        if path.suffix == ".dcm":
            read_dicom(data, name=path.name, memory_limit=budget)
            if render:
                dataset = read_for_rendering(data, name=path.name, frame=0, memory_limit=budget)
                png_bytes(render_frame(dataset, 0, window=FULL_RANGE))
        else:
            reencode_png(read_raster(data, name=path.name, memory_limit=budget))
        outcome = {"accepted": True}
    except RejectedFile as error:
        outcome = {"name": error.name, "reason": error.reason}
    except MemoryError:
        outcome = {"memory_error": True}
    outcome["seconds"] = time.perf_counter() - start
    outcome.update(peak_rss=status("VmHWM"), rss_growth=status("VmHWM") - before, address_space=used)
    return outcome
for line in sys.stdin:
    path, budget, render = json.loads(line)
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(readable)
        os.write(writable, json.dumps(read(Path(path), budget, render)).encode())
        os._exit(0)
    os.close(writable)
    with os.fdopen(readable) as answer:
        outcome = answer.read()
    os.waitpid(child, 0)
    print(outcome or json.dumps({"crashed": True}), flush=True)
"""


@pytest.fixture(scope="module")
def reader_process():
    process = subprocess.Popen(
        [sys.executable, "-c", READER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield process
    process.stdin.close()
    process.wait(timeout=60)


def read_in_child(process, path: Path, budget: int, *, render: bool = False) -> dict:
    process.stdin.write(json.dumps([str(path), budget, render]) + "\n")
    process.stdin.flush()
    line = process.stdout.readline()
    assert line, f"the reader process ended (code {process.poll()})"
    outcome = json.loads(line)
    # The figures for docs/decoding-bounds.md (shown with -s or -rA).
    print(f"{path.name}: {outcome}")
    return outcome


def png_without_iend() -> bytes:
    return bombs.encoded(bombs.gradient(), "PNG")[:-12]


BOMBS = {
    # name: (bytes, what the reason must say)
    "deflate-bomb.dcm": (bombs.deflate_bomb_dicom, "reading the deflated data set (it inflates to more than"),
    "jpeg-bomb.dcm": (
        bombs.jpeg_bomb_dicom,
        "frame 1: the JPEG codestream declares 20000 x 20000 pixels where the DICOM header declares 64 x 64",
    ),
    "j2k-bomb.dcm": (
        bombs.j2k_bomb_dicom,
        "frame 1: the JPEG 2000 codestream declares 20000 x 20000 pixels where the DICOM header declares "
        "64 x 64",
    ),
    "jpeg-ls-bomb.dcm": (
        bombs.jpeg_ls_bomb_dicom,
        "frame 1: the JPEG-LS codestream declares 20000 x 20000 pixels where the DICOM header declares "
        "64 x 64",
    ),
    "cut-frame.dcm": (bombs.truncated_jpeg_dicom, "frame 1: the JPEG codestream is truncated"),
    "huge.jpg": (
        lambda: bombs.with_jpeg_size(bombs.small_jpeg(), b"\xff\xc0", bombs.HUGE, bombs.HUGE),
        "the image is too large: 20000 x 20000",
    ),
    "huge.png": (
        lambda: bombs.png_declaring(bombs.HUGE, bombs.HUGE),
        "the image is too large: 20000 x 20000",
    ),
    # Under the pixel limit (50 million), over the memory limit: 7000 x 7000 RGB.
    "wide.png": (
        lambda: bombs.png_declaring(7000, 7000, color_type=2, depth=8),
        "decoding this 7000 x 7000 PNG image would need about",
    ),
    "cut.jpg": (lambda: bombs.small_jpeg()[:-2], "the JPEG codestream is truncated"),
    "cut.png": (png_without_iend, "the PNG image is truncated (it ends before its IEND chunk)"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_refused_by_name_within_the_memory_budget(reader_process, tmp_path, name):
    make, expected = BOMBS[name]
    path = tmp_path / name
    path.write_bytes(make())
    outcome = read_in_child(reader_process, path, DEFAULT_MEMORY_LIMIT)
    assert "memory_error" not in outcome, f"{name} ran out of the {DEFAULT_MEMORY_LIMIT} bytes allowed"
    assert outcome.get("name") == name, outcome
    assert expected in outcome["reason"]


def test_the_deflate_bomb_is_a_few_megabytes():
    assert len(bombs.deflate_bomb_dicom()) < 4 * MIB  # and inflates to 3 GiB


# -- files just within a budget are read and rendered within it ------------------------------------------

SMALL_BUDGET = 96 * MIB


def native_16_bit(size: int) -> bytes:
    ds = sample_dataset("CT_small.dcm")
    ds.Rows = ds.Columns = size
    ds.PixelData = (np.arange(size * size, dtype=np.uint16) % 4096).tobytes()
    return to_bytes(ds)


def j2k_16_bit(size: int) -> bytes:
    ds = sample_dataset("CT_small.dcm")
    ds.Rows = ds.Columns = size
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
    y, x = np.mgrid[0:size, 0:size]
    ds.PixelData = ((x * 7 + y * 3) % 4096).astype(np.uint16).tobytes()
    ds.compress(JPEG2000Lossless)
    return to_bytes(ds)


def ybr_jpeg(size: int) -> bytes:
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    frame = bombs.encoded(Image.fromarray(rgb, "RGB"), "JPEG", quality=90)
    return bombs.dicom_with_frames(
        "CT_small.dcm",
        [frame],
        TransferSyntaxUID=JPEGBaseline8Bit,
        Rows=size,
        Columns=size,
        SamplesPerPixel=3,
        PlanarConfiguration=0,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        PhotometricInterpretation="YBR_FULL_422",
    )


def rgb_png(size: int) -> bytes:
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    return bombs.encoded(Image.fromarray(rgb, "RGB"), "PNG", compress_level=1)


def grey_jpeg(size: int) -> bytes:
    return bombs.encoded(bombs.gradient(256).resize((size, size)), "JPEG", quality=90)


# Sizes whose estimate is 80-100% of SMALL_BUDGET: for DICOM 20 bytes a decoded value and the file
# held twice (2000 x 2000 16-bit native, 2150 x 2150 JPEG 2000 of a few megabytes, 1200 x 1200 x 3
# JPEG); for PNG and JPEG uploads 24 bytes a colour pixel, 8 a grey one.
WITHIN = {
    "native.dcm": (native_16_bit, 2000),
    "j2k.dcm": (j2k_16_bit, 2150),
    "ybr.dcm": (ybr_jpeg, 1200),
    "rgb.png": (rgb_png, 1900),
    "grey.jpg": (grey_jpeg, 3300),
}


@pytest.mark.parametrize("name", list(WITHIN))
def test_a_file_just_within_the_budget_is_read_and_rendered_within_it(reader_process, tmp_path, name):
    make, size = WITHIN[name]
    path = tmp_path / name
    path.write_bytes(make(size))
    reader = read_dicom if name.endswith(".dcm") else read_raster
    with pytest.raises(RejectedFile, match="DECODE_MEMORY_LIMIT"):  # the estimate is not far off ...
        reader(path.read_bytes(), name=name, memory_limit=int(SMALL_BUDGET * 0.8))
    outcome = read_in_child(reader_process, path, SMALL_BUDGET, render=True)  # ... nor below what it takes
    assert outcome == {**outcome, "accepted": True}, outcome


# -- the codestream readers ---------------------------------------------------------------------------


def test_a_real_jpeg_declares_its_size_precision_and_components():
    stream = jpeg_codestream(bombs.encoded(Image.new("RGB", (40, 30)), "JPEG"))
    assert stream == (30, 40, 3, 8)


def test_jpeg_markers_inside_a_segment_or_after_eoi_are_not_taken_for_the_end():
    # An EXIF thumbnail is a whole JPEG, with its own EOI, inside the APP1 segment.
    thumbnail = bombs.encoded(Image.new("L", (8, 8)), "JPEG")
    exif = Image.Exif()
    data = bombs.encoded(bombs.gradient(), "JPEG", exif=exif.tobytes() + thumbnail)
    assert jpeg_codestream(data + b"trailer bytes").rows == 64
    with pytest.raises(BadCodestream, match="truncated"):
        jpeg_codestream(data[:-2] + b"\x00\x00")


def test_a_progressive_jpeg_is_read_to_its_last_scan():
    data = bombs.encoded(bombs.gradient(), "JPEG", progressive=True)
    assert jpeg_codestream(data).columns == 64
    with pytest.raises(BadCodestream, match="truncated"):
        jpeg_codestream(data[: len(data) // 2])


def test_a_jpeg_whose_height_is_left_to_a_dnl_marker_is_refused():
    with pytest.raises(BadCodestream, match="does not declare the image height"):
        jpeg_codestream(bombs.with_jpeg_size(bombs.small_jpeg(), b"\xff\xc0", 0, 64))


def test_jpeg_2000_in_a_jp2_file_and_padded_after_eoc_is_read():
    data = bombs.encoded(bombs.gradient(), "JPEG2000", no_jp2=False)
    assert data.startswith(b"\x00\x00\x00\x0cjP  ")
    assert j2k_codestream(data + b"\x00") == (64, 64, 1, 8)
    with pytest.raises(BadCodestream, match="truncated"):
        j2k_codestream(data[:-10])


def test_a_png_is_read_to_its_iend_chunk_and_what_follows_is_ignored():
    data = bombs.encoded(bombs.gradient(), "PNG")
    assert png_codestream(data + b"junk") == (64, 64, 1, 8)
    with pytest.raises(BadCodestream, match="ends inside its IDAT chunk"):
        png_codestream(data[: len(data) // 2])


def test_a_png_missing_only_its_iend_checksum_is_refused_where_it_was_accepted():
    data = bombs.encoded(bombs.gradient(), "PNG")
    with pytest.raises(RejectedFile, match="truncated"):
        read_raster(data[:-2], name="cut.png")


# -- DICOM frames against their header ---------------------------------------------------------------


def test_a_codestream_with_other_components_or_more_bits_than_allocated_is_refused():
    rgb = bombs.encoded(Image.new("RGB", (64, 64)), "JPEG")
    with pytest.raises(RejectedFile, match=r"declares 3 component\(s\) where the DICOM header declares 1"):
        read_dicom(bombs.jpeg_in_dicom(rgb), name="rgb-in-grey.dcm")
    ds = sample_dataset("MR_small_jp2klossless.dcm")  # 16 bits allocated, a 16-bit codestream
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    with pytest.raises(RejectedFile, match="declares 16-bit samples where the DICOM header allocates 8"):
        read_dicom(to_bytes(ds), name="bits.dcm")


def jpeg_frames_in_dicom(frames: list[bytes], **header) -> bytes:
    return bombs.dicom_with_frames(
        "CT_small.dcm",
        frames,
        TransferSyntaxUID=JPEGBaseline8Bit,
        Rows=64,
        Columns=64,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        **header,
    )


def test_pixel_data_with_fewer_frames_than_declared_is_refused():
    data = jpeg_frames_in_dicom([bombs.small_jpeg()] * 2, NumberOfFrames=3)
    with pytest.raises(RejectedFile, match=r"holds 2 frame\(s\) where the header declares 3"):
        read_dicom(data, name="frames.dcm")


def test_rendering_checks_the_frame_it_renders():
    good, bad = bombs.small_jpeg(), bombs.with_jpeg_size(bombs.small_jpeg(), b"\xff\xc0", 20_000, 20_000)
    data = jpeg_frames_in_dicom([good, bad])
    with pytest.raises(RejectedFile, match="frame 2: the JPEG codestream declares 20000 x 20000"):
        read_dicom(data, name="two.dcm")
    assert read_for_rendering(data, name="two.dcm", frame=0)
    with pytest.raises(RejectedFile, match="frame 2: the JPEG codestream declares 20000 x 20000"):
        read_for_rendering(data, name="two.dcm", frame=1)
    with pytest.raises(RejectedFile, match=r"frame 3 is not in the file: it has 2 frame\(s\)"):
        read_for_rendering(data, name="two.dcm", frame=2)


def test_a_valid_deflated_file_is_read_and_a_small_limit_refuses_it_before_it_is_inflated():
    data = sample_bytes("image_dfl.dcm")
    assert read_dicom(data, name="dfl.dcm").Rows
    with pytest.raises(RejectedFile, match=r"reading the deflated data set \(it inflates to more than"):
        read_dicom(data, name="dfl.dcm", memory_limit=len(data) * 3)


def test_a_deflated_file_is_counted_at_its_inflated_size_exactly():
    data = sample_bytes("image_dfl.dcm")  # 512 x 512 x 8 bits, the deflate stream followed by padding
    inflated = len(pydicom.dcmread(io.BytesIO(data)).buffer.getvalue())
    needed = 2 * len(data) + 2 * inflated + 512 * 512 * 20
    assert read_dicom(data, name="dfl.dcm", memory_limit=needed)
    with pytest.raises(RejectedFile, match="DECODE_MEMORY_LIMIT"):
        read_dicom(data, name="dfl.dcm", memory_limit=needed - 1)


def test_the_memory_limit_refuses_a_file_by_what_it_would_take():
    data = sample_bytes("CT_small.dcm")  # 128 x 128 x 1 native: about 0.4 MB with the file held twice
    assert read_dicom(data, name="ct.dcm", memory_limit=MIB)
    with pytest.raises(RejectedFile) as info:
        read_dicom(data, name="ct.dcm", memory_limit=MIB // 4)
    assert info.value.reason == (
        "reading the file and rendering a frame of 128 x 128 pixels x 1 sample(s) would need about 0 MiB "
        "of memory, over the decoding limit of 0 MiB (DECODE_MEMORY_LIMIT)"
    )


# -- the setting ---------------------------------------------------------------------------------------


def run_settings(environment: dict) -> subprocess.CompletedProcess:
    inherited = {key: value for key, value in os.environ.items() if key != "DECODE_MEMORY_LIMIT"}
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DECODE_MEMORY_LIMIT)"],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_the_memory_limit_is_read_from_the_environment_with_a_default_of_one_gib():
    assert run_settings({}).stdout.strip() == str(1 << 30)
    assert run_settings({"DECODE_MEMORY_LIMIT": "268435456"}).stdout.strip() == "268435456"
    refused = run_settings({"DECODE_MEMORY_LIMIT": "0"})
    assert refused.returncode != 0
    assert "DECODE_MEMORY_LIMIT must be a positive number of bytes" in refused.stderr
