"""Create the faculty, editor and resident groups with their permissions.

Permissions are normally created after all migrations run (post_migrate), so they are created
here first: the groups must hold them from the first migrate.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = list(Permission.objects.filter(content_type__app_label="cases", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"Permissions not found for role {role}: {sorted(missing)}")
        group.permissions.add(*permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
