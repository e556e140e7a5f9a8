"""Conferences remember which cases have been revealed, so that their answers stay closed after "Back".

For a conference already running, the furthest case it reached is the later of its current case and the last
case with answers: every case before that one was revealed on the way (forward goes through the diagnosis).
That case counts as revealed too when the diagnosis is open or the presenter has gone back from it, since
whether it was shown is not recorded; closing a case's answers is safer than leaving a seen one open.
"""

from django.db import migrations, models

DIAGNOSIS = 4


def backfill(apps, schema_editor):
    Conference = apps.get_model("programme", "Conference")
    ConferenceAnswer = apps.get_model("programme", "ConferenceAnswer")
    for conference in Conference.objects.all():
        answered = set(ConferenceAnswer.objects.filter(conference=conference).values_list("case_id", flat=True))
        furthest = max([conference.position] + [i for i, pk in enumerate(conference.case_ids) if pk in answered])
        past = furthest > conference.position or conference.step >= DIAGNOSIS
        conference.revealed_case_ids = conference.case_ids[: furthest + (1 if past else 0)]
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
