"""Rendering frames to 8-bit images: modality LUT, VOI window/LUT, MONOCHROME1, colour, frames."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.pixels.processing import apply_modality_lut, apply_windowing
from pydicom.sequence import Sequence

from imaging.dicom.reading import read_dicom
from imaging.dicom.render import (
    FULL_RANGE,
    WINDOW_PRESETS,
    _grayscale_to_8bit,
    _table_size,
    frame_count,
    png_bytes,
    presets_for,
    render_frame,
    thumbnail,
)
from tests.helpers.dicom_samples import sample_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")


def load(name: str) -> Dataset:
    return read_dicom(sample_bytes(name), name=name)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 written out piecewise, in float64, output 0-255 rounded half up."""
    x = np.asarray(x, dtype=np.float64)
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    y = np.where(x <= center - 0.5 - (width - 1) / 2, 0, y)
    y = np.where(x > center - 0.5 + (width - 1) / 2, 255, y)
    return np.floor(y + 0.5)


def hounsfield(ds: Dataset) -> np.ndarray:
    return pixel_array(ds).astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def assert_close_to(image: Image.Image, expected: np.ndarray) -> None:
    """Equal except for float32 rounding exactly at .5 steps (at most 1 level, on few pixels)."""
    diff = np.abs(pixels(image).astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1
    assert (diff == 0).mean() > 0.99


def test_soft_tissue_and_bone_windows_differ_on_ct():
    ds = load("CT_small.dcm")
    soft = pixels(render_frame(ds, 0, window=WINDOW_PRESETS["CT"]["soft_tissue"]))
    bone = pixels(render_frame(ds, 0, window=WINDOW_PRESETS["CT"]["bone"]))
    assert soft.shape == bone.shape == (128, 128)
    assert (soft != bone).mean() > 0.5


def test_ct_window_follows_the_linear_formula():
    ds = load("CT_small.dcm")
    hu = hounsfield(ds)
    image = render_frame(ds, 0, window=(40.0, 400.0))
    assert image.mode == "L"
    assert_close_to(image, linear_window(hu, 40.0, 400.0))

    # One pixel inside the window, worked by hand: HU -> ((HU - 39.5) / 399 + 0.5) * 255.
    row, col = np.argwhere((hu > -100) & (hu < 200))[0]
    value = hu[row, col]
    expected = int(np.floor(((value - 39.5) / 399 + 0.5) * 255 + 0.5))
    assert abs(int(pixels(image)[row, col]) - expected) <= 1
    assert 0 < expected < 255
    # Outside the window: clipped to black and white.
    assert (pixels(image)[hu <= 40 - 0.5 - 399 / 2] == 0).all()
    assert (pixels(image)[hu > 40 - 0.5 + 399 / 2] == 255).all()


def test_file_window_matches_pydicom_apply_windowing():
    ds = load("MR_small.dcm")  # Window Center 600, Width 1600, signed 16-bit
    reference = apply_windowing(apply_modality_lut(pixel_array(ds), ds), ds)
    low, high = -(2**15), 2**15 - 1  # pydicom's output range for signed 16-bit data
    reference8 = np.floor((reference - low) / (high - low) * 255 + 0.5)
    assert_close_to(render_frame(ds, 0), reference8)


def test_linear_exact_and_sigmoid_voi_functions():
    ds = load("MR_small.dcm")
    x = pixel_array(ds).astype(np.float64)
    center, width = 600.0, 1600.0

    ds.VOILUTFunction = "LINEAR_EXACT"
    exact = np.floor(np.clip((x - center) / width + 0.5, 0, 1) * 255 + 0.5)
    assert_close_to(render_frame(ds, 0), exact)

    ds.VOILUTFunction = "SIGMOID"
    sigmoid = np.floor(255 / (1 + np.exp(-4 * (x - center) / width)) + 0.5)
    image = render_frame(ds, 0)
    assert_close_to(image, sigmoid)
    assert not np.array_equal(pixels(image), exact)


def test_monochrome1_is_inverted():
    ds = load("CT_small.dcm")
    normal = pixels(render_frame(ds, 0, window=(40.0, 400.0)))
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted = pixels(render_frame(ds, 0, window=(40.0, 400.0)))
    np.testing.assert_array_equal(inverted, 255 - normal)
    assert (normal != 127).any()


def test_presentation_lut_shape_inverse_inverts_monochrome2():
    ds = load("MR_small.dcm")
    normal = pixels(render_frame(ds, 0))
    ds.PresentationLUTShape = "INVERSE"
    np.testing.assert_array_equal(pixels(render_frame(ds, 0)), 255 - normal)


def test_signed_stored_values_are_read_as_signed():
    ds = load("CT_small.dcm")
    stored = pixel_array(ds).astype(np.int16) - 1500  # many negative stored values
    ds.PixelData = stored.tobytes()
    ds.RescaleIntercept = 0
    image = pixels(render_frame(ds, 0, window=(-1000.0, 1000.0)))
    assert (stored < -1000).any() and (stored > -1000).any()
    np.testing.assert_array_equal(image, linear_window(stored, -1000.0, 1000.0))


def test_unsigned_12_bit_jpeg_extended_renders():
    image = pixels(render_frame(load("JPGExtended.dcm"), 0))
    assert image.shape == (1024, 256)
    assert image.min() == 0 and image.max() == 255


@pytest.mark.parametrize("name", ["CT_small.dcm", "rtdose.dcm", "JPEG2000.dcm"])
def test_missing_window_gets_a_sane_default(name):
    ds = load(name)
    assert "WindowCenter" not in ds and "VOILUTSequence" not in ds
    image = pixels(render_frame(ds, 0))
    assert 15 < image.mean() < 240
    assert image.std() > 20
    assert len(np.unique(image)) > 16


def test_padding_pixels_do_not_move_the_automatic_window():
    ds = load("CT_small.dcm")
    stored = pixel_array(ds).copy()
    stored[:40, :] = int(ds.PixelPaddingValue)  # -2000, far below the real values
    ds.PixelData = stored.tobytes()
    declared = pixels(render_frame(ds, 0))
    # The real pixels still span the whole grey scale, about 0.5% clipped at each end.
    body = declared[40:, :]
    assert body.min() == 0 and body.max() == 255
    assert 0.002 < (body == 0).mean() < 0.02
    assert (declared[:40, :] == 0).all()

    del ds.PixelPaddingValue  # the same pixels, not flagged: the padding drags the window down
    undeclared = pixels(render_frame(ds, 0))[40:, :]
    assert undeclared.min() > 100


def test_full_range_preset_stretches_min_to_max():
    ds = load("MR_small.dcm")
    assert presets_for("MR")["full"] == FULL_RANGE
    image = pixels(render_frame(ds, 0, window=FULL_RANGE))
    arr = pixel_array(ds)
    assert image[arr == arr.min()].max() == 0
    assert image[arr == arr.max()].min() == 255


def test_voi_lut_sequence_is_applied():
    ds = load("MR_small.dcm")
    del ds.WindowCenter
    del ds.WindowWidth
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    item.LUTData = [4095 - i for i in range(4096)]  # an inverting LUT
    item["LUTData"].VR = "US"
    ds.VOILUTSequence = Sequence([item])
    x = pixel_array(ds).astype(np.float64)
    expected = np.floor((4095 - x) / 4095 * 255 + 0.5)
    np.testing.assert_array_equal(pixels(render_frame(ds, 0)), expected)


def test_modality_lut_sequence_replaces_rescale():
    ds = load("MR_small.dcm")  # values 127-2145
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = [2 * i for i in range(4096)]
    item["LUTData"].VR = "US"
    ds.ModalityLUTSequence = Sequence([item])
    x = pixel_array(ds).astype(np.float64) * 2
    np.testing.assert_array_equal(
        pixels(render_frame(ds, 0, window=(2000.0, 3000.0))), linear_window(x, 2000, 3000)
    )


def test_multiframe_grayscale_frames_differ():
    ds = load("rtdose.dcm")
    assert frame_count(ds) == 15
    first, last = (pixels(render_frame(ds, i, window=(1.0e6, 1.0e6))) for i in (0, 14))
    assert first.shape == (10, 10)
    assert not np.array_equal(first, last)


def test_multiframe_colour_frames_differ_and_match_decoded_rgb():
    ds = load("examples_ybr_color.dcm")
    assert frame_count(ds) == 30
    first = render_frame(ds, 0)
    middle = render_frame(ds, 15)
    assert first.mode == middle.mode == "RGB"
    assert first.size == (320, 240)
    assert not np.array_equal(pixels(first), pixels(middle))
    # YBR_FULL_422 converted to RGB by pydicom, passed through unchanged.
    np.testing.assert_array_equal(pixels(middle), pixel_array(ds, index=15))


def test_frame_index_out_of_range():
    ds = load("rtdose.dcm")
    with pytest.raises(IndexError):
        render_frame(ds, 15)
    with pytest.raises(IndexError):
        render_frame(ds, -1)
    assert frame_count(load("CT_small.dcm")) == 1


def test_rgb_sample_is_rgb():
    ds = load("examples_rgb_color.dcm")
    image = render_frame(ds, 0)
    assert image.mode == "RGB"
    np.testing.assert_array_equal(pixels(image), pixel_array(ds))


def test_16_bit_rgb_is_scaled_to_8_bit():
    ds = load("SC_rgb_rle_16bit.dcm")
    image = pixels(render_frame(ds, 0))
    arr = pixel_array(ds)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, np.floor(arr / 65535 * 255 + 0.5))


