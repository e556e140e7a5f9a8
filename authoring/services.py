"""Writes to cases: keyword-only, typed, atomic.

An edited case is saved through ``case_save``, which refuses to overwrite a save made after the editor
loaded the case. The workflow — draft → in review → published, and back to draft — moves only through
the functions below. Each locks the case row, checks its state and who asks (``authoring.rules``),
records the step as an ``authoring.CaseTransition`` and as a revision of the case's history
(django-reversion).
"""

from datetime import datetime

import reversion
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from authoring import rules
from authoring.completeness import completeness_of
from authoring.history import case_versions
from authoring.models import CaseSectionNotStated, CaseTransition
from cases.models import Case
from imaging.models import Image


class PublishBlocked(Exception):
    def __init__(self, blockers: list[str]):
        self.blockers = blockers
        super().__init__("Cannot publish: " + "; ".join(blockers))


class TransitionNotAllowed(Exception):
    """The case is not in a state this step starts from (e.g. publishing a draft)."""


class SavedMeanwhile(Exception):
    """The case was saved (or moved through the workflow) after the form that would save it was loaded."""

    def __init__(self, *, saved_at: datetime, saved_by: AbstractBaseUser | None):
        self.saved_at = saved_at
        self.saved_by = saved_by  # None when the history does not say who saved it since
        super().__init__(f"The case was saved at {saved_at.isoformat()}, after it was loaded.")


def publish_blockers(case: Case) -> list[str]:
    """What stands between this case and publication, in words an author can act on."""
    blockers = [f"missing {item}" for item in completeness_of(case).missing_for_publication]
    flagged = Image.objects.filter(
        series__study__case=case, needs_review=True, reviewed_at__isnull=True
    ).count()
    if flagged:
        blockers.append(
            f"{flagged} image(s) may carry burned-in patient text: an editor must look and clear the flag"
        )
    return blockers


def _locked(case: Case, by: AbstractBaseUser) -> Case:
    if not rules.may_author(by):
        raise PermissionDenied("Only faculty and editors take a case through the workflow.")
    return Case.objects.select_for_update().get(pk=case.pk)


@transaction.atomic
def case_save(*, case: Case, loaded_updated_at: datetime | None, by: AbstractBaseUser) -> Case:
    """Save an edited case unless its row changed after `loaded_updated_at` (raises ``SavedMeanwhile``).

    The row stays locked until the caller's transaction ends, so the rows the caller saves with the case
    (the admin's inlines) cannot interleave with another author's save of the same case.
    """
    current = Case.objects.select_for_update().filter(pk=case.pk).values_list("updated_at", flat=True).first()
    if current is not None and current != loaded_updated_at:
        latest = case_versions(case).first()
        saved_since = (
            latest is not None
            and latest.revision.user is not None
            and (loaded_updated_at is None or latest.revision.date_created > loaded_updated_at)
        )
        raise SavedMeanwhile(saved_at=current, saved_by=latest.revision.user if saved_since else None)
    if not rules.may_edit(by, case):
        raise PermissionDenied("You may not change this case.")
    case.save()
    return case


def _require_status(case: Case, allowed: set[str], step: str) -> None:
    if case.status not in allowed:
        raise TransitionNotAllowed(f"A case that is {case.get_status_display().lower()} cannot be {step}.")


def _move(*, case: Case, to_status: str, by: AbstractBaseUser, note: str, comment: str) -> Case:
    from_status = case.status
    case.status = to_status
    if to_status == Case.Status.PUBLISHED:
        case.published_at = case.published_at or timezone.now()
    with reversion.create_revision():
        reversion.set_user(by)
        reversion.set_comment(f"{comment}: {note}" if note else comment)
        case.save(update_fields=["status", "published_at", "updated_at"])
    CaseTransition.objects.create(case=case, from_status=from_status, to_status=to_status, by=by, note=note)
    return case


@transaction.atomic
def case_submit_for_review(*, case: Case, by: AbstractBaseUser, note: str = "") -> Case:
    case = _locked(case, by)
    _require_status(case, {Case.Status.DRAFT}, "submitted for review")
    if not rules.may_submit(by, case):
        raise PermissionDenied("Only the case's author or an editor may submit it for review.")
    return _move(case=case, to_status=Case.Status.IN_REVIEW, by=by, note=note, comment="Submitted for review")


@transaction.atomic
def case_publish(*, case: Case, by: AbstractBaseUser, note: str = "") -> Case:
    if not by.has_perm("cases.publish_case"):
        raise PermissionDenied("Only editors may publish cases.")
    case = _locked(case, by)
    _require_status(case, {Case.Status.IN_REVIEW}, "published (submit it for review first)")
    blockers = publish_blockers(case)
    if blockers:
        raise PublishBlocked(blockers)
    return _move(case=case, to_status=Case.Status.PUBLISHED, by=by, note=note, comment="Published")


@transaction.atomic
def case_return_to_draft(*, case: Case, by: AbstractBaseUser, note: str = "") -> Case:
    """Unpublish or return to the author (editors), or withdraw from review (the author)."""
    case = _locked(case, by)
    _require_status(case, {Case.Status.IN_REVIEW, Case.Status.PUBLISHED}, "returned to draft")
    if not rules.may_return_to_draft(by, case):
        raise PermissionDenied(
            "Only an editor may unpublish a case or return it; its author may withdraw it from review."
        )
    comment = "Unpublished" if case.status == Case.Status.PUBLISHED else "Returned to draft"
    return _move(case=case, to_status=Case.Status.DRAFT, by=by, note=note, comment=comment)


@transaction.atomic
def case_history_not_stated_set(*, case: Case, not_stated: bool, by: AbstractBaseUser) -> None:
    """An editor's mark that the source states no clinical history; it stands in for it at publication."""
    if not rules.may_mark_not_stated(by):
        raise PermissionDenied("Only editors may mark a section as not stated in the source.")
    section = CaseSectionNotStated.Section.CLINICAL_HISTORY
    if not not_stated:
        CaseSectionNotStated.objects.filter(case=case, section=section).delete()
        return
    if case.clinical_history.strip():
        raise ValueError("The case states a clinical history; it cannot also be marked as not stated.")
    CaseSectionNotStated.objects.get_or_create(case=case, section=section, defaults={"by": by})
