"""Faculty and editors present unknown-case conferences (``present_conference``)."""

from django.db import migrations

from cases.role_permissions import role_permissions

ROLES = {"faculty": ["present_conference"], "editor": ["present_conference"]}


class Migration(migrations.Migration):
    dependencies = [("programme", "0003_conference"), ("programme", "0002_roles")]

    operations = [role_permissions("programme", ROLES)]
