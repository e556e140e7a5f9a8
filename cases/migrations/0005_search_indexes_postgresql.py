"""PostgreSQL-only search indexes: GIN over the weighted search vector, trigram GIN over the vocabulary.

Neither index type exists on SQLite, so they are created here with a vendor check instead of in
the models' Meta (where the SQLite migration would fail on "USING gin"). SQLite's search reads the
normalised text groups directly and needs no index of this kind.
"""

from django.db import migrations

INDEXES = [
    (
        "case_search_vector_gin",
        "CREATE INDEX IF NOT EXISTS case_search_vector_gin ON cases_casesearchdocument USING gin (vector)",
    ),
    (
        "search_term_word_trgm",
        "CREATE INDEX IF NOT EXISTS search_term_word_trgm ON cases_searchterm USING gin (word gin_trgm_ops)",
    ),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _name, sql in INDEXES:
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _sql in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_search_document"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
