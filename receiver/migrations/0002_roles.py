"""The receiver's permissions for the roles: faculty use their inbox (view, act on and discard their
received studies; which ones is the admin's rule: their own); editors also manage the DICOM senders
and read the association log."""

from django.db import migrations

from cases.role_permissions import role_permissions

INBOX = ["view_receivedstudy", "change_receivedstudy", "delete_receivedstudy"]
ROLES = {
    "faculty": INBOX,
    "editor": [
        *INBOX,
        "add_dicomsender", "change_dicomsender", "delete_dicomsender", "view_dicomsender",
        "view_associationlog",
    ],
}


class Migration(migrations.Migration):
    dependencies = [("receiver", "0001_initial"), ("cases", "0002_roles")]

    operations = [role_permissions("receiver", ROLES)]
