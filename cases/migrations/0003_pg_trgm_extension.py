"""pg_trgm on PostgreSQL, for typo-tolerant search ("did you mean"). Does nothing on SQLite.

Django's TrigramExtension checks the database vendor itself, so this runs on both backends.
Creating an extension needs a role allowed to do so (the database owner on PostgreSQL 13+ for
trusted extensions such as pg_trgm, otherwise a superuser).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0002_roles"),
    ]

    operations = [
        TrigramExtension(),
    ]
