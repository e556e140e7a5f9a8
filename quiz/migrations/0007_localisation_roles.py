"""Give the faculty and editor groups the permissions for localisation questions and their targets: they
draw them with their cases (who may change which case's is ``cases.rules.may_edit``)."""

from django.db import migrations

from cases.role_permissions import role_permissions

MODELS = ["localisationquestion", "lesiontarget"]
CODENAMES = [f"{action}_{model}" for model in MODELS for action in ("add", "change", "delete", "view")]
ROLES = ["faculty", "editor"]


class Migration(migrations.Migration):
    dependencies = [("quiz", "0006_attempt_localisation_marks"), ("cases", "0002_roles")]

    operations = [role_permissions("quiz", dict.fromkeys(ROLES, CODENAMES))]
