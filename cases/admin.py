"""A first admin for the case record; the authoring issue turns it into a full case editor."""

from django.contrib import admin

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region


class FindingInline(admin.StackedInline):
    model = Finding
    extra = 0


class DifferentialItemInline(admin.TabularInline):
    model = DifferentialItem
    extra = 0
    autocomplete_fields = ["diagnosis"]


class ReferenceInline(admin.TabularInline):
    model = Reference
    extra = 0


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "final_diagnosis", "author", "updated_at"]
    list_filter = ["status", "regions"]
    search_fields = ["title", "slug", "final_diagnosis__name"]
    autocomplete_fields = ["final_diagnosis", "regions"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [FindingInline, DifferentialItemInline, ReferenceInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("final_diagnosis", "author")


@admin.register(Diagnosis)
class DiagnosisAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "synonyms"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "order"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
