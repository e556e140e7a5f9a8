"""Who may take a case through the workflow: one place for the admin, the services and the preview.

Built on the read rules of ``cases.rules`` (who is an editor, who may edit which case, who may see a
flagged image), which are re-exported here so that the case editor asks one module:

- once submitted a case is frozen for its author until an editor returns it or the author withdraws
  it; a published case is corrected by editors only;
- editors publish, unpublish and return cases to their authors;
- the author or an editor submits a draft for review; the author may withdraw it from review.
"""

from cases.models import Case
from cases.rules import (
    DRAFT,
    IN_REVIEW,
    PUBLISHED,
    editable_cases,
    is_author,
    is_editor,
    may_author,
    may_edit,
    may_see_flagged_image,
)

__all__ = [
    "editable_cases",
    "is_author",
    "is_editor",
    "may_author",
    "may_delete",
    "may_edit",
    "may_mark_not_stated",
    "may_preview",
    "may_publish",
    "may_return_to_draft",
    "may_see_flagged_image",
    "may_submit",
]


def may_delete(user, case: Case) -> bool:
    return is_editor(user) and user.has_perm("cases.delete_case")


def may_submit(user, case: Case) -> bool:
    return case.status == DRAFT and (is_editor(user) or (is_author(user, case) and may_author(user)))


def may_publish(user, case: Case) -> bool:
    return case.status == IN_REVIEW and is_editor(user)


def may_return_to_draft(user, case: Case) -> bool:
    """An editor returns a case in review or unpublishes one; its author may withdraw it from review."""
    if case.status == PUBLISHED:
        return is_editor(user)
    if case.status == IN_REVIEW:
        return is_editor(user) or (is_author(user, case) and may_author(user))
    return False


def may_mark_not_stated(user) -> bool:
    return is_editor(user)


def may_preview(user, case: Case) -> bool:
    """Authoring roles preview the cases the visibility rule lets them see (``visible_to``)."""
    if not may_author(user):
        return False
    return Case.objects.visible_to(user).filter(pk=case.pk).exists()
