"""Build the search document of every existing case (new cases get theirs on save).

Uses the historical models and the pure text builder of cases/search.py, which reads only fields
and relations, so this migration keeps working when the models change later. On PostgreSQL it also
fills the vectors and the typo vocabulary (published cases and diagnosis names only).
"""

from django.db import migrations
from django.db.models import Prefetch

BATCH = 500


def build_search_documents(apps, schema_editor):
    from cases.search import WEIGHT_GROUPS, case_search_text, is_vocabulary_word, search_vector_expression
    from cases.spelling import normalise_words

    Case = apps.get_model("cases", "Case")
    Diagnosis = apps.get_model("cases", "Diagnosis")
    DifferentialItem = apps.get_model("cases", "DifferentialItem")
    CaseSearchDocument = apps.get_model("cases", "CaseSearchDocument")
    postgresql = schema_editor.connection.vendor == "postgresql"
    vocabulary = set()
    ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        cases = (
            Case.objects.filter(pk__in=ids[start : start + BATCH])
            .select_related("final_diagnosis")
            .prefetch_related(
                "findings",
                Prefetch("differential_items", queryset=DifferentialItem.objects.select_related("diagnosis")),
                "references",
                "tags",
                "regions",
            )
        )
        documents = []
        for case in cases:
            text = case_search_text(case)
            documents.append(CaseSearchDocument(case_id=case.pk, **text.as_fields()))
            if case.status == "published":
                vocabulary |= text.vocabulary()
        CaseSearchDocument.objects.bulk_create(
            documents,
            update_conflicts=True,
            unique_fields=["case"],
            update_fields=[name for name, _weight, _score in WEIGHT_GROUPS],
        )
    if not postgresql:
        return
    CaseSearchDocument.objects.update(vector=search_vector_expression())
    for name, synonyms in Diagnosis.objects.values_list("name", "synonyms"):
        vocabulary |= {word for text in [name, *synonyms] for word in normalise_words(text)}
    words = sorted(word for word in vocabulary if is_vocabulary_word(word))
    schema_editor.execute(
        "INSERT INTO cases_searchterm (word, stem) "
        "SELECT w, coalesce((ts_lexize('english_stem', w))[1], w) FROM unnest(%s::text[]) AS w "
        "ON CONFLICT (word) DO NOTHING",
        [words],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_search_indexes_postgresql"),
    ]

    operations = [
        migrations.RunPython(build_search_documents, migrations.RunPython.noop),
    ]
