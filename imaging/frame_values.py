"""A frame's stored values, lossless, for the viewer to window in the browser.

A browser reduces a 16-bit PNG to 8 bits wherever it draws it, so the viewer gets the Modality LUT
output of a grayscale frame as raw little-endian numbers instead: int16 where they fit, else float32.
What it needs to read and window them is one JSON response header, ``X-Frame``::

    {"width": 512, "height": 512, "type": "int16", "invert": false,
     "windows": {"default": [40.0, 100.0, "LINEAR"], "bone": [400.0, 1800.0, "LINEAR"], ...}}

``windows`` holds, for each preset of the image, the (center, width, VOI LUT function) that gives
the same picture as the server's PNG of that preset, or null where only the PNG can (a VOI LUT
Sequence). Numbers and preset names only: no label, caption or header text.

Answered exactly like the PNG frames: after the case page's visibility check, with the same
Cache-Control, and made once, then kept in storage beside the renders (gzip-compressed, which
halves a CT slice, and sent as is to any client that accepts gzip). Color images and raster uploads
have no values to window: 404, and the viewer keeps to the PNGs for them.
"""

import gzip
import json

import numpy as np
import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.utils.cache import patch_vary_headers

from imaging.dicom.render import frame_values
from imaging.models import Image
from imaging.rendering import presets_of, render_path, stored_bytes
from imaging.views import _visible_image

VALUE_TYPES = {np.dtype(np.int16): "int16", np.dtype(np.float32): "float32"}


def _payload(image: Image, index: int) -> tuple[dict | None, bytes]:
    """(The X-Frame header as a dict, gzipped values), or (None, b"") for an image with no values."""
    if image.kind != Image.Kind.DICOM:
        return None, b""
    with image.file.open("rb") as stored:
        dataset = pydicom.dcmread(stored)
    found = frame_values(dataset, index, presets_of(image))
    if found is None:
        return None, b""
    info = {
        "width": int(found.values.shape[1]),
        "height": int(found.values.shape[0]),
        "type": VALUE_TYPES[found.values.dtype],
        "invert": found.invert,
        "windows": found.windows,
    }
    data = found.values.astype(found.values.dtype.newbyteorder("<")).tobytes()
    return info, gzip.compress(data, compresslevel=1, mtime=0)


def _cached_payload(image: Image, index: int) -> tuple[dict | None, bytes]:
    """Kept in storage as one file: the header's JSON, a newline, the gzipped values."""
    path = render_path(image.pk, f"values-{index}.bin")
    stored = stored_bytes(path)
    if stored is not None:
        head, _, body = stored.partition(b"\n")
        return json.loads(head), body
    info, body = _payload(image, index)
    if not default_storage.exists(path):  # another worker may have made it meanwhile
        default_storage.save(path, ContentFile(json.dumps(info).encode() + b"\n" + body))
    return info, body


def frame_values_view(request, pk: int, index: int) -> HttpResponse:
    image = _visible_image(request, pk)
    if not 0 <= index < image.frame_count:
        raise Http404("No such frame.")
    info, body = _cached_payload(image, index)
    if info is None:
        raise Http404("This image has no grayscale values to window (a color image or a PNG/JPEG upload).")
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(
        body if accepts_gzip else gzip.decompress(body), content_type="application/octet-stream"
    )
    # As the PNG frames (imaging.views): values never change for an image id.
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame"] = json.dumps(info, separators=(",", ":"))
    if accepts_gzip:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
