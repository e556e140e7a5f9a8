"""Create the faculty, editor and resident groups with their permissions.

Permissions are normally created after all migrations run (post_migrate), so they are created
here first: the groups must hold them from the first migrate.
"""

from django.db import migrations

from cases.role_permissions import role_permissions

CONTENT = [
    "add_case", "change_case", "view_case",
    "add_finding", "change_finding", "delete_finding", "view_finding",
    "add_differentialitem", "change_differentialitem", "delete_differentialitem", "view_differentialitem",
    "add_reference", "change_reference", "delete_reference", "view_reference",
    "add_diagnosis", "view_diagnosis", "view_region",
]

ROLES = {
    "resident": [],
    "faculty": [*CONTENT, "view_review_case"],
    "editor": [
        *CONTENT, "view_review_case", "view_draft_case", "publish_case", "delete_case",
        "change_diagnosis", "add_region", "change_region",
    ],
}


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [role_permissions("cases", ROLES, new_groups=tuple(ROLES))]
