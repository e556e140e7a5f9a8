"""“Point to the lesion” as a resident meets it: which of a case's localisation questions are asked, and
the server's mark of a click. The targets stay here until the click is marked (``quiz/localisation.py``
does the geometry).
"""

from dataclasses import dataclass

from django.db.models import Prefetch
from django.urls import reverse

from cases.models import Case
from imaging.case_images import FLAGGED_ON_PUBLISHED_CASE
from imaging.models import Image
from quiz.localisation import Click, ClickError, check_click_inside, click_hits
from quiz.models import LesionTarget, LocalisationQuestion


def askable_localisations(case: Case) -> list[LocalisationQuestion]:
    """The case's localisation questions that can be answered: at least one target, on an image of the
    question's own series, which must be a series of this case. Three queries (none past the first when
    the case has none), whatever their number: the series' images come along to mark and show clicks."""
    # An image whose burned-in text flag no editor has cleared is not shown on a published case, so it is
    # neither clicked nor drawn with its targets.
    targets = (
        LesionTarget.objects.select_related("image")
        .exclude(image__in=Image.objects.filter(FLAGGED_ON_PUBLISHED_CASE))
        .order_by("image__order", "image_id", "frame", "pk")
    )
    images = Image.objects.exclude(FLAGGED_ON_PUBLISHED_CASE).only(
        "pk", "series_id", "rows", "columns", "frame_count", "order"
    )
    questions = (
        LocalisationQuestion.objects.filter(case=case, series__study__case=case)
        .select_related("series")
        .prefetch_related(Prefetch("targets", queryset=targets), Prefetch("series__images", queryset=images))
        .order_by("order", "pk")
    )
    return [
        question
        for question in questions
        if any(target.image.series_id == question.series_id for target in question.targets.all())
    ]


def series_image(question: LocalisationQuestion, image_id: int) -> Image | None:
    """The image of that id in the question's series (prefetched by :func:`askable_localisations`)."""
    return next((image for image in question.series.images.all() if image.pk == image_id), None)


def next_localisation(questions: list[LocalisationQuestion], marks: dict) -> LocalisationQuestion | None:
    return next((question for question in questions if str(question.pk) not in marks), None)


@dataclass(frozen=True)
class LocalisationMark:
    click: Click
    hit: bool

    def as_record(self) -> dict:
        """As kept on the attempt (``QuizAttempt.localisation_marks``)."""
        click = self.click
        return {"image": click.image_id, "frame": click.frame, "x": click.x, "y": click.y, "hit": self.hit}


def mark_click(question: LocalisationQuestion, click: Click) -> LocalisationMark:
    """Hit or miss for a click on an image of the question's series; raises :class:`ClickError` for a
    click on an image of another series, on a frame it lacks, or outside its pixels."""
    image = series_image(question, click.image_id)
    if image is None:
        raise ClickError("The click is not on an image of this question's series.")
    check_click_inside(click, columns=image.columns, rows=image.rows, frame_count=image.frame_count)
    return LocalisationMark(click, click_hits(click, question.targets.all(), columns=image.columns))


@dataclass(frozen=True)
class TargetFigure:
    """One frame of the answer: the frame's picture, the targets drawn on it and the resident's click if
    it was on this frame, all in the frame's pixels (the SVG's viewBox)."""

    src: str
    width: int
    height: int
    targets: list[LesionTarget]
    click: dict | None
    slice_number: int  # the frame's place in the series' stack, from 1, as the viewer counts

    @property
    def marker_radius(self) -> float:
        return max(self.width, self.height) / 60

    @property
    def stroke(self) -> float:
        return max(self.width, self.height) / 200


def answer_figures(question: LocalisationQuestion, answer: dict, preset: str) -> list[TargetFigure]:
    """The frames to show once the click is marked: each frame that has a target, and the frame clicked
    (a miss on a frame without targets is shown too, with where the resident clicked)."""
    frames: dict[tuple[int, int], list[LesionTarget]] = {}
    images: dict[int, Image] = {}
    for target in question.targets.all():
        frames.setdefault((target.image_id, target.frame), []).append(target)
        images[target.image_id] = target.image
    clicked = (answer["image"], answer["frame"])
    if clicked not in frames:
        image = series_image(question, answer["image"])
        if image is not None:
            images[image.pk] = image
            frames = {clicked: [], **frames}
    slice_numbers, number = {}, 0
    for image in question.series.images.all():
        for frame in range(image.frame_count):
            number += 1
            slice_numbers[(image.pk, frame)] = number
    figures = []
    for (image_id, frame), targets in frames.items():
        image = images[image_id]
        figures.append(
            TargetFigure(
                src=reverse("image_frame", args=[image_id, preset, frame]),
                width=image.columns,
                height=image.rows,
                targets=targets,
                click=answer if (image_id, frame) == clicked else None,
                slice_number=slice_numbers.get((image_id, frame), frame + 1),
            )
        )
    return figures
