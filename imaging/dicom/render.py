"""Render DICOM frames as 8-bit images for the browser.

The grayscale pipeline follows the DICOM grayscale image transformation model (PS3.4
N.2.1): stored values -> Modality LUT (rescale or LUT) -> VOI LUT (window or LUT) ->
8-bit output, with *MONOCHROME1* inverted so that the result always reads like
*MONOCHROME2* (low values dark). Windowing is computed here in float32 NumPy, which is
faster than pydicom's float64 :func:`~pydicom.pixels.processing.apply_windowing` and maps
straight to 0-255 instead of the stored value range.

Every step but an automatic window is a function of the stored value alone, so for 8- and
16-bit frames with more pixels than possible stored values, the steps are computed once per
possible value into a lookup table that is then indexed by the frame: the same arithmetic on
fewer values, and the same result. Tables for plain windows are kept, as all slices of a
series share them.

Color images come out as RGB: YCbCr is converted by pydicom while decoding, and palette
color is expanded through its lookup table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi

__all__ = [
    "FULL_RANGE",
    "WINDOW_PRESETS",
    "FrameValues",
    "frame_count",
    "frame_values",
    "png_bytes",
    "presets_for",
    "render_frame",
    "thumbnail",
]

#: A window value meaning "stretch the frame's full value range" (width 0 is not a valid
#: DICOM window width, so it cannot collide with a real window).
FULL_RANGE: tuple[float, float] = (0.0, 0.0)

#: Named windows as (center, width) in output units of the Modality LUT (Hounsfield units
#: for CT). ``None`` means "as stored in the file" (or an automatic window if the file
#: has none); :data:`FULL_RANGE` means the frame's minimum to maximum. Modalities not
#: listed use the ``"*"`` entry; use :func:`presets_for` rather than indexing directly.
WINDOW_PRESETS: dict[str, dict[str, tuple[float, float] | None]] = {
    "CT": {
        "default": None,
        "soft_tissue": (40.0, 400.0),
        "bone": (400.0, 1800.0),
        "lung": (-600.0, 1500.0),
        "brain": (40.0, 80.0),
    },
    "MR": {
        "default": None,
        "full": FULL_RANGE,
    },
    "*": {
        "default": None,
    },
}

# Automatic window when the file has none: these percentiles of the frame's values, so a
# few extreme pixels (metal, padding that is not flagged) do not flatten the image.
_AUTO_PERCENTILES = (0.5, 99.5)
_AUTO_SAMPLE_LIMIT = 1_000_000


def presets_for(modality: str | None) -> dict[str, tuple[float, float] | None]:
    """Return the named windows offered for `modality` (a copy, safe to change).

    Parameters
    ----------
    modality : str or None
        A DICOM *Modality* (0008,0060) value such as ``"CT"``; case-insensitive.

    Returns
    -------
    dict
        Preset name -> (center, width), ``None`` (file's window) or :data:`FULL_RANGE`.
    """
    key = (modality or "").strip().upper()
    return dict(WINDOW_PRESETS.get(key, WINDOW_PRESETS["*"]))


def frame_count(ds: Dataset) -> int:
    """Return the number of frames in `ds`.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A data set with pixel data.

    Returns
    -------
    int
        *Number of Frames* (0028,0008) if present and positive, else 1.

    References
    ----------
    * DICOM Standard, Part 3, Annex C.7.6.6 (Multi-frame Module)
    """
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        return 1
    return max(frames, 1)


def render_frame(ds: Dataset, index: int, *, window: tuple[float, float] | None = None) -> Image.Image:
    """Render one frame of `ds` as an 8-bit PIL image.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A data set whose pixel data can be decoded (see
        :func:`imaging.dicom.reading.read_dicom`).
    index : int
        The frame, starting at 0.
    window : tuple of float, optional
        For grayscale images, the VOI window as ``(center, width)`` in Modality LUT
        output units, applied with the LINEAR function. :data:`FULL_RANGE` stretches the
        frame's minimum to maximum. If ``None`` (default) the file's first *Window
        Center*/*Window Width* pair is used with its *VOI LUT Function*, else its *VOI LUT
        Sequence*, else an automatic window over the 0.5-99.5 percentiles of the frame.
        Ignored for color images.

    Returns
    -------
    PIL.Image.Image
        Mode ``"L"`` for MONOCHROME1/MONOCHROME2 (MONOCHROME1 inverted so that low
        values are dark), mode ``"RGB"`` for RGB, YBR and PALETTE COLOR.

    Raises
    ------
    IndexError
        If `index` is not a frame of `ds`.
    ValueError
        If `window` has a negative width.

    Notes
    -----
    Grayscale rendering follows the grayscale transformation model: the Modality LUT
    (*Rescale Slope*/*Intercept* or *Modality LUT Sequence*, also from the Pixel Value
    Transformation functional group of enhanced multi-frame objects), then the VOI LUT,
    then *MONOCHROME1* (or a *Presentation LUT Shape* of INVERSE) inversion. Pixels
    flagged by *Pixel Padding Value* are left out of automatic windows.

    References
    ----------
    * DICOM Standard, Part 3, Annex C.11.1 (Modality LUT Module)
    * DICOM Standard, Part 3, Annex C.11.2 and C.11.2.1.2 (VOI LUT Module, Window Center
      and Window Width)
    * DICOM Standard, Part 3, Annex C.7.6.3.1.2 (Photometric Interpretation)
    * DICOM Standard, Part 3, Annex C.7.6.3.1.5 and C.7.9 (Palette Color Lookup Table)
    * DICOM Standard, Part 3, Annex C.11.6 (Softcopy Presentation LUT Module)
    * DICOM Standard, Part 4, Annex N.2.1 (Grayscale Transformations)
    """
    frames = frame_count(ds)
    if not 0 <= index < frames:
        raise IndexError(f"frame {index} out of range: the image has {frames} frame(s)")
    if window is not None and window[1] < 0:
        raise ValueError(f"window width must not be negative, got {window[1]}")

    arr = pixel_array(ds, index=index)
    photometric = str(ds.get("PhotometricInterpretation", "") or "MONOCHROME2").strip().upper()

    if photometric == "PALETTE COLOR":
        return Image.fromarray(_palette_to_rgb8(arr, ds), "RGB")
    if arr.ndim == 3:
        return Image.fromarray(_color_to_rgb8(arr, ds), "RGB")

    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    invert = photometric == "MONOCHROME1" or shape == "INVERSE"
    return Image.fromarray(_grayscale_to_8bit(arr, ds, index, window, invert), "L")


def png_bytes(image: Image.Image, compress_level: int = 1) -> bytes:
    """Encode `image` as PNG (lossless) with Pillow.

    Level 1 by default: a first view waits for this encode, and level 6 gives a rendered slice
    only about a tenth smaller at several times the time.
    """
    buffer = BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def thumbnail(image: Image.Image, size: int = 256) -> Image.Image:
    """Return a copy of `image` scaled to fit in a `size` x `size` box (never enlarged).

    Parameters
    ----------
    image : PIL.Image.Image
        The full-size rendering.
    size : int, optional
        The longest side of the result, in pixels (default 256).

    Returns
    -------
    PIL.Image.Image
        A new image with the aspect ratio of `image`.
    """
    if size < 1:
        raise ValueError(f"thumbnail size must be positive, got {size}")
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    return copy


# -- grayscale pipeline ---------------------------------------------------------------------


@dataclass(frozen=True)
class _VOI:
    """The VOI transformation chosen for a frame (PS3.3 C.11.2).

    `kind` is ``"window"`` (`center`, `width`, `function`), ``"lut"`` (the first item of
    the *VOI LUT Sequence*) or ``"stretch"`` (a window over `percentiles` of the frame's
    own values: the only kind that depends on the whole frame, not on each value alone).
    """

    kind: str
    center: float = 0.0
    width: float = 0.0
    function: str = "LINEAR"
    percentiles: tuple[float, float] = (0.0, 100.0)


def _grayscale_to_8bit(
    arr: np.ndarray,
    ds: Dataset,
    index: int,
    window: tuple[float, float] | None,
    invert: bool,
    *,
    lut: bool | None = None,
) -> np.ndarray:
    """Stored values -> Modality LUT -> VOI -> optional inversion, as uint8 (PS3.4 N.2.1).

    Parameters
    ----------
    arr : numpy.ndarray
        One grayscale frame of stored values, as decoded by pydicom.
    ds : pydicom.dataset.Dataset
        Its data set.
    index : int
        The frame, for per-frame functional groups.
    window : tuple of float or None
        As for :func:`render_frame`.
    invert : bool
        Invert the output (MONOCHROME1, or a *Presentation LUT Shape* of INVERSE).
    lut : bool, optional
        Go through a lookup table over every possible stored value (``True``) or compute
        on the frame's values (``False``). By default a table is used when it has no more
        entries than the frame has pixels and the VOI does not depend on the frame; both
        ways give the same result, element by element.

    Returns
    -------
    numpy.ndarray
        uint8, the shape of `arr`.

    Notes
    -----
    A frame of 512 x 512 stored values has four times as many pixels as a 16-bit value
    has values; for CT and MR, whose Modality LUT is a rescale and whose VOI is a LINEAR
    window, the table takes one ``numpy.take`` (about 0.25 ms) instead of a float32 pass
    per step, skips the padding mask that only automatic windows need, and is kept
    between calls (:func:`_window_table`).

    References
    ----------
    * DICOM Standard, Part 4, Annex N.2.1 (Grayscale Transformations)
    * DICOM Standard, Part 3, Annex C.11.1 (Modality LUT Module)
    * DICOM Standard, Part 3, Annex C.11.2.1.2 (Window Center and Window Width)
    """
    if not arr.dtype.isnative:  # big endian files: pydicom keeps their byte order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    voi = _choose_voi(ds, index, window)
    if lut is None:
        lut = voi.kind != "stretch" and _table_size(arr.dtype) <= arr.size
    if lut and _table_size(arr.dtype):
        # The table is ordered by the stored value's bit pattern read as unsigned, so that
        # the frame itself (viewed, not copied) indexes it.
        table = _lookup_table(arr.dtype, ds, index, voi, invert)
        return np.take(table, arr.view(np.dtype(f"u{arr.dtype.itemsize}")))
    out = _voi_output(_modality_transform(arr, ds, index), voi, ds, arr)
    if invert:
        np.subtract(255, out, out=out)
    return out


def _table_size(dtype: np.dtype) -> int:
    """Entries of a lookup table over every value of `dtype`: 256 or 65536, else 0 (none)."""
    return 1 << (8 * dtype.itemsize) if dtype.kind in "iu" and dtype.itemsize <= 2 else 0


def _every_value(dtype: np.dtype) -> np.ndarray:
    """Every value of an 8- or 16-bit integer `dtype`, at the index of its unsigned bit pattern."""
    return np.arange(_table_size(dtype), dtype=np.dtype(f"u{dtype.itemsize}")).view(dtype)


def _lookup_table(dtype: np.dtype, ds: Dataset, index: int, voi: _VOI, invert: bool) -> np.ndarray:
    """The uint8 output for every stored value of `dtype`, by :func:`_every_value` order.

    Computed by the same functions as the output for a frame, so the two agree exactly.
    """
    if voi.kind == "window" and not ds.get("ModalityLUTSequence"):
        slope, intercept = _rescale(ds, index)
        return _window_table(dtype.str, slope, intercept, voi.center, voi.width, voi.function, invert)
    values = _every_value(dtype)
    table = _voi_output(_modality_transform(values, ds, index), voi, ds, values)
    if invert:
        np.subtract(255, table, out=table)
    return table


@lru_cache(maxsize=32)
def _window_table(
    dtype: str, slope: float, intercept: float, center: float, width: float, function: str, invert: bool
) -> np.ndarray:
    """:func:`_lookup_table` for a rescale and a window; kept (64 KB each), read-only.

    All slices of a series usually share rescale and window, so one table serves them all.

    References
    ----------
    * DICOM Standard, Part 3, Annex C.11.1 (Modality LUT Module: Rescale Slope/Intercept)
    * DICOM Standard, Part 3, Annex C.11.2.1.2 (Window Center and Window Width)
    """
    table = _window(_rescaled(_every_value(np.dtype(dtype)), slope, intercept), center, width, function)
    if invert:
        np.subtract(255, table, out=table)
    table.flags.writeable = False
    return table


def _modality_transform(arr: np.ndarray, ds: Dataset, index: int) -> np.ndarray:
    """Stored values -> Modality LUT output, as a float32 array that may be changed in place.

    References
    ----------
    * DICOM Standard, Part 3, Annex C.11.1 (Modality LUT Module)
    * DICOM Standard, Part 3, Annex C.7.6.16.2.9 (Pixel Value Transformation Macro)
    """
    if ds.get("ModalityLUTSequence"):
        return apply_modality_lut(arr, ds).astype(np.float32)
    slope, intercept = _rescale(ds, index)
    return _rescaled(arr, slope, intercept)


def _rescaled(arr: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """``arr * slope + intercept`` in float32, always a fresh array (PS3.3 C.11.1)."""
    values = arr.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def _rescale(ds: Dataset, index: int) -> tuple[float, float]:
    source: Dataset | None = ds if "RescaleSlope" in ds or "RescaleIntercept" in ds else None
    if source is None:
        source = _functional_group(ds, index, "PixelValueTransformationSequence")
    if source is None:
        return 1.0, 0.0
    slope = _first_float(source.get("RescaleSlope"))
    intercept = _first_float(source.get("RescaleIntercept"))
    return (1.0 if slope is None or slope == 0 else slope), (intercept or 0.0)


def _choose_voi(ds: Dataset, index: int, window: tuple[float, float] | None) -> _VOI:
    """The VOI transformation for `window` (see :func:`render_frame`), PS3.3 C.11.2."""
    if window is not None:
        center, width = float(window[0]), float(window[1])
        if width == 0:
            return _VOI("stretch", percentiles=(0.0, 100.0))
        return _VOI("window", center, width, "LINEAR")

    file_window = _file_window(ds, index)
    if file_window is not None:
        center, width, function = file_window
        return _VOI("window", center, width, function)

    if ds.get("VOILUTSequence"):
        return _VOI("lut")

    return _VOI("stretch", percentiles=_AUTO_PERCENTILES)


def _voi_output(values: np.ndarray, voi: _VOI, ds: Dataset, stored: np.ndarray) -> np.ndarray:
    """Modality LUT output (float32, overwritten) -> uint8 through `voi`.

    `stored` are the stored values behind `values`, to find padding for a stretch.
    """
    if voi.kind == "window":
        return _window(values, voi.center, voi.width, voi.function)
    if voi.kind == "lut":
        return _voi_lut(values, ds)
    return _stretch(values, _unpadded_mask(stored, ds), voi.percentiles)


def _file_window(ds: Dataset, index: int) -> tuple[float, float, str] | None:
    """The first Window Center/Width pair and VOI LUT Function of the frame, if usable."""
    source: Dataset | None = ds if "WindowCenter" in ds and "WindowWidth" in ds else None
    if source is None:
        source = _functional_group(ds, index, "FrameVOILUTSequence")
    if source is None:
        return None
    center = _first_float(source.get("WindowCenter"))
    width = _first_float(source.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    function = str(source.get("VOILUTFunction", "") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    return center, width, function


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """Apply a VOI window to `values` (float32, changed in place), giving uint8 0-255.

    Parameters
    ----------
    values : numpy.ndarray
        Modality LUT output, float32; overwritten.
    center, width : float
        *Window Center* (0028,1050) and *Window Width* (0028,1051).
    function : str
        *VOI LUT Function* (0028,1056): ``"LINEAR"``, ``"LINEAR_EXACT"`` or ``"SIGMOID"``.

    Returns
    -------
    numpy.ndarray
        uint8 values, rounded half up from the continuous output.

    Notes
    -----
    With output range 0 to 255 (y_min = 0, y_max = 255):

    * LINEAR (C.11.2.1.2.1): y = 0 if x <= c - 0.5 - (w - 1) / 2, y = 255 if
      x > c - 0.5 + (w - 1) / 2, else y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.
      The pieces join, so this is the middle expression clipped to 0-255; for w <= 1 it
      is a threshold at c - 0.5.
    * LINEAR_EXACT (C.11.2.1.3.2): y = ((x - c) / w + 0.5) * 255, clipped.
    * SIGMOID (C.11.2.1.3.1): y = 255 / (1 + exp(-4 (x - c) / w)).

    References
    ----------
    * DICOM Standard, Part 3, Annex C.11.2.1.2 (Window Center and Window Width)
    * DICOM Standard, Part 3, Annex C.11.2.1.3 (VOI LUT Function)
    """
    if function == "SIGMOID":
        with np.errstate(over="ignore"):
            values -= np.float32(center)
            values *= np.float32(-4.0 / width)
            np.exp(values, out=values)
            values += np.float32(1.0)
            np.divide(np.float32(1.0), values, out=values)
    elif function == "LINEAR_EXACT":
        values -= np.float32(center)
        values *= np.float32(1.0 / width)
        values += np.float32(0.5)
    elif width <= 1:
        return np.where(values <= center - 0.5, 0, 255).astype(np.uint8)
    else:
        values -= np.float32(center - 0.5)
        values *= np.float32(1.0 / (width - 1))
        values += np.float32(0.5)
    np.clip(values, 0.0, 1.0, out=values)
    values *= np.float32(255.0)
    values += np.float32(0.5)
    return values.astype(np.uint8)


def _stretch(values: np.ndarray, mask: np.ndarray | None, percentiles: tuple[float, float]) -> np.ndarray:
    """Window over the given percentiles of the frame (padding and non-finite values left out)."""
    window = _stretch_window(values, mask, percentiles)
    if window is None:
        return np.zeros(values.shape, dtype=np.uint8)
    return _window(values, window[0], window[1], "LINEAR_EXACT")


def _stretch_window(
    values: np.ndarray, mask: np.ndarray | None, percentiles: tuple[float, float]
) -> tuple[float, float] | None:
    """The LINEAR_EXACT (center, width) of :func:`_stretch`, or None when no value counts."""
    sample = values[mask] if mask is not None else values.ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size > _AUTO_SAMPLE_LIMIT:
        sample = sample[:: sample.size // _AUTO_SAMPLE_LIMIT + 1]
    if sample.size == 0:
        return None
    low, high = (float(v) for v in np.percentile(sample, percentiles))
    if high <= low:
        high = low + 1.0
    return (low + high) / 2.0, high - low


def _voi_lut(values: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply the first item of the *VOI LUT Sequence* (PS3.3 C.11.2.1.1), scaled to 0-255.

    The output is scaled over the LUT's actual value range rather than its nominal bit
    depth, because LUTs whose data use fewer bits than the descriptor says are common.
    """
    descriptor = [int(v) for v in ds.VOILUTSequence[0].LUTDescriptor]
    entries = descriptor[0] or 2**16
    first = descriptor[1]
    table = apply_voi(np.arange(first, first + entries, dtype=np.int64), ds).astype(np.float32)
    low, high = float(table.min()), float(table.max())
    if high <= low:
        high = low + 1.0
    table -= np.float32(low)
    table *= np.float32(255.0 / (high - low))
    table += np.float32(0.5)
    lut8 = table.astype(np.uint8)
    positions = np.clip(np.rint(values), first, first + entries - 1).astype(np.int64) - first
    return lut8[positions]


