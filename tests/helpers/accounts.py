"""Test users in the archive's roles."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


def make_user(username: str, role: str | None = None, **extra):
    user = get_user_model().objects.create_user(username=username, password="pw-for-tests-only", **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user
