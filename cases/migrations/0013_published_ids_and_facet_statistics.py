"""Two aids to the planner for filtered lists and searches at 100,000 cases (bench/EXPLAIN-facets.md).

* ``case_published_id_idx``: the ids of the published cases, read index-only where a query checks
  that its matching cases are published (a few hundred pages instead of every case row).
* PostgreSQL only: statistics over ``(facet, value)`` of the facet rows taken together. Without
  them the planner multiplies the two columns' selectivities ("modality" × "MR") and expects a
  few dozen cases where a filter matches thousands, so it sorts them all for the first page
  instead of walking the published cases newest first. SQLite has no such statistics.
"""

from django.db import migrations, models

STATISTICS = "case_facet_value_stats"


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (mcv) ON facet, value FROM cases_casefacet"
    )
    # The statistics are empty until the table is analysed; autovacuum would do it only later.
    schema_editor.execute("ANALYZE cases_casefacet")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0012_facet_rows"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "published")), fields=["id"], name="case_published_id_idx"
            ),
        ),
        migrations.RunPython(create_statistics, drop_statistics, elidable=False),
    ]
