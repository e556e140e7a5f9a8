"""Give the faculty and editor groups the permissions for localisation questions and their targets: they
draw them with their cases (who may change which case's is ``cases.rules.may_edit``)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["localisationquestion", "lesiontarget"]
CODENAMES = [f"{action}_{model}" for model in MODELS for action in ("add", "change", "delete", "view")]
ROLES = ["faculty", "editor"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("quiz")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="quiz", codename__in=CODENAMES))
    missing = set(CODENAMES) - {p.codename for p in permissions}
    if missing:
        raise RuntimeError(f"Permissions not found: {sorted(missing)}")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="quiz", codename__in=CODENAMES)
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [("quiz", "0006_attempt_localisation_marks"), ("cases", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
