"""The username django-axes records for a log-in attempt (``AXES_USERNAME_CALLABLE`` in settings)."""

from axes.models import AccessAttempt
from django.conf import settings


def attempted_username(request, credentials: dict | None) -> str | None:
    """What was typed as the username, cut to the length axes' username columns hold.

    Django's log-in forms pass a username of any length to ``authenticate()``; axes would then store
    it whole, which PostgreSQL refuses (a server error instead of "wrong password"). A username that
    long names no account (they have at most 150 characters), so its first 255 characters count the
    failures as well as the whole would. Read as axes itself reads it: from the credentials, else
    from the form.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    username = credentials.get(field) if credentials else getattr(request, "data", request.POST).get(field)
    if not isinstance(username, str):
        return username
    return username[: AccessAttempt._meta.get_field("username").max_length]
