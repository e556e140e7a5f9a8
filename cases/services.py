"""Writes to cases: keyword-only, typed, atomic."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from cases.models import Case
from imaging.models import Image


class PublishBlocked(Exception):
    def __init__(self, blockers: list[str]):
        self.blockers = blockers
        super().__init__("Cannot publish: " + "; ".join(blockers))


def publish_blockers(case: Case) -> list[str]:
    """What stands between this case and publication, in words an author can act on."""
    blockers = []
    flagged = Image.objects.filter(
        series__study__case=case, needs_review=True, reviewed_at__isnull=True
    ).count()
    if flagged:
        blockers.append(
            f"{flagged} image(s) may carry burned-in patient text: an editor must look and clear the flag"
        )
    return blockers


@transaction.atomic
def case_publish(*, case: Case, by) -> Case:
    if not by.has_perm("cases.publish_case"):
        raise PermissionDenied("Only editors may publish cases.")
    case = Case.objects.select_for_update().get(pk=case.pk)
    blockers = publish_blockers(case)
    if blockers:
        raise PublishBlocked(blockers)
    case.status = Case.Status.PUBLISHED
    case.published_at = case.published_at or timezone.now()
    case.save(update_fields=["status", "published_at", "updated_at"])
    return case
