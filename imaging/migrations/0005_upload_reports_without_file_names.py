"""Upload reports stored before this kept each file's name as uploaded ("DOE_JANE_MRN12345_ct1.dcm"):
name each file by its place in the upload and the hash of its stored image instead, and take the name
out of the reason it was refused for. The names cannot be brought back."""

import re

from django.db import migrations

HASH_DIGITS = 8  # as imaging.upload_reports (copied: a migration must not change with the app)


def _label(position, sha256):
    return f"file {position} (sha256 {sha256[:HASH_DIGITS]}…)" if sha256 else f"file {position}"


def _without(text, name):
    parts = {name, *re.split(r"[/\\:]", name)}
    for part in sorted((p for p in parts if len(p) >= 3), key=len, reverse=True):
        text = text.replace(part, "the file")
    return text


def forget_file_names(apps, schema_editor):
    Upload = apps.get_model("imaging", "Upload")
    Image = apps.get_model("imaging", "Image")
    for upload in Upload.objects.all().iterator():
        report = upload.report if isinstance(upload.report, list) else []
        if not any(isinstance(entry, dict) and "name" in entry for entry in report):
            continue
        hashes = dict(
            Image.objects.filter(pk__in=[e.get("image_id") for e in report if isinstance(e, dict)]).values_list(
                "pk", "sha256"
            )
        )
        for position, entry in enumerate(report, start=1):
            if not isinstance(entry, dict) or "name" not in entry:
                continue
            name = str(entry.pop("name") or "")
            entry["file"] = _label(position, hashes.get(entry.get("image_id"), ""))
            entry["reason"] = _without(str(entry.get("reason") or ""), name) if name else entry.get("reason", "")
        Upload.objects.filter(pk=upload.pk).update(report=report)


class Migration(migrations.Migration):
    dependencies = [("imaging", "0004_annotation_roles")]

    operations = [migrations.RunPython(forget_file_names, migrations.RunPython.noop)]
