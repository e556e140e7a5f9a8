"""Who may see drafts and cases in review: the one answer every visibility decision reads.

``CaseQuerySet.visible_to`` (which cases a queryset holds) and ``cases.caching.visibility_class``
(under which key a page part is cached) both ask ``case_visibility_permissions``, so the two can
never disagree: within a request the answer is kept on the user object, and the cached class hands
the answer it read from the cache to that same place (``remember_case_visibility_permissions``),
so a page's cached entries and the queryset they were computed from always name the same rights.

``user.has_perm`` asks the database twice (the user's own permissions, then their groups'); here
both come in one query. Superusers and inactive users are answered without a query, exactly as
``has_perm`` answers them (``User.has_perm``, ``ModelBackend``). When any authentication backend
other than Django's ``ModelBackend`` can grant permissions (has a ``has_perm``), ``has_perm`` is asked
instead, since that backend may grant permissions this query cannot see. A backend without
``has_perm`` is skipped by Django's own permission check too (django-axes' only refuses log-ins).
"""

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.module_loading import import_string

APP_LABEL = "cases"
VIEW_DRAFT = "view_draft_case"
VIEW_REVIEW = "view_review_case"
VISIBILITY_CODENAMES = (VIEW_DRAFT, VIEW_REVIEW)
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Where the answer is kept for the rest of the request (the user object lives as long as it).
_MEMO = "_case_visibility_permissions"


def case_visibility_permissions(user) -> frozenset[str]:
    """The codenames among ``view_draft_case`` and ``view_review_case`` the user holds, directly or
    through a group: at most one query per user object, none for anonymous, inactive or superusers."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(VISIBILITY_CODENAMES)
    memo = getattr(user, _MEMO, None)
    if memo is None:
        memo = _look_up(user)
        setattr(user, _MEMO, memo)
    return memo


def remember_case_visibility_permissions(user, codenames) -> None:
    """Keep an answer read elsewhere (the cache) as this user object's answer for the request."""
    if user.is_authenticated:
        setattr(user, _MEMO, frozenset(codenames) & frozenset(VISIBILITY_CODENAMES))


def _only_the_model_backend_grants_permissions() -> bool:
    granting = [path for path in settings.AUTHENTICATION_BACKENDS if hasattr(import_string(path), "has_perm")]
    return granting == [MODEL_BACKEND]


def _look_up(user) -> frozenset[str]:
    if not _only_the_model_backend_grants_permissions():
        return frozenset(code for code in VISIBILITY_CODENAMES if user.has_perm(f"{APP_LABEL}.{code}"))
    return frozenset(
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .filter(content_type__app_label=APP_LABEL, codename__in=VISIBILITY_CODENAMES)
        .values_list("codename", flat=True)
        .distinct()
    )
