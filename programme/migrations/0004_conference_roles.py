"""Faculty and editors present unknown-case conferences (``present_conference``)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {"faculty": ["present_conference"], "editor": ["present_conference"]}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("programme")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        permissions = list(Permission.objects.filter(content_type__app_label="programme", codename__in=codenames))
        if len(permissions) != len(codenames):
            raise RuntimeError(f"Permissions not found for role {role}: {codenames}")
        Group.objects.get(name=role).permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    present = Permission.objects.filter(content_type__app_label="programme", codename="present_conference")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*present)


class Migration(migrations.Migration):
    dependencies = [("programme", "0003_conference"), ("programme", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
