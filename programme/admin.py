"""Playlists (faculty and editors), cohorts and assignments (programme directors) in the admin.

Faculty see and change their own playlists; holders of ``view_any_playlist`` (editors, directors) see
every playlist, and change them if they also hold ``change_playlist`` (editors). A playlist's cases are
chosen by autocomplete among published cases, and ordered by their order numbers or by dragging a row
(``static/programme/playlist_order.js`` renumbers the rows; the numbers are what is saved).
"""

from django import forms
from django.contrib import admin
from django.db.models import Count

from cases.models import Case
from programme import services
from programme.models import Assignment, Cohort, Playlist, PlaylistItem

NO_LONGER_PUBLISHED = "A case no longer published"


def case_label(case: Case) -> str:
    return case.title if case.status == Case.Status.PUBLISHED else NO_LONGER_PUBLISHED


class PlaylistItemForm(forms.ModelForm):
    class Meta:
        model = PlaylistItem
        fields = ["order", "case", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "cols": 50})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        case_field = self.fields.get("case")
        if case_field is None:  # read-only (view permission only): see PlaylistItemInline.case_shown
            return
        if self.instance.pk:
            # The row's own case stays valid when it has been unpublished since; its title is not shown,
            # since the person editing the playlist may not be allowed to see an unpublished case.
            case_field.queryset = Case.objects.filter(status=Case.Status.PUBLISHED) | Case.objects.filter(
                pk=self.instance.case_id
            )
        case_field.label_from_instance = lambda case: (
            case.title if case.status == Case.Status.PUBLISHED else NO_LONGER_PUBLISHED
        )


class PlaylistItemInline(admin.TabularInline):
    model = PlaylistItem
    form = PlaylistItemForm
    extra = 1
    autocomplete_fields = ["case"]
    classes = ["playlist-items"]
    readonly_fields = ["case_shown"]

    def get_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return ["order", "case", "note"]
        return ["order", "case_shown", "note"]  # read-only: the case through the same label as the form

    @admin.display(description="case")
    def case_shown(self, item: PlaylistItem) -> str:
        return case_label(item.case)


class PlaylistAdmin(admin.ModelAdmin):
    list_display = ["title", "visibility", "owner", "case_count", "updated_at"]
    list_filter = ["visibility"]
    search_fields = ["title"]
    readonly_fields = ["slug", "owner"]
    fields = ["title", "slug", "visibility", "introduction", "owner"]
    inlines = [PlaylistItemInline]

    class Media:
        js = ["programme/playlist_order.js"]

    def get_queryset(self, request):
        playlists = (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(case_count=Count("items"))
            .order_by("title", "pk")
        )
        if request.user.has_perm("programme.view_any_playlist"):
            return playlists
        return playlists.filter(owner=request.user)

    @admin.display(description="cases", ordering="case_count")
    def case_count(self, playlist: Playlist) -> int:
        return playlist.case_count

    def save_model(self, request, obj, form, change):
        if not change:
            obj.owner = request.user
            services.playlist_assign_slug(playlist=obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.playlist_renumber(playlist=form.instance)


class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "resident_count", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["residents"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(resident_count=Count("residents")).order_by("name")

    @admin.display(description="residents", ordering="resident_count")
    def resident_count(self, cohort: Cohort) -> int:
        return cohort.resident_count


class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["playlist", "cohort", "mode", "opens_on", "due_on", "created_by"]
    list_filter = ["mode", "cohort"]
    search_fields = ["playlist__title", "cohort__name"]
    autocomplete_fields = ["playlist", "cohort"]
    readonly_fields = ["created_by"]
    fields = ["playlist", "cohort", "mode", ("opens_on", "due_on"), "created_by"]
    date_hierarchy = "due_on"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("playlist", "cohort", "created_by")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def view_on_site(self, obj: Assignment) -> str:
        return obj.get_absolute_url()


admin.site.register(Playlist, PlaylistAdmin)
admin.site.register(Cohort, CohortAdmin)
admin.site.register(Assignment, AssignmentAdmin)
