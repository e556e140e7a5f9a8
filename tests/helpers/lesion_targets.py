"""The image page's target rows as the drawing board posts them, for tests (this module holds no tests;
``tests.helpers.localisation`` makes questions and targets through the ORM)."""

import json

from cases.models import Case
from imaging.models import Image
from quiz.models import LocalisationQuestion
from tests.helpers.authoring import add_image
from tests.helpers.viewer import image_page_inlines

PREFIX = "lesion_targets"


def image_url(image: Image) -> str:
    return f"/admin/imaging/image/{image.pk}/change/"


def first_image(case: Case) -> Image:
    return Image.objects.filter(series__study__case=case).order_by("pk").first()


def question_on(case: Case, *, prompt: str = "Click the abnormality", label: str | None = None):
    """A localisation question of `case` on the series of its first image (or a new series `label`)."""
    if label is not None:
        add_image(case, label=label)
        image = Image.objects.filter(series__study__case=case, series__label=label).get()
    else:
        image = first_image(case)
    question = LocalisationQuestion.objects.create(case=case, series=image.series, prompt=prompt)
    return question, image


def polygon_row(points, *, question=None, frame: int = 1, prompt: str = "") -> dict:
    return {
        "question": str(question.pk) if question else "",
        "prompt": prompt,
        "frame": str(frame),
        "shape": "polygon",
        "points": json.dumps(points),
    }


def ellipse_row(center, radii, rotation=0, *, question=None, frame: int = 1, prompt: str = "") -> dict:
    return {
        "question": str(question.pk) if question else "",
        "prompt": prompt,
        "frame": str(frame),
        "shape": "ellipse",
        "center_x": str(center[0]),
        "center_y": str(center[1]),
        "radius_x": str(radii[0]),
        "radius_y": str(radii[1]),
        "rotation": str(rotation),
    }


def target_rows(image: Image, rows: list[dict]) -> dict:
    """The image page's POST data with `rows` as new target rows (and no arrows)."""
    data = {
        "caption": image.caption,
        "order": str(image.order),
        **image_page_inlines(lesion_targets=len(rows)),
    }
    for index, row in enumerate(rows):
        data |= {f"{PREFIX}-{index}-{name}": value for name, value in row.items()}
        data[f"{PREFIX}-{index}-image"] = str(image.pk)
    return data
