"""Who may see drafts and cases in review: the one answer every visibility decision reads.

``CaseQuerySet.visible_to`` (which cases a queryset holds) and ``cases.caching.visibility_class``
(under which key facet counts are cached) both ask ``case_visibility_permissions``, so the two name
the same rights. It asks ``user.has_perm``, so every authentication backend has its say, and Django
keeps the answer on the user object for the rest of the request.
"""

APP_LABEL = "cases"
VIEW_DRAFT = "view_draft_case"
VIEW_REVIEW = "view_review_case"
VISIBILITY_CODENAMES = (VIEW_DRAFT, VIEW_REVIEW)


def case_visibility_permissions(user) -> frozenset[str]:
    """The codenames among ``view_draft_case`` and ``view_review_case`` the user holds, directly or
    through a group."""
    return frozenset(code for code in VISIBILITY_CODENAMES if user.has_perm(f"{APP_LABEL}.{code}"))
