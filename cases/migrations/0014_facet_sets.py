"""One facet set a case instead of one facet row a value (issue 21: the filtered list at 100,000 cases).

A filtered list found its cases through one index range of facet rows per filter, nested, and at
100,000 cases that took most of its time (bench/RESULTS.md). A case's values are now the keys of one
JSON object, which a GIN index (PostgreSQL; ``jsonb_ops``, which answers ``?&``, Django's
``has_keys``) tests for all of a list's filters at once. ``cases_casefacetkey`` is a view with one
row a key (and the whole set beside it, to filter on), so that counting the facets of any set of
cases stays one GROUP BY on both databases.
The sets are filled from the facet rows in one statement, so the published counts stay as they are.

The view depends on ``cases_casefacetset``: a later migration that alters that table (SQLite rebuilds a
table for most changes; PostgreSQL refuses to retype a column a view reads) runs ``drop_key_view``
before and ``create_key_view`` after its change.
"""

import django.db.models.deletion
from django.db import migrations, models

KEY_VIEW = {
    "postgresql": (
        "CREATE VIEW cases_casefacetkey AS SELECT s.case_id, k.key, s.keys AS set_keys "
        "FROM cases_casefacetset s CROSS JOIN LATERAL jsonb_object_keys(s.keys) AS k(key)"
    ),
    "sqlite": (
        "CREATE VIEW cases_casefacetkey AS SELECT s.case_id, j.key AS key, s.keys AS set_keys "
        "FROM cases_casefacetset s, json_each(s.keys) AS j"
    ),
}
FILL = {
    "postgresql": (
        "INSERT INTO cases_casefacetset (case_id, keys, published) SELECT case_id, "
        "jsonb_object_agg(facet || ':' || value, 1), bool_or(published) FROM cases_casefacet GROUP BY case_id"
    ),
    "sqlite": (
        "INSERT INTO cases_casefacetset (case_id, keys, published) SELECT case_id, "
        "json_group_object(facet || ':' || value, 1), max(published) FROM cases_casefacet GROUP BY case_id"
    ),
}
GIN_INDEX = "case_facet_set_keys_gin"


def _vendor(schema_editor) -> str:
    vendor = schema_editor.connection.vendor
    if vendor not in KEY_VIEW:
        raise NotImplementedError(f"The facet sets need PostgreSQL or SQLite, not {vendor}.")
    return vendor


def create_key_view(connection) -> None:
    """Also called by the SQLite tests, whose tables come from the models rather than the migrations."""
    with connection.cursor() as cursor:
        cursor.execute(KEY_VIEW[connection.vendor])


def drop_key_view(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP VIEW IF EXISTS cases_casefacetkey")


def fill_and_index(apps, schema_editor):
    vendor = _vendor(schema_editor)
    schema_editor.execute(FILL[vendor])
    create_key_view(schema_editor.connection)
    if vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX {GIN_INDEX} ON cases_casefacetset USING gin (keys)")
        schema_editor.execute("ANALYZE cases_casefacetset")


def back_to_rows(apps, schema_editor):
    drop_key_view(schema_editor.connection)
    alias = schema_editor.connection.alias
    CaseFacet = apps.get_model("cases", "CaseFacet")
    sets = apps.get_model("cases", "CaseFacetSet").objects.using(alias)
    CaseFacet.objects.using(alias).bulk_create(
        (
            CaseFacet(case_id=case_id, facet=facet, value=value, published=published)
            for case_id, keys, published in sets.values_list("case_id", "keys", "published").iterator()
            for facet, _, value in (key.partition(":") for key in keys)
        ),
        batch_size=2000,
    )
    if schema_editor.connection.vendor == "postgresql":
        # Migration 0013's statistics went with the table this migration dropped.
        schema_editor.execute(
            "CREATE STATISTICS IF NOT EXISTS case_facet_value_stats (mcv) ON facet, value FROM cases_casefacet"
        )
        schema_editor.execute("ANALYZE cases_casefacet")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0013_published_ids_and_facet_statistics"),
    ]

    operations = [
        migrations.CreateModel(
            name="CaseFacetKey",
            fields=[
                ("case_id", models.IntegerField(primary_key=True, serialize=False)),
                ("key", models.CharField(max_length=40)),
                ("set_keys", models.JSONField()),
            ],
            options={
                "db_table": "cases_casefacetkey",
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="CaseFacetSet",
            fields=[
                (
                    "case",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="facet_set",
                        serialize=False,
                        to="cases.case",
                    ),
                ),
                ("keys", models.JSONField(default=dict)),
                ("published", models.BooleanField()),
            ],
        ),
        migrations.RunPython(fill_and_index, back_to_rows, elidable=False),
        migrations.DeleteModel(
            name="CaseFacet",
        ),
    ]
