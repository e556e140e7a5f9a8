"""Diagnoses and regions in the admin; the case editor is ``authoring/admin.py``."""

from django.contrib import admin

from cases.admin_forms import DiagnosisForm
from cases.models import Diagnosis, Region


@admin.register(Diagnosis)
class DiagnosisAdmin(admin.ModelAdmin):
    form = DiagnosisForm
    list_display = ["name", "slug"]
    search_fields = ["name", "synonyms"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "order"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
