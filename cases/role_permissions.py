"""The data migrations that give the role groups (resident, faculty, editor, director) their permissions.

Every app's role migration is one call of ``role_permissions``, so past migrations run this code: change
it only in ways each of them still means the same.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def role_permissions(app_label: str, roles: dict, *, new_groups: tuple = ()) -> migrations.RunPython:
    """Give each group named in ``roles`` those of its app's permissions (codenames); ``new_groups`` are
    made first. Unapplied, it takes the permissions back and deletes ``new_groups``."""

    def grant(apps, schema_editor):
        # Permissions are made after every migration (post_migrate); the groups must hold them from the
        # first migrate. create_permissions skips an app whose models module it does not see.
        app_config = apps.get_app_config(app_label)
        models_module = getattr(app_config, "models_module", None)  # a migration state's stub has none
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module  # the test database runs this on the live registry
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        for name in new_groups:
            Group.objects.get_or_create(name=name)
        app_permissions = Permission.objects.filter(content_type__app_label=app_label)
        for role, codenames in roles.items():
            permissions = list(app_permissions.filter(codename__in=codenames))
            missing = sorted(set(codenames) - {p.codename for p in permissions})
            if missing:
                raise RuntimeError(f"{app_label} permissions not found for the {role} role: {missing}")
            for group in Group.objects.filter(name=role):
                group.permissions.add(*permissions)

    def revoke(apps, schema_editor):
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        for role, codenames in roles.items():
            permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            for group in Group.objects.filter(name=role):
                group.permissions.remove(*permissions)
        Group.objects.filter(name__in=new_groups).delete()

    grant.grants_roles = True  # tests/helpers/roles.py finds the role migrations by it
    return migrations.RunPython(grant, revoke)
