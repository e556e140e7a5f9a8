"""Correct the seed diagnoses and regions in databases loaded before the editor's review.

Only rows still holding the seed's old values change, so an editor's later edit is never overwritten.
Myeloid sarcoma (chloroma, granulocytic sarcoma) was filed as a synonym of leukaemic infiltration, which
made the quiz mark "chloroma" correct for the AML case; it becomes a diagnosis of its own. The case
texts are not rewritten here: `load_demo` never overwrites cases, and an editor corrects them.
"""

import importlib

from django.db import migrations

NOT_SYNONYMS = {
    "leukaemic-infiltration": {
        "myeloid sarcoma",
        "chloroma",
        "granulocytic sarcoma",
        "extramedullary leukaemia",
        "extramedullary leukemia",
    },
    "plasmacytoma": {"solitary plasmacytoma"},
    # Without "spinal" these usually mean the cranial lesion: accepted as answers, not searched.
    "epidural-haematoma": {"epidural hematoma", "epidural haematoma", "extradural haematoma", "extradural hematoma"},
}
ACCEPTED_ANSWERS = {
    "intraosseous-haemangioma": [
        "haemangioma",
        "hemangioma",
        "sacral haemangioma",
        "sacral hemangioma",
        "intraosseous sacral haemangioma",
        "intraosseous sacral hemangioma",
    ],
    "leukaemic-infiltration": [
        "leukaemic infiltrate",
        "leukemic infiltrate",
        "leukaemic infiltration with extraosseous extension",
        "leukemic infiltration with extraosseous extension",
    ],
    "epidural-haematoma": ["epidural haematoma", "epidural hematoma", "extradural haematoma", "extradural hematoma"],
}
MYELOID_SARCOMA = {
    "name": "Myeloid sarcoma",
    "synonyms": ["chloroma", "granulocytic sarcoma"],
    "editorial_summary": (
        "A mass-forming tumour of myeloid blasts outside the bone marrow, which may come before, with or after "
        "acute myeloid leukaemia. The WHO classification separates it from a plain leukaemic infiltrate. "
        "Chloroma and granulocytic sarcoma are older names for it."
    ),
}


def correct_seed(apps, schema_editor):
    Diagnosis = apps.get_model("cases", "Diagnosis")
    Region = apps.get_model("cases", "Region")
    changed = False
    for slug, wrong in NOT_SYNONYMS.items():
        diagnosis = Diagnosis.objects.filter(slug=slug).first()
        if diagnosis is None or not wrong & {name.lower() for name in diagnosis.synonyms}:
            continue
        diagnosis.synonyms = [name for name in diagnosis.synonyms if name.lower() not in wrong]
        diagnosis.accepted_answers = [*diagnosis.accepted_answers, *ACCEPTED_ANSWERS.get(slug, [])]
        diagnosis.save(update_fields=["synonyms", "accepted_answers"])
        changed = True
    haemangioma = Diagnosis.objects.filter(slug="intraosseous-haemangioma").first()
    if haemangioma is not None and not haemangioma.accepted_answers:
        haemangioma.accepted_answers = ACCEPTED_ANSWERS["intraosseous-haemangioma"]
        haemangioma.save(update_fields=["accepted_answers"])
    seeded = Diagnosis.objects.filter(slug="leukaemic-infiltration").exists()
    named = Diagnosis.objects.filter(slug="myeloid-sarcoma") | Diagnosis.objects.filter(name__iexact="myeloid sarcoma")
    if seeded and not named.exists():
        Diagnosis.objects.create(slug="myeloid-sarcoma", **MYELOID_SARCOMA)
    Region.objects.filter(slug="brain", parent__slug="head-and-neck").update(parent=None)
    if changed:
        backfill = importlib.import_module("cases.migrations.0006_search_backfill")
        backfill.build_search_documents(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("cases", "0008_content_provenance")]

    operations = [migrations.RunPython(correct_seed, migrations.RunPython.noop)]
