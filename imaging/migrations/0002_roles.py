"""Give the faculty and editor groups (created by cases.0002_roles) their imaging permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AUTHORING = [
    "add_study", "change_study", "view_study",
    "add_series", "change_series", "view_series",
    "change_image", "view_image", "view_upload",
]
ROLES = {
    "faculty": AUTHORING,
    "editor": [*AUTHORING, "delete_study", "delete_series", "delete_image", "clear_image_flag"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("imaging")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        permissions = list(Permission.objects.filter(content_type__app_label="imaging", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"Permissions not found for role {role}: {sorted(missing)}")
        Group.objects.get(name=role).permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    imaging = Permission.objects.filter(content_type__app_label="imaging")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*imaging)


class Migration(migrations.Migration):
    dependencies = [("imaging", "0001_initial"), ("cases", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
