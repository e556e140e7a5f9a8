"""The image tree a case page shows, prefetched with the case (``cases.extensions``)."""

from django.db.models import Prefetch, Q

from imaging.models import Image, Series, Study

# A published case never shows an image whose burned-in text flag no editor has cleared, whoever
# added it; its draft and the admin still do, for its author and editors to review.
FLAGGED_ON_PUBLISHED_CASE = Q(
    needs_review=True, reviewed_at__isnull=True, series__study__case__status="published"
)


def image_tree_prefetch() -> Prefetch:
    """Studies → series → images (without their de-identification report, which no page shows) → arrows,
    one query per level."""
    images = (
        Image.objects.exclude(FLAGGED_ON_PUBLISHED_CASE).defer("deid_report").prefetch_related("annotations")
    )
    series = Series.objects.prefetch_related(Prefetch("images", queryset=images))
    return Prefetch("studies", queryset=Study.objects.prefetch_related(Prefetch("series", queryset=series)))
