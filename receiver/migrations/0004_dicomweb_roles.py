"""Editors manage the DICOMweb sources (faculty pull from them without seeing their settings)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["add_dicomwebsource", "change_dicomwebsource", "delete_dicomwebsource", "view_dicomwebsource"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("receiver")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="receiver", codename__in=CODENAMES))
    if len(permissions) != len(CODENAMES):
        raise RuntimeError(f"DICOMweb source permissions not found: {CODENAMES}")
    for group in Group.objects.filter(name="editor"):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="receiver", codename__in=CODENAMES)
    for group in Group.objects.filter(name="editor"):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("receiver", "0003_dicomweb_sources")]

    operations = [migrations.RunPython(grant, revoke)]
