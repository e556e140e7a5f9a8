"""Conferences remember which cases have been revealed, so that their answers stay closed after "Back".

A conference already running has revealed every case before its current one, and the current one if its
diagnosis is open: the steps only ever move forward through the cases.
"""

from django.db import migrations, models

DIAGNOSIS = 4


def backfill(apps, schema_editor):
    Conference = apps.get_model("programme", "Conference")
    for conference in Conference.objects.all():
        shown = conference.position + (1 if conference.step >= DIAGNOSIS else 0)
        conference.revealed_case_ids = conference.case_ids[:shown]
        conference.save(update_fields=["revealed_case_ids"])


class Migration(migrations.Migration):
    dependencies = [("programme", "0004_conference_roles")]

    operations = [
        migrations.AddField(
            model_name="conference",
            name="revealed_case_ids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
