"""Who may do what to a case while authoring it: one place for the admin, the services and the preview.

Roles are permissions, never ``is_staff`` (see ``cases/migrations/0002_roles.py``). An *editor*
holds ``cases.publish_case``; *faculty* hold ``cases.change_case`` without it. The decisions:

- faculty edit their own cases while they are drafts; once submitted a case is frozen for its
  author until an editor returns it or the author withdraws it; a published case is corrected by
  editors only;
- editors edit every case in every state, publish, unpublish and return cases to their authors;
- the author or an editor submits a draft for review; the author may withdraw it from review;
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
