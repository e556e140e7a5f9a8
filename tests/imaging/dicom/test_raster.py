"""PNG/JPEG uploads: only real images, size-checked before decoding, re-encoded without metadata."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

import numpy as np
import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from imaging.dicom.errors import RejectedFile
from imaging.raster import read_raster, reencode_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def noise(mode: str, size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"L": 1, "RGB": 3, "RGBA": 4, "LA": 2}[mode]
    shape = (size[1], size[0]) if channels == 1 else (size[1], size[0], channels)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG header that declares a huge 1-bit image."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def rejection(data: bytes, name: str = "upload.png", **kwargs) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        read_raster(data, name=name, **kwargs)
    assert info.value.name == name
    return info.value


def test_png_is_read_with_its_pixels():
    source = noise("RGB", (60, 40))
    image = read_raster(encode(source, "PNG"), name="key.png")
    assert (image.mode, image.size) == ("RGB", (60, 40))
    np.testing.assert_array_equal(np.asarray(image), np.asarray(source))


def test_grayscale_jpeg_stays_grayscale():
    image = read_raster(encode(noise("L", (64, 48)), "JPEG", quality=90), name="film.jpg")
    assert (image.mode, image.size) == ("L", (64, 48))


def test_html_named_png_is_refused():
    err = rejection(b"<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>")
    assert "HTML" in err.reason


def test_svg_named_png_is_refused():
    err = rejection(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    assert "SVG" in err.reason


def test_html_behind_a_png_signature_is_refused():
    err = rejection(PNG_SIGNATURE + b"<html><body>not really an image</body></html>")
    assert "PNG" in err.reason


def test_other_image_formats_are_refused():
    err = rejection(encode(noise("RGB", (8, 8)), "GIF"), name="anim.png")
    assert err.reason == "not a PNG or JPEG image"


def test_empty_upload_is_refused():
    assert rejection(b"").reason == "the file is empty"


def test_png_decompression_bomb_header_is_refused_before_decoding():
    before = Image.MAX_IMAGE_PIXELS
    err = rejection(png_declaring(100_000, 100_000), name="bomb.png")
    assert "too large" in err.reason
    assert before == Image.MAX_IMAGE_PIXELS  # the process-wide limit is left alone


def test_png_over_our_limit_but_under_pillows_is_refused():
    # 8000 x 8000 = 64 million pixels: below Pillow's own warning threshold (~89 million),
    # above this module's default of 50 million. A real 1-bit PNG, a few kilobytes.
    data = encode(Image.new("1", (8000, 8000)), "PNG")
    assert len(data) < 100_000
    err = rejection(data)
    assert err.reason.startswith("the image is too large: 8000 x 8000")


def test_max_pixels_is_inclusive():
    data = encode(noise("L", (100, 100)), "PNG")
    assert read_raster(data, name="a.png", max_pixels=10_000).size == (100, 100)
    assert "too large" in rejection(data, max_pixels=9_999).reason


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(fmt):
    data = encode(noise("RGB", (200, 200)), fmt)
    err = rejection(data[: len(data) // 2], name=f"cut.{fmt.lower()}")
    assert "truncated" in err.reason
    assert fmt in err.reason


def test_jpeg_exif_and_comment_are_stripped():
    exif = Image.Exif()
    exif[0x010E] = "Patient: John Q Public, MRN 1234567"  # ImageDescription
    exif[0x013B] = "Dr Jane Roe"  # Artist
    data = encode(noise("RGB", (64, 64)), "JPEG", exif=exif.tobytes(), comment=b"Jefferson General Hospital")
    assert b"John Q Public" in data and b"Jefferson General" in data

    image = read_raster(data, name="photo.jpg")
    clean = reencode_png(image)
    for secret in (b"John Q Public", b"1234567", b"Jane Roe", b"Jefferson"):
        assert secret not in clean
    for chunk_type in (b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"iCCP"):
        assert chunk_type not in clean
    reopened = Image.open(BytesIO(clean))
    assert "exif" not in reopened.info and "comment" not in reopened.info
    np.testing.assert_array_equal(np.asarray(reopened), np.asarray(image))


def test_png_text_and_icc_profile_are_stripped():
    info = PngInfo()
    info.add_text("Author", "Dr Who, St Elsewhere Hospital")
    info.add_itxt("Description", "Patient Mary Major, born 1950")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(noise("RGB", (32, 32)), "PNG", pnginfo=info, icc_profile=icc)
    assert b"St Elsewhere" in data and b"iCCP" in data

    clean = reencode_png(read_raster(data, name="diagram.png"))
    assert b"St Elsewhere" not in clean and b"Mary Major" not in clean
    assert b"iCCP" not in clean and b"tEXt" not in clean and b"iTXt" not in clean
    assert Image.open(BytesIO(clean)).info.get("icc_profile") is None


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(noise("RGB", (40, 20)), "JPEG", exif=exif.tobytes())
    assert read_raster(data, name="phone.jpg").size == (20, 40)


def test_transparency_is_flattened_on_black():
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., :3] = 200
    rgba[:5, :, 3] = 0  # top half fully transparent
    rgba[5:, :, 3] = 255
    image = read_raster(encode(Image.fromarray(rgba, "RGBA"), "PNG"), name="overlay.png")
    assert image.mode == "RGB"
    arr = np.asarray(image)
    assert (arr[:5] == 0).all() and (arr[5:] == 200).all()


def test_grey_with_alpha_becomes_l():
    image = read_raster(encode(noise("LA", (10, 10)), "PNG"), name="la.png")
    assert image.mode == "L"


def test_palette_png_becomes_rgb():
    image = read_raster(encode(noise("RGB", (16, 16)).convert("P"), "PNG"), name="p.png")
    assert image.mode == "RGB"


def test_16_bit_grey_png_is_scaled_not_clipped():
    values = np.array([[0, 32768, 65535, 1000]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")  # mode I;16
    image = read_raster(data, name="16bit.png")
    assert image.mode == "L"
    assert np.asarray(image).tolist() == [[0, 128, 255, 4]]


def test_reencode_normalises_other_modes():
    clean = reencode_png(noise("RGBA", (8, 8)))
    assert Image.open(BytesIO(clean)).mode == "RGB"
