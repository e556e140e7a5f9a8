"""Give the faculty and editor groups (created by cases.0002_roles) the permissions for questions: they
write them with their cases (who may change which case's questions is ``cases.rules.may_edit``)."""

from django.db import migrations

from cases.role_permissions import role_permissions

MODELS = ["question", "questionoption", "quizformat"]
CODENAMES = [f"{action}_{model}" for model in MODELS for action in ("add", "change", "delete", "view")]
ROLES = ["faculty", "editor"]


class Migration(migrations.Migration):
    dependencies = [("quiz", "0003_single_best_answer"), ("cases", "0002_roles")]

    operations = [role_permissions("quiz", dict.fromkeys(ROLES, CODENAMES))]
