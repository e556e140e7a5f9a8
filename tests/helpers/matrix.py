"""What the permission matrices share: a row for every page of every model registered in the admin."""

from django.apps import apps
from django.contrib import admin


def admin_page_cells(admin_models: dict, *, include, missing: str) -> list[tuple[str, str, str]]:
    """(name, URL name, expected outcomes) for the changelist, add, change, delete and history pages of each
    model registered in the admin whose app `include` accepts. A model with no entry in `admin_models`
    gets one row expecting `missing`, which fails until its rows are written."""
    cells = []
    for model in apps.get_models():
        if not admin.site.is_registered(model) or not include(model._meta.app_label):
            continue
        label = model._meta.label
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages = admin_models.get(label)
        if pages is None:
            cells.append((f"{label} has no rows in the matrix", f"{info}_changelist", missing))
            continue
        cells.append((f"{label} changelist", f"{info}_changelist", pages["changelist"]))
        cells.append((f"{label} add", f"{info}_add", pages["add"]))
        for attribute, outcomes in pages["objects"].items():
            for view, expected in zip(["change", "delete", "history"], outcomes, strict=True):
                cells.append((f"{label} {view} {attribute}", f"{info}_{view}:{attribute}", expected))
    return cells
