"""The image tree a case page shows, prefetched with the case, and the key image a case card shows
(both registered in ``cases.extensions`` by ``imaging/apps.py``)."""

from dataclasses import dataclass
from itertools import groupby

from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery
from django.urls import reverse

from cases.models import Case
from imaging.models import Image, Series, Study
from imaging.rendering import presets_of
from imaging.stacks import teaching_slice_index

# A published case never shows an image whose burned-in text flag no editor has cleared, whoever
# added it; its draft and the admin still do, for its author and editors to review.
FLAGGED_ON_PUBLISHED_CASE = Q(
    needs_review=True, reviewed_at__isnull=True, series__study__case__status="published"
)
# A card is for browsing, not for review: it never shows a flagged image, whatever the case's state.
FLAGGED = Q(needs_review=True, reviewed_at__isnull=True)


def image_tree_prefetch() -> Prefetch:
    """Studies → series → images (without their de-identification report, which no page shows) → arrows,
    one query per level."""
    images = (
        Image.objects.exclude(FLAGGED_ON_PUBLISHED_CASE).defer("deid_report").prefetch_related("annotations")
    )
    series = Series.objects.prefetch_related(Prefetch("images", queryset=images))
    return Prefetch("studies", queryset=Study.objects.prefetch_related(Prefetch("series", queryset=series)))


@dataclass(frozen=True)
class KeyImage:
    """The frame a case card shows: ids, a frame number and a window name only, nothing a resident reads;
    and whether it is a sample image (not from this patient), which the card says as the viewer does."""

    image: int
    frame: int
    preset: str
    modality: str
    is_sample: bool = False

    @property
    def url(self) -> str:
        return reverse("image_frame_thumbnail", args=[self.image, self.preset, self.frame])


def _key_image(images: list[Image]) -> KeyImage:
    """The teaching view's frame of one series (``images`` in order), as its viewer opens it."""
    series = images[0].series
    start = teaching_slice_index(series, sum(image.frame_count for image in images))
    presets = list(presets_of(images[0]))
    preset = series.teaching_preset if series.teaching_preset in presets else presets[0]
    for image in images:
        if start < image.frame_count:
            return KeyImage(image.pk, start, preset, series.study.get_modality_display(), series.is_sample)
        start -= image.frame_count
    raise AssertionError("teaching_slice_index is within the series")


def key_images_attach(cases: list[Case]) -> None:
    """Set ``case.key_image`` on each case: the teaching view's frame of its first series that has an
    image a card may show, else None. One query for any number of cases."""
    for case in cases:
        case.key_image = None
    if not cases:
        return
    shown = Image.objects.exclude(FLAGGED)
    first_series = (
        Series.objects.filter(study__case=OuterRef("pk"))
        .filter(Exists(shown.filter(series=OuterRef("pk"))))
        .order_by("study__order", "study__pk", "order", "pk")
        .values("pk")[:1]
    )
    key_series = Case.objects.filter(pk__in=[case.pk for case in cases]).values(key=Subquery(first_series))
    images = (
        shown.filter(series__in=key_series)
        .select_related("series__study")
        .only(
            "kind",
            "modality",
            "frame_count",
            "series",
            "series__teaching_slice",
            "series__teaching_preset",
            "series__is_sample",
            "series__study",
            "series__study__case",
            "series__study__modality",
        )
        .order_by("series_id", "order", "pk")
    )
    by_case = {case.pk: case for case in cases}
    for _, rows in groupby(images, key=lambda image: image.series_id):
        rows = list(rows)
        by_case[rows[0].series.study.case_id].key_image = _key_image(rows)
