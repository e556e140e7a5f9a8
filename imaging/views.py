"""Image bytes go out only through these views, after the same visibility check as the case page.

Media of a draft must not be reachable by anyone who may not see the draft, so stored files are
never served from MEDIA_URL directly. An image whose burned-in text flag is not cleared is served
only to those who may review it (``cases.rules.may_see_flagged_image``), whatever the case's state.
"""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from cases import rules
from cases.models import Case
from imaging.models import Image
from imaging.preset_fallback import preset_for
from imaging.rendering import (
    FrameUnavailable,
    UnknownPreset,
    frame_png,
    frame_thumbnail_png,
    thumbnail_png,
    unavailable_png,
)


def _visible_image(request, pk: int) -> Image:
    visible_cases = Case.objects.visible_to(request.user).values("pk")
    image = get_object_or_404(
        Image.objects.select_related("series__study__case"), pk=pk, series__study__case__in=visible_cases
    )
    if image.is_flagged and not rules.may_see_flagged_image(request.user, image.series.study.case):
        raise Http404("No such image.")  # as for an image of a case the user may not see
    return image


def _png_response(content: bytes, image: Image) -> HttpResponse:
    response = HttpResponse(content, content_type="image/png")
    # Renders never change for an image id; a published case's images may be cached by the browser.
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _unavailable_response(error: FrameUnavailable) -> HttpResponse:
    """422 with an image saying why: the viewer's <img> shows it, a client sees the error status.

    Not cached by the browser: the server remembers the failure, and answers it at no cost.
    """
    response = HttpResponse(unavailable_png(error.reason), content_type="image/png", status=422)
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _frame_response(request, pk: int, preset: str, index: int, render) -> HttpResponse:
    image = _visible_image(request, pk)
    try:
        return _png_response(render(image, index, preset_for(image, preset)), image)
    except (UnknownPreset, IndexError) as error:
        raise Http404("No such frame or preset.") from error
    except FrameUnavailable as error:
        return _unavailable_response(error)


def frame(request, pk: int, preset: str, index: int):
    return _frame_response(request, pk, preset, index, frame_png)


def frame_thumbnail(request, pk: int, preset: str, index: int):
    """The viewer's first image: a small copy of a frame, answered exactly like the frame itself."""
    return _frame_response(request, pk, preset, index, frame_thumbnail_png)


def thumbnail(request, pk: int):
    image = _visible_image(request, pk)
    try:
        return _png_response(thumbnail_png(image), image)
    except FrameUnavailable as error:
        return _unavailable_response(error)