def test_palette_colour_goes_through_the_lookup_table():
    ds = load("examples_palette.dcm")
    image = render_frame(ds, 0)
    assert image.mode == "RGB"
    rgb = pixels(image)
    assert (rgb[..., 0] != rgb[..., 1]).any()  # really coloured, not grey

    indices = pixel_array(ds)
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    tables = [
        np.frombuffer(ds[f"{c}PaletteColorLookupTableData"].value, dtype="<u2")
        for c in ("Red", "Green", "Blue")
    ]
    for row, col in [(200, 400), (10, 10), (300, 700)]:
        entry = int(indices[row, col]) - first
        expected = [int(np.floor(table[entry] / 257 + 0.5)) for table in tables]
        assert list(rgb[row, col]) == expected


def test_compressed_mr_variants_render_like_the_uncompressed_one():
    reference = pixels(render_frame(load("MR_small.dcm"), 0))
    for name in ("MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"):
        np.testing.assert_array_equal(pixels(render_frame(load(name), 0)), reference)


def test_negative_window_width_is_refused():
    with pytest.raises(ValueError, match="negative"):
        render_frame(load("CT_small.dcm"), 0, window=(40.0, -1.0))


def test_presets():
    ct = presets_for("CT")
    assert ct["soft_tissue"] == (40.0, 400.0)
    assert ct["lung"] == (-600.0, 1500.0)
    assert ct["brain"] == (40.0, 80.0)
    assert ct["bone"][0] >= 300
    assert presets_for("ct") == ct
    assert presets_for("MR") == {"default": None, "full": FULL_RANGE}
    assert presets_for("US") == {"default": None}
    assert presets_for(None) == {"default": None}
    ct["soft_tissue"] = (0.0, 1.0)
    assert WINDOW_PRESETS["CT"]["soft_tissue"] == (40.0, 400.0)


