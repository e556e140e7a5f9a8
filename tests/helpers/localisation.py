"""Localisation questions ("point to the lesion") for tests: a series to click on, targets made through
the ORM after ``validate_target``, and a click posted as the browser's script would (no tests here)."""

import re

from django.test import Client

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Image, Series
from imaging.services import images_ingest, series_create
from quiz.localisation import validate_lesion_target
from quiz.models import LesionTarget, LocalisationQuestion

MR_SMALL = "MR_small.dcm"  # 64 x 64, one frame
RTDOSE = "rtdose.dcm"  # several frames


def series_with_images(case: Case, *names: str, label: str = "Axial T2", modality: str = "MR") -> Series:
    series = series_create(case=case, label=label, modality=modality)
    files = [
        InputFile(f"{index}-{name}", (SAMPLE_DIR / name).read_bytes()) for index, name in enumerate(names)
    ]
    result = images_ingest(series=series, files=files)
    assert not result.rejected, result.outcomes
    return series


def images_of(series: Series) -> list[Image]:
    return list(series.images.order_by("order", "pk"))


def add_localisation(
    case: Case, series: Series, *targets: dict, prompt: str = "Click the abnormality", order: int = 1
) -> LocalisationQuestion:
    """A question with its targets, each a dict of LesionTarget fields (``image`` an Image)."""
    question = LocalisationQuestion.objects.create(case=case, series=series, prompt=prompt, order=order)
    for fields in targets:
        target = LesionTarget(question=question, **fields)
        validate_lesion_target(target)
        target.save()
    return question


def polygon(image: Image, points, frame: int = 0) -> dict:
    return {"image": image, "frame": frame, "shape": "polygon", "points": [list(point) for point in points]}


def ellipse(image: Image, cx, cy, rx, ry, rotation: float = 0, frame: int = 0) -> dict:
    return {
        "image": image,
        "frame": frame,
        "shape": "ellipse",
        "center_x": cx,
        "center_y": cy,
        "radius_x": rx,
        "radius_y": ry,
        "rotation": rotation,
    }


def attempt_token(html: str) -> str:
    return re.search(r'name="attempt" value="([^"]+)"', html).group(1)


def click(client: Client, url: str, *, image: Image, x: float, y: float, frame: int = 0):
    """Post a click on a localisation page (``url`` with its ``?attempt=``), as localise.js does."""
    token = url.split("attempt=")[1]
    return client.post(
        url.split("?")[0], {"attempt": token, "image": image.pk, "frame": frame, "x": x, "y": y}
    )
