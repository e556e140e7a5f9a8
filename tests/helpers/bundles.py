"""Bundles for import tests: hostile ones, edited manifests, and what an import stored."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pydicom
from taggit.models import Tag

from cases.models import Case, Diagnosis, Region


def media_files(media_root: Path) -> set[str]:
    return (
        {str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()}
        if media_root.exists()
        else set()
    )


def stored_images(media_root: Path) -> set[str]:
    return {name for name in media_files(media_root) if name.startswith("images/")}


def empty_the_archive():
    Case.objects.all().delete()
    Diagnosis.objects.all().delete()
    Tag.objects.all().delete()
    while Region.objects.exists():  # leaves first: a parent is protected while it has children
        Region.objects.filter(children__isnull=True).delete()


def rewrite(bundle: bytes, change) -> bytes:
    """A copy of the bundle with ``change(entries)`` applied to its {name: bytes} entries."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    change(entries)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, content in entries.items():
            target.writestr(name, content)
    return out.getvalue()


def manifest_edit(edit):
    def change(entries):
        manifest = json.loads(entries["manifest.json"])
        edit(manifest, entries)
        entries["manifest.json"] = json.dumps(manifest).encode()

    return change


def first_image(entries) -> str:
    return next(name for name in entries if name.startswith("images/"))


def identified(entries):
    """The first image as a file that still names the patient, listed with its right checksum."""
    name = first_image(entries)
    dataset = pydicom.dcmread(io.BytesIO(entries[name]))
    dataset.PatientName = "Doe^Jane"
    dataset.PatientIdentityRemoved = "NO"
    out = io.BytesIO()
    dataset.save_as(out)
    manifest = json.loads(entries["manifest.json"])
    entries[name] = out.getvalue()
    manifest["files"][name] = hashlib.sha256(entries[name]).hexdigest()
    entries["manifest.json"] = json.dumps(manifest).encode()


def html_as_png(entries):
    """An image that claims to be a stored PNG but is HTML."""
    manifest = json.loads(entries["manifest.json"])
    path = f"cases/{manifest['cases'][0]}.json"
    case = json.loads(entries[path])
    image = case["studies"][0]["series"][0]["images"][0]
    image["kind"], image["file"] = "raster", "images/page.png"
    entries["images/page.png"] = b"<html><script>alert(1)</script></html>"
    entries[path] = json.dumps(case).encode()
    for name in ("images/page.png", path):
        manifest["files"][name] = hashlib.sha256(entries[name]).hexdigest()
    entries["manifest.json"] = json.dumps(manifest).encode()


BAD_BUNDLES = {
    "wrong checksum": lambda e: e.__setitem__(first_image(e), e[first_image(e)] + b"tampered"),
    "missing file": lambda e: e.pop(first_image(e)),
    "unknown version": manifest_edit(lambda m, e: m.__setitem__("version", 99)),
    "malformed json": manifest_edit(
        lambda m, e: (
            e.__setitem__("cases/lumbosacral-mri-and-chest-ct.json", b"{not json"),
            m["files"].__setitem__(
                "cases/lumbosacral-mri-and-chest-ct.json", hashlib.sha256(b"{not json").hexdigest()
            ),
        )
    ),
    "hostile path": manifest_edit(
        lambda m, e: (
            e.__setitem__("../escape.dcm", b"x"),
            m["files"].__setitem__("../escape.dcm", hashlib.sha256(b"x").hexdigest()),
        )
    ),
    "no manifest": lambda e: e.pop("manifest.json"),
    "not de-identified": identified,
    "html as png": html_as_png,
}