def test_png_bytes_round_trips():
    image = render_frame(load("CT_small.dcm"), 0)
    data = png_bytes(image)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(data))), pixels(image))
    assert len(png_bytes(image, compress_level=9)) <= len(data)


def test_thumbnail_fits_the_box_and_keeps_aspect():
    image = render_frame(load("JPGExtended.dcm"), 0)  # 256 wide, 1024 high
    small = thumbnail(image, size=128)
    assert small.size == (32, 128)
    assert image.size == (256, 1024)  # the original is untouched
    tiny = render_frame(load("MR_small.dcm"), 0)  # 64 x 64 is never enlarged
    assert thumbnail(tiny).size == (64, 64)


# -- the lookup table path and the fast PNG encoder ------------------------------------------------


def monochrome1(ds: Dataset) -> Dataset:
    ds.PhotometricInterpretation = "MONOCHROME1"
    return ds


def with_function(function: str):
    def change(ds: Dataset) -> Dataset:
        ds.VOILUTFunction = function
        return ds

    return change


def with_voi_lut(ds: Dataset) -> Dataset:
    del ds.WindowCenter
    del ds.WindowWidth
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    item.LUTData = [min(4095, 2 * i) for i in range(4096)]
    item["LUTData"].VR = "US"
    ds.VOILUTSequence = Sequence([item])
    return ds


