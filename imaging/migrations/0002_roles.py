"""Give the faculty and editor groups (created by cases.0002_roles) their imaging permissions."""

from django.db import migrations

from cases.role_permissions import role_permissions

AUTHORING = [
    "add_study", "change_study", "view_study",
    "add_series", "change_series", "view_series",
    "change_image", "view_image", "view_upload",
]
ROLES = {
    "faculty": AUTHORING,
    "editor": [*AUTHORING, "delete_study", "delete_series", "delete_image", "clear_image_flag"],
}


class Migration(migrations.Migration):
    dependencies = [("imaging", "0001_initial"), ("cases", "0002_roles")]

    operations = [role_permissions("imaging", ROLES)]
