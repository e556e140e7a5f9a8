"""Who may read and change a case and the rows it owns: the rules below the workflow.

Roles are permissions, never ``is_staff`` (see ``cases/migrations/0002_roles.py``). An *editor*
holds ``cases.publish_case``; *faculty* hold ``cases.change_case`` without it. They live in ``cases``
because ``imaging`` asks them too (its admin pages and image views), and ``imaging`` sits below
``authoring``; the workflow rules built on them are ``authoring.rules``.

- faculty edit their own cases while they are drafts; editors edit every case in every state;
- a case's studies, series and images follow the case: they are added, moved (into or out of the
  case) and changed by whoever may edit the case (``editable_cases`` is ``may_edit`` as a queryset);
- an image whose burned-in text flag is not cleared is shown only to editors and the case's author,
  in every state of the case (``may_see_flagged_image``).
"""

from cases.models import Case

DRAFT, IN_REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED


def is_editor(user) -> bool:
    return user.is_active and user.has_perm("cases.publish_case")


def is_author(user, case: Case) -> bool:
    return user.is_authenticated and case.author_id is not None and case.author_id == user.pk


def may_author(user) -> bool:
    """Faculty and editors: those who write cases in the admin."""
    return user.is_active and user.has_perm("cases.change_case")


def may_edit(user, case: Case) -> bool:
    if not user.has_perm("cases.change_case"):
        return False
    return is_editor(user) or (is_author(user, case) and case.status == DRAFT)


def editable_cases(user):
    """``may_edit`` as a queryset: the cases into which `user` may add or move studies, series and images."""
    if not user.has_perm("cases.change_case"):
        return Case.objects.none()
    if is_editor(user):
        return Case.objects.all()
    return Case.objects.filter(author=user, status=DRAFT)


def may_see_flagged_image(user, case: Case) -> bool:
    """Those who may review an image that may carry burned-in patient text: editors, and the case's
    author while the case is not published (they uploaded it, and see it in the admin and the preview).
    On a published case only editors, who clear the flag; never residents or the public."""
    if is_editor(user):
        return True
    return case.status != PUBLISHED and is_author(user, case) and may_author(user)
