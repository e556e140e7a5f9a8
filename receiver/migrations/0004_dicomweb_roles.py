"""Editors manage the DICOMweb sources (faculty pull from them without seeing their settings)."""

from django.db import migrations

from cases.role_permissions import role_permissions

CODENAMES = ["add_dicomwebsource", "change_dicomwebsource", "delete_dicomwebsource", "view_dicomwebsource"]


class Migration(migrations.Migration):
    dependencies = [("receiver", "0003_dicomweb_sources")]

    operations = [role_permissions("receiver", {"editor": CODENAMES})]
