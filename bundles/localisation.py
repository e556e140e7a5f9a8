"""A series' localisation questions (“point to the lesion”) and their targets in a bundle: written inside
the series record that they are asked on, and read back once that series' images are imported.

A target names its image by its place in the series' ``images`` list of the bundle (from 1), the
bundle's own identity of an image, as an arrow belongs to the image record it sits in: the database
keys of the exporting archive mean nothing after an import. Its coordinates are in that image's
pixels, which the import keeps (the ingest re-encodes but never resizes). Each target is checked with
``quiz.localisation.validate_target`` against the image it lands on. Older bundles have no such key.
"""

from django.core.exceptions import ValidationError

from bundles.records import RecordError, checked, record, record_list, values_of
from imaging.models import Image, Series
from quiz.localisation import validate_lesion_target
from quiz.models import LesionTarget, LocalisationQuestion

QUESTION_FIELDS = ["prompt", "order"]
TARGET_FIELDS = ["frame", "shape", "center_x", "center_y", "radius_x", "radius_y", "rotation"]
QUESTION_KEYS = {*QUESTION_FIELDS, "targets"}
TARGET_KEYS = {*TARGET_FIELDS, "image", "points"}


def localisation_to_dict(series: Series, images: list[Image]) -> list[dict]:
    """The series' localisation questions; `images` in the order the series record lists them."""
    place = {image.pk: number for number, image in enumerate(images, start=1)}
    return [
        {
            "prompt": question.prompt,
            "order": question.order,
            "targets": [
                {
                    "image": place[target.image_id],
                    "points": target.points,
                    **{name: getattr(target, name) for name in TARGET_FIELDS},
                }
                for target in question.targets.all()
                if target.image_id in place  # a target on another series' image is not asked either
            ],
        }
        for question in series.localisation_questions.all()
    ]


def localisation_create(data: dict, *, series: Series, images: list[Image], where: str) -> None:
    """The localisation questions of the series record `data`, on the imported `images` (in the
    record's order). Raises :class:`RecordError` naming the question and target."""
    for index, item in enumerate(record_list(data, "localisation_questions", where), start=1):
        item_where = f"{where}, localisation question {index}"
        item = record(item, item_where, QUESTION_KEYS)
        question = LocalisationQuestion(
            case=series.study.case,
            series=series,
            **values_of(item, LocalisationQuestion, QUESTION_FIELDS, item_where),
        )
        checked(question, item_where).save()
        for number, target_data in enumerate(record_list(item, "targets", item_where), start=1):
            _target_create(
                target_data, question=question, images=images, where=f"{item_where}, target {number}"
            )


def _target_create(data, *, question: LocalisationQuestion, images: list[Image], where: str) -> None:
    data = record(data, where, TARGET_KEYS)
    place = data.get("image")
    if isinstance(place, bool) or not isinstance(place, int) or not 1 <= place <= len(images):
        raise RecordError(f"{where}: image {place!r} is not one of the series' {len(images)} image(s)")
    target = LesionTarget(
        question=question,
        image=images[place - 1],
        points=data.get("points", []),
        **values_of(data, LesionTarget, TARGET_FIELDS, where),
    )
    try:
        validate_lesion_target(target)
    except ValidationError as error:
        problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
        raise RecordError(f"{where}: {problems}") from error
    checked(target, where).save()
