"""Let faculty and editors draw the arrows and labels of their images (Annotation came with 0003_viewer,
after the roles had their imaging permissions); which images they may annotate follows the case's rules."""

from django.db import migrations

from cases.role_permissions import role_permissions

CODENAMES = ["add_annotation", "change_annotation", "delete_annotation", "view_annotation"]
ROLES = ["faculty", "editor"]


class Migration(migrations.Migration):
    dependencies = [("imaging", "0003_viewer")]

    operations = [role_permissions("imaging", dict.fromkeys(ROLES, CODENAMES))]