def _unpadded_mask(arr: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """Pixels that are not padding (PS3.3 C.7.5.1.1.2), or None if nothing is padding."""
    padding = _first_float(ds.get("PixelPaddingValue"))
    if padding is None:
        return None
    limit = _first_float(ds.get("PixelPaddingRangeLimit"))
    if limit is None:
        mask = arr != padding
    else:
        low, high = sorted((padding, limit))
        mask = (arr < low) | (arr > high)
    return mask if not mask.all() else None


# -- values for a client that windows them itself --------------------------------------------


@dataclass(frozen=True)
class FrameValues:
    """One grayscale frame as Modality LUT output, and the windows that reproduce its renders.

    `windows` maps each preset name to ``(center, width, function)``, which applied to `values`
    by :func:`_window`'s arithmetic (in float32) gives the same 8-bit picture as
    :func:`render_frame` with that preset; ``None`` where no window does (a *VOI LUT
    Sequence*, or a frame with no finite value). `invert` is MONOCHROME1's inversion.
    """

    values: np.ndarray
    windows: dict[str, tuple[float, float, str] | None]
    invert: bool


def frame_values(
    ds: Dataset, index: int, presets: dict[str, tuple[float, float] | None]
) -> FrameValues | None:
    """The Modality LUT output of one grayscale frame, for a viewer that windows in the browser.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A data set whose pixel data can be decoded.
    index : int
        The frame, starting at 0.
    presets : dict
        Preset name -> window, as :func:`presets_for` gives them.

    Returns
    -------
    FrameValues or None
        Values as int16 where every one is a whole number in int16's range (CT and most MR),
        else float32; None for color images (RGB, YBR, PALETTE COLOR), which have no window.

    Raises
    ------
    IndexError
        If `index` is not a frame of `ds`.

    References
    ----------
    * DICOM Standard, Part 4, Annex N.2.1 (Grayscale Transformations)
    * DICOM Standard, Part 3, Annex C.11.1 and C.11.2 (Modality LUT and VOI LUT Modules)
    """
    frames = frame_count(ds)
    if not 0 <= index < frames:
        raise IndexError(f"frame {index} out of range: the image has {frames} frame(s)")
    photometric = str(ds.get("PhotometricInterpretation", "") or "MONOCHROME2").strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return None
    arr = pixel_array(ds, index=index)
    if arr.ndim != 2:
        return None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    values = _modality_transform(arr, ds, index)
    windows = {name: _client_window(values, arr, ds, index, window) for name, window in presets.items()}
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    return FrameValues(_compact(values), windows, photometric == "MONOCHROME1" or shape == "INVERSE")


def _client_window(
    values: np.ndarray, stored: np.ndarray, ds: Dataset, index: int, window: tuple[float, float] | None
) -> tuple[float, float, str] | None:
    """The window :func:`_grayscale_to_8bit` applies for `window`, as (center, width, function)."""
    voi = _choose_voi(ds, index, window)
    if voi.kind == "window":
        return voi.center, voi.width, voi.function
    if voi.kind == "stretch":
        found = _stretch_window(values, _unpadded_mask(stored, ds), voi.percentiles)
        return None if found is None else (found[0], found[1], "LINEAR_EXACT")
    return None


def _compact(values: np.ndarray) -> np.ndarray:
    """`values` (float32) as int16 when that loses nothing, else as they are."""
    if values.size and np.isfinite(values).all():
        low, high = float(values.min()), float(values.max())
        if low >= -32768 and high <= 32767 and np.array_equal(values, np.rint(values)):
            return values.astype(np.int16)
    return values


# -- color ----------------------------------------------------------------------------------


def _color_to_rgb8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """RGB (YBR already converted by pydicom) at any bit depth -> uint8 RGB."""
    if arr.dtype == np.uint8:
        return arr
    bits = int(ds.get("BitsStored") or 8)
    scale = 255.0 / (2**bits - 1)
    out = arr.astype(np.float32) * np.float32(scale) + np.float32(0.5)
    return np.clip(out, 0, 255).astype(np.uint8)


def _palette_to_rgb8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Expand PALETTE COLOR through its lookup tables (PS3.3 C.7.6.3.1.5) -> uint8 RGB."""
    rgb = apply_color_lut(arr, ds)[..., :3]
    if rgb.dtype == np.uint8:
        return rgb
    # 16-bit entries; some writers declare 16 bits but store 8-bit values.
    divisor = 257.0 if int(rgb.max(initial=0)) > 255 else 1.0
    return np.clip(rgb.astype(np.float32) / np.float32(divisor) + np.float32(0.5), 0, 255).astype(np.uint8)


# -- helpers --------------------------------------------------------------------------------


def _functional_group(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The item of functional group `keyword` for frame `index` (PS3.3 C.7.6.16)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and index < len(per_frame):
        group = per_frame[index].get(keyword)
        if group:
            return group[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        group = shared[0].get(keyword)
        if group:
            return group[0]
    return None


def _first_float(value: object) -> float | None:
    """The first value of a possibly multi-valued numeric element, if finite."""
    if value is None or value == "":
        return None
    if not isinstance(value, str | bytes) and hasattr(value, "__getitem__"):
        if len(value) == 0:  # type: ignore[arg-type]
            return None
        value = value[0]  # type: ignore[index]
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
