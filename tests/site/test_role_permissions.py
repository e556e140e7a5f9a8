"""The role migrations' one grant (``cases.role_permissions``), as the test database runs it again."""

from django.apps import apps
from django.contrib.auth.models import Group

from tests.helpers.roles import roles_ensure


def test_granting_the_roles_again_changes_nothing_and_leaves_the_app_registry_as_it_was(db):
    """Run on the live registry, the grant must hand back each app's models module (post_migrate skips an
    app without one), and granting twice must give the same permissions."""
    project = ["cases", "imaging", "quiz", "weekly", "programme", "receiver"]
    held = {
        group.name: set(group.permissions.values_list("codename", flat=True)) for group in Group.objects.all()
    }
    roles_ensure()
    modules = [apps.get_app_config(label).models_module for label in project]
    assert [getattr(module, "__name__", None) for module in modules] == [
        f"{label}.models" for label in project
    ]
    again = {
        group.name: set(group.permissions.values_list("codename", flat=True)) for group in Group.objects.all()
    }
    assert again == held and held["editor"] and held["director"]
