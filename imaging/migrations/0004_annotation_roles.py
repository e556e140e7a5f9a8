"""Let faculty and editors draw the arrows and labels of their images (Annotation came with 0003_viewer,
after the roles had their imaging permissions); which images they may annotate follows the case's rules."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["add_annotation", "change_annotation", "delete_annotation", "view_annotation"]
ROLES = ["faculty", "editor"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("imaging")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="imaging", codename__in=CODENAMES))
    if len(permissions) != len(CODENAMES):
        raise RuntimeError(f"Annotation permissions not found: {CODENAMES}")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="imaging", codename__in=CODENAMES)
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("imaging", "0003_viewer")]

    operations = [migrations.RunPython(grant, revoke)]
