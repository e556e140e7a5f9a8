"""Create the director group (programme directors) and give playlists to faculty and editors.

Faculty make playlists (their own); editors see and change every playlist; directors see every
playlist (to assign it) and manage cohorts and assignments, with every resident's progress.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PLAYLISTS = [
    "add_playlist", "change_playlist", "delete_playlist", "view_playlist",
    "add_playlistitem", "change_playlistitem", "delete_playlistitem", "view_playlistitem",
]
ROLES = {
    "faculty": PLAYLISTS,
    "editor": [*PLAYLISTS, "view_any_playlist"],
    "director": [
        "view_playlist", "view_playlistitem", "view_any_playlist",
        "add_cohort", "change_cohort", "delete_cohort", "view_cohort",
        "add_assignment", "change_assignment", "delete_assignment", "view_assignment",
        "view_assignment_report",
    ],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("programme")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get_or_create(name="director")
    for role, codenames in ROLES.items():
        permissions = list(Permission.objects.filter(content_type__app_label="programme", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise RuntimeError(f"Permissions not found for role {role}: {sorted(missing)}")
        Group.objects.get(name=role).permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name="director").delete()
    programme = Permission.objects.filter(content_type__app_label="programme")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*programme)


class Migration(migrations.Migration):
    dependencies = [("programme", "0001_initial"), ("cases", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
