"""Fill the typo vocabulary on databases other than PostgreSQL, where it used to stay empty."""

from django.db import migrations

from cases.search import is_vocabulary_word


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        return  # filled since migration 0005
    alias = schema_editor.connection.alias
    documents = apps.get_model("cases", "CaseSearchDocument").objects.using(alias)
    term = apps.get_model("cases", "SearchTerm")
    words = set()
    fields = ("title_and_diagnosis", "findings", "context", "discussion")
    for texts in documents.filter(case__status="published").values_list(*fields).iterator():
        for text in texts:
            words.update(word for word in text.split() if is_vocabulary_word(word))
    term.objects.using(alias).bulk_create([term(word=word) for word in sorted(words)], ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("cases", "0010_reference_url_schemes")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