def with_modality_lut(ds: Dataset) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = [2 * i for i in range(4096)]
    item["LUTData"].VR = "US"
    ds.ModalityLUTSequence = Sequence([item])
    return ds


@pytest.mark.parametrize(
    ("name", "change", "window"),
    [
        ("CT_small.dcm", None, (40.0, 400.0)),  # soft tissue: rescale + LINEAR window
        ("CT_small.dcm", None, (-600.0, 1500.0)),
        ("CT_small.dcm", None, (40.0, 1.0)),  # width 1: a threshold
        ("CT_small.dcm", monochrome1, (40.0, 400.0)),  # inversion folded into the table
        ("MR_small.dcm", None, None),  # the file's window, LINEAR
        ("MR_small.dcm", monochrome1, None),
        ("MR_small.dcm", with_function("LINEAR_EXACT"), None),
        ("MR_small.dcm", with_function("SIGMOID"), None),
        ("MR_small.dcm", with_voi_lut, None),
        ("MR_small.dcm", with_modality_lut, (2000.0, 3000.0)),
        ("MR_small_bigendian.dcm", None, None),
        ("JPGExtended.dcm", None, (100.0, 200.0)),  # unsigned 12-bit, values 0-264
    ],
)
def test_the_lookup_table_gives_what_computing_on_the_frame_gives(name, change, window):
    ds = load(name)
    if change:
        ds = change(ds)
    arr = pixel_array(ds)
    invert = ds.PhotometricInterpretation == "MONOCHROME1"
    by_table = _grayscale_to_8bit(arr, ds, 0, window, invert, lut=True)
    by_frame = _grayscale_to_8bit(arr, ds, 0, window, invert, lut=False)
    assert by_table.dtype == by_frame.dtype == np.uint8
    np.testing.assert_array_equal(by_table, by_frame)
    assert len(np.unique(by_frame)) > 2 or window == (40.0, 1.0)


def test_a_large_frame_goes_through_the_table_and_matches_the_formula():
    ds = load("CT_small.dcm")
    stored = np.tile(pixel_array(ds), (4, 4))  # 512 x 512: more pixels than 16-bit values
    ds.Rows, ds.Columns = stored.shape
    ds.PixelData = stored.tobytes()
    assert _table_size(stored.dtype) <= stored.size
    image = render_frame(ds, 0, window=(40.0, 400.0))
    hu = stored.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert_close_to(image, linear_window(hu, 40.0, 400.0))
    ds.PhotometricInterpretation = "MONOCHROME1"
    np.testing.assert_array_equal(pixels(render_frame(ds, 0, window=(40.0, 400.0))), 255 - pixels(image))


def test_automatic_windows_are_computed_on_the_frame():
    ds = load("CT_small.dcm")  # no window in the file: percentiles of the frame's values
    arr = pixel_array(ds)
    by_frame = _grayscale_to_8bit(arr, ds, 0, None, False)
    np.testing.assert_array_equal(pixels(render_frame(ds, 0)), by_frame)
    np.testing.assert_array_equal(_grayscale_to_8bit(arr, ds, 0, None, False, lut=False), by_frame)


def test_big_endian_renders_like_little_endian():
    np.testing.assert_array_equal(
        pixels(render_frame(load("MR_small_bigendian.dcm"), 0)), pixels(render_frame(load("MR_small.dcm"), 0))
    )


@pytest.mark.parametrize("mode", ["L", "RGB", "I;16"])
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (320, 240)])
def test_png_is_lossless(mode, size):
    rng = np.random.default_rng(7)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (size[1], size[0]), dtype=np.uint16))
    else:
        noise = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(noise if mode == "RGB" else noise[..., 0], mode)
    assert image.mode == mode
    data = png_bytes(image)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    decoded = Image.open(BytesIO(data))
    decoded.load()  # checks every chunk's CRC and the zlib stream
    assert decoded.size == size
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(image))
