"""The schedule of the case of the week."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('cases', '0011_search_terms_on_every_database'),
    ]

    operations = [
        migrations.CreateModel(
            name='WeeklyCase',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('week_start', models.DateField(help_text='The Monday the week begins.')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('case', models.ForeignKey(help_text='A published case. Should it be unpublished later, its week shows no case.', limit_choices_to={'status': 'published'}, on_delete=django.db.models.deletion.CASCADE, related_name='weekly_slots', to='cases.case')),
            ],
            options={
                'verbose_name': 'case of the week',
                'verbose_name_plural': 'cases of the week',
                'ordering': ['-week_start'],
                'constraints': [models.UniqueConstraint(fields=('week_start',), name='weekly_case_one_per_week'), models.CheckConstraint(condition=models.Q(('week_start__iso_week_day', 1)), name='weekly_case_monday')],
            },
        ),
    ]
