"""Let editors schedule the case of the week (the roles are groups made by cases' 0002_roles); nobody
else holds these permissions, so faculty and residents see the schedule only as the public page."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["add_weeklycase", "change_weeklycase", "delete_weeklycase", "view_weeklycase"]
ROLE = "editor"


def grant(apps, schema_editor):
    # Permissions are normally created after every migration has run (post_migrate): create them now.
    app_config = apps.get_app_config("weekly")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="weekly", codename__in=CODENAMES))
    if len(permissions) != len(CODENAMES):
        raise RuntimeError(f"Case of the week permissions not found: {CODENAMES}")
    for group in Group.objects.filter(name=ROLE):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="weekly", codename__in=CODENAMES)
    for group in Group.objects.filter(name=ROLE):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("weekly", "0001_initial"),
        ("cases", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
