"""Let editors schedule the case of the week (the roles are groups made by cases' 0002_roles); nobody
else holds these permissions, so faculty and residents see the schedule only as the public page."""

from django.db import migrations

from cases.role_permissions import role_permissions

CODENAMES = ["add_weeklycase", "change_weeklycase", "delete_weeklycase", "view_weeklycase"]
ROLE = "editor"


class Migration(migrations.Migration):
    dependencies = [
        ("weekly", "0001_initial"),
        ("cases", "0002_roles"),
    ]

    operations = [role_permissions("weekly", {ROLE: CODENAMES})]
