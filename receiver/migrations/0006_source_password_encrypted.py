"""A DICOMweb source's password, stored encrypted (receiver/secrets.py) instead of as it was typed."""

from django.db import migrations, models

from receiver.secrets import secret_decrypt, secret_encrypt


def encrypt_passwords(apps, schema_editor):
    DicomWebSource = apps.get_model("receiver", "DicomWebSource")
    for source in DicomWebSource.objects.exclude(password=""):
        source.password_encrypted = secret_encrypt(source.password)
        source.save(update_fields=["password_encrypted"])


def decrypt_passwords(apps, schema_editor):
    DicomWebSource = apps.get_model("receiver", "DicomWebSource")
    for source in DicomWebSource.objects.exclude(password_encrypted=""):
        source.password = secret_decrypt(source.password_encrypted)
        source.save(update_fields=["password"])


class Migration(migrations.Migration):
    dependencies = [("receiver", "0005_received_study_jobs")]

    operations = [
        migrations.AddField(
            model_name="dicomwebsource",
            name="password_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(encrypt_passwords, decrypt_passwords),
        migrations.RemoveField(model_name="dicomwebsource", name="password"),
    ]
