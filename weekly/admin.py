"""The schedule, for editors: the permissions are theirs alone (migration 0002), so the admin's own
permission checks keep everyone else out."""

from django.contrib import admin

from cases.models import Case
from weekly.models import WeeklyCase


@admin.register(WeeklyCase)
class WeeklyCaseAdmin(admin.ModelAdmin):
    list_display = ["week_start", "case", "case_published"]
    list_select_related = ["case"]
    fields = ["week_start", "case"]

    @admin.display(boolean=True, description="Shown (case published)")
    def case_published(self, slot: WeeklyCase) -> bool:
        return slot.case.status == Case.Status.PUBLISHED
