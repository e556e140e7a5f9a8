"""The published cases' ids index carries their dates (``INCLUDE``, PostgreSQL only; SQLite ignores it),
so that a search ranks its matches with their tie-breakers from the index alone instead of reading
every published case row (bench/EXPLAIN-facets.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0013_published_ids_and_facet_statistics"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="case", name="case_published_id_idx"),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "published")),
                fields=["id"],
                include=("published_at", "created_at"),
                name="case_published_id_idx",
            ),
        ),
    ]
