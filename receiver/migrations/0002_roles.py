"""The receiver's permissions for the roles: faculty use their inbox (view, act on and discard their
received studies; which ones is the admin's rule: their own); editors also manage the DICOM senders
and read the association log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

INBOX = ["view_receivedstudy", "change_receivedstudy", "delete_receivedstudy"]
ROLES = {
    "faculty": INBOX,
    "editor": [
        *INBOX,
        "add_dicomsender", "change_dicomsender", "delete_dicomsender", "view_dicomsender",
        "view_associationlog",
    ],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("receiver")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        permissions = list(Permission.objects.filter(content_type__app_label="receiver", codename__in=codenames))
        if len(permissions) != len(codenames):
            raise RuntimeError(f"Receiver permissions not found for {role}: {codenames}")
        for group in Group.objects.filter(name=role):
            group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        permissions = Permission.objects.filter(content_type__app_label="receiver", codename__in=codenames)
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("receiver", "0001_initial"), ("cases", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
