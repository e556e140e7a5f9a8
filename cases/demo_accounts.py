"""Demo log-ins, one per role, created by ``load_demo`` for a local demonstration only."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str | None  # a group name; None for the superuser
    is_staff: bool = False

    @property
    def is_superuser(self) -> bool:
        return self.role is None


DEMO_ACCOUNTS = [
    DemoAccount("admin", "demo-admin-pass", None, is_staff=True),
    DemoAccount("editor", "demo-editor-pass", "editor", is_staff=True),
    DemoAccount("faculty", "demo-faculty-pass", "faculty", is_staff=True),
    DemoAccount("resident", "demo-resident-pass", "resident"),
]


@transaction.atomic
def demo_accounts_ensure() -> list[tuple[DemoAccount, bool]]:
    """Create the accounts that are missing; an existing account (and its password) is left alone."""
    User = get_user_model()
    results = []
    for account in DEMO_ACCOUNTS:
        user, created = User.objects.get_or_create(
            username=account.username,
            defaults={"is_staff": account.is_staff, "is_superuser": account.is_superuser},
        )
        if created:
            user.set_password(account.password)
            user.save(update_fields=["password"])
            if account.role:
                user.groups.add(Group.objects.get(name=account.role))
        results.append((account, created))
    return results
