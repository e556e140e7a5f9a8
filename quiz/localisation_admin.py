"""Point-to-the-lesion questions in the admin: targets drawn on the image's page (an inline imaging shows
through ``imaging.extensions.image_admin_inlines``), questions listed in the case editor (through
``cases.extensions.case_admin_inlines``). Both are added in ``QuizConfig.ready``.

Questions and targets are part of the case: whoever may edit the case (``cases.rules.may_edit``: faculty
on their own drafts, editors on every case) may change them, and each change is a revision of the case.
"""

from django.contrib import admin
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.urls import reverse
from django.utils.html import format_html

from cases.rules import may_edit
from imaging.models import Image, Series
from quiz.lesion_target_forms import (
    TARGET_FORM_FIELDS,
    LesionTargetForm,
    LesionTargetFormSet,
    LocalisationQuestionForm,
)
from quiz.models import LesionTarget, LocalisationQuestion


class LesionTargetInline(admin.TabularInline):
    """An image's targets, one row per region drawn on the board above (``static/js/lesion_targets.js``
    fills the rows, converting between the board's display and the image's pixels)."""

    model = LesionTarget
    fk_name = "image"
    form = LesionTargetForm
    formset = LesionTargetFormSet
    extra = 0
    verbose_name = "lesion target"
    verbose_name_plural = (
        "Lesion targets of “point to the lesion” questions (each row is one region drawn above)"
    )
    fields = TARGET_FORM_FIELDS

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("image__series__study__case")  # each row's name

    class Media:
        js = ["js/lesion_targets.js"]
        css = {"all": ["css/lesion_targets.css"]}

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # The revision the formset records names who saved; the class is made for this request.
        return type(formset.__name__, (formset,), {"editor": request.user})

    def _case_allows(self, request, image) -> bool:
        return image is None or may_edit(request.user, image.series.study.case)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._case_allows(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._case_allows(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._case_allows(request, obj)


def draw_url(question: LocalisationQuestion) -> str | None:
    """The image page to draw `question`'s targets on: the image of its first target, else the first
    image of its series; with the question chosen on the board."""
    image_id = question.first_target_image or question.first_series_image
    if image_id is None:
        return None
    return f"{reverse('admin:imaging_image_change', args=[image_id])}?question={question.pk}"


class SeriesChoicesReadOnce:
    """Every row offers the same series: read once for the formset, not once for each row's select."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        field = form.fields["series"]
        if not hasattr(self, "_series_choices"):
            self._series_choices = list(field.choices)
        field.choices = self._series_choices


class LocalisationQuestionInline(admin.TabularInline):
    model = LocalisationQuestion
    form = LocalisationQuestionForm
    extra = 0
    fields = ["order", "series", "prompt", "targets_state"]
    readonly_fields = ["targets_state"]
    verbose_name = "“point to the lesion” question"
    verbose_name_plural = (
        "“Point to the lesion” questions (save, then draw each question's targets on its series' images)"
    )

    def get_queryset(self, request):
        first_target = LesionTarget.objects.filter(question=OuterRef("pk")).order_by("image", "frame", "pk")
        first_image = Image.objects.filter(series=OuterRef("series")).order_by("order", "pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                target_total=Count("targets"),
                first_target_image=Subquery(first_target.values("image")[:1]),
                first_series_image=Subquery(first_image.values("pk")[:1]),
            )
            .prefetch_related(
                Prefetch("targets", queryset=LesionTarget.objects.only("question", "image", "frame"))
            )
        )

    def get_formset(self, request, obj=None, **kwargs):
        # The link to draw is for those who may draw (an inline instance serves one request).
        self.may_draw = obj is not None and may_edit(request.user, obj)
        # The case editor gives its rows its own form (``CaseRowForm``); this one checks the series too.
        formset = super().get_formset(request, obj, **{**kwargs, "form": LocalisationQuestionForm})
        # Only the case's own series are offered (the form refuses any other); the class is this request's.
        series = Series.objects.filter(study__case=obj) if obj is not None else Series.objects.none()
        field = formset.form.base_fields["series"]
        field.queryset = series.select_related("study")
        field.label_from_instance = lambda series: f"{series.study.get_modality_display()} · {series.label}"
        return type(formset.__name__, (SeriesChoicesReadOnce, formset), {})

    @admin.display(description="Targets")
    def targets_state(self, question):
        if question.pk is None:
            return "Save the case, then draw the targets on the series' images."
        frames = {(target.image_id, target.frame) for target in question.targets.all()}
        total = getattr(question, "target_total", len(frames))
        url = draw_url(question)
        if url is None:
            return "No images in its series yet."
        count = (
            format_html(
                "{} target{} on {} frame{}",
                total,
                "" if total == 1 else "s",
                len(frames),
                "" if len(frames) == 1 else "s",
            )
            if total
            else "None yet"
        )
        if not getattr(self, "may_draw", False):
            return count
        return format_html('{} · <a href="{}" class="draw-targets">Draw targets</a>', count, url)
