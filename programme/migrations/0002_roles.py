"""Create the director group (programme directors) and give playlists to faculty and editors.

Faculty make playlists (their own); editors see and change every playlist; directors see every
playlist (to assign it) and manage cohorts and assignments, with every resident's progress.
"""

from django.db import migrations

from cases.role_permissions import role_permissions

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


class Migration(migrations.Migration):
    dependencies = [("programme", "0001_initial"), ("cases", "0002_roles")]

    operations = [role_permissions("programme", ROLES, new_groups=("director",))]
