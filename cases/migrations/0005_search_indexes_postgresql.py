"""PostgreSQL-only search indexes: GIN over the weighted search vector, trigram GIN over the vocabulary.

Neither index type exists on SQLite, so they are created here with a vendor check instead of in
the models' Meta (where the SQLite migration would fail on "USING gin"). SQLite's search reads the
normalised text groups directly and needs no index of this kind.

The vector is also kept in the row (compressed) rather than moved out to the TOAST table: ranking
and any scan that reads many vectors then avoids a TOAST lookup per row (about twice as fast for a
query matching most of the archive; measured with bench/search.py). The text groups, which
PostgreSQL's search never reads, are the ones moved out instead.
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
    schema_editor.execute("ALTER TABLE cases_casesearchdocument ALTER COLUMN vector SET STORAGE MAIN")
    for _name, sql in INDEXES:
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _sql in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("ALTER TABLE cases_casesearchdocument ALTER COLUMN vector SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_search_document"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
