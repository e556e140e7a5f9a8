"""A first admin for the case record; the authoring issue turns it into a full case editor."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from cases.models import Case, Diagnosis, DifferentialItem, Finding, Reference, Region
from cases.services import publish_blockers
from imaging.models import Study


class CaseForm(forms.ModelForm):
    class Meta:
        model = Case
        fields = [
            "slug",
            "title",
            "age",
            "sex",
            "clinical_history",
            "final_diagnosis",
            "diagnosis_certainty",
            "diagnosis_proof",
            "treatment_outcome",
            "discussion",
            "teaching_points",
            "regions",
            "tags",
            "attribution",
            "licence",
            "status",
            "author",
        ]

    def clean_status(self):
        status = self.cleaned_data["status"]
        if status == Case.Status.PUBLISHED and self.instance.pk:
            for blocker in publish_blockers(self.instance):
                raise forms.ValidationError(f"Cannot publish: {blocker}.")
        return status

    def save(self, commit=True):
        if self.cleaned_data["status"] == Case.Status.PUBLISHED and not self.instance.published_at:
            self.instance.published_at = timezone.now()
        return super().save(commit)


class StudyInline(admin.TabularInline):
    model = Study
    extra = 0
    show_change_link = True


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
    form = CaseForm
    list_display = ["title", "slug", "status", "final_diagnosis", "author", "updated_at"]
    list_filter = ["status", "regions"]
    search_fields = ["title", "slug", "final_diagnosis__name"]
    autocomplete_fields = ["final_diagnosis", "regions"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [FindingInline, DifferentialItemInline, ReferenceInline, StudyInline]

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
