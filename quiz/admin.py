import reversion
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.forms.models import BaseInlineFormSet

from cases import extensions
from cases.models import Case
from cases.rules import editable_cases, may_edit
from quiz.models import (
    MAX_OPTIONS,
    MIN_OPTIONS,
    Question,
    QuestionOption,
    QuizAttempt,
    QuizFormat,
    ReviewCard,
)
from quiz.questions import is_askable


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "case", "guess", "mark", "override", "matched_name"]
    list_filter = ["mark", "override"]
    search_fields = ["user__username", "guess", "matched_name"]
    raw_id_fields = ["user", "case"]
    # Attempts are the residents' record; staff may read or delete them, not rewrite them.
    readonly_fields = [
        "token",
        "user",
        "case",
        "guess",
        "differential",
        "mark",
        "override",
        "matched_name",
        "question_marks",
        "quiz_session",
        "created_at",
    ]


@admin.register(ReviewCard)
class ReviewCardAdmin(admin.ModelAdmin):
    list_display = ["user", "case", "due_on", "interval_days", "repetitions", "easiness"]
    list_filter = ["due_on"]
    search_fields = ["user__username"]
    raw_id_fields = ["user", "case"]
    readonly_fields = ["easiness", "interval_days", "repetitions", "due_on", "last_quality", "reviewed_at"]


# Questions. The case editor (authoring) lists a case's questions and its quiz format among its own rows,
# under its own case-row rules, through ``cases.extensions.case_admin_inlines``: quiz and authoring do not
# import each other. Each question's options are written on the question's page below.


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ["order", "stem", "options_state"]
    readonly_fields = ["options_state"]
    show_change_link = True
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})}}
    verbose_name_plural = (
        "Single-best-answer questions (save, then write each question's options on its page)"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("options")

    @admin.display(description="Options")
    def options_state(self, question):
        if question.pk is None:
            return "Written on the question's page once the case is saved."
        options = question.options.all()
        correct = sum(option.is_correct for option in options)
        state = "complete" if is_askable(question) else "not asked yet: needs 3 to 6 options, one correct"
        return f"{len(options)} options, {correct} correct — {state}"


class QuizFormatInline(admin.StackedInline):
    model = QuizFormat
    extra = 0
    max_num = 1
    can_delete = True
    verbose_name_plural = "Quiz format (without it: the diagnosis, then any questions)"


extensions.case_admin_inlines += [QuestionInline, QuizFormatInline]


class OptionFormSet(BaseInlineFormSet):
    """3 to 6 options, exactly one correct; a new option takes the first free position (1 to 6)."""

    def clean(self):
        super().clean()
        kept = [
            form
            for form in self.forms
            if hasattr(form, "cleaned_data") and form.cleaned_data and form not in self.deleted_forms
        ]
        if sum(bool(form.cleaned_data.get("is_correct")) for form in kept) != 1:
            raise ValidationError("Mark exactly one option as correct.")
        taken = {form.cleaned_data.get("order") for form in kept if form.cleaned_data.get("order")}
        if len(taken) < len([form for form in kept if form.cleaned_data.get("order")]):
            raise ValidationError("Each option needs its own position.")
        free = iter(sorted(set(range(1, MAX_OPTIONS + 1)) - taken))
        for form in kept:
            if not form.cleaned_data.get("order"):
                form.cleaned_data["order"] = form.instance.order = next(free)

    def save(self, commit=True):
        if commit:
            # The database allows one correct option at a time: the one losing the mark is cleared first,
            # whichever order the forms are saved in.
            losing = [
                form.instance.pk
                for form in self.initial_forms
                if form.instance.pk
                and "is_correct" in form.changed_data
                and not form.cleaned_data.get("is_correct")
            ]
            deleted = [form.instance.pk for form in self.deleted_forms if form.instance.pk]
            QuestionOption.objects.filter(pk__in=[*losing, *deleted]).update(is_correct=False)
        return super().save(commit)


class OptionInline(admin.StackedInline):
    model = QuestionOption
    formset = OptionFormSet
    fields = [("text", "is_correct", "order"), "rationale"]
    min_num, max_num = MIN_OPTIONS, MAX_OPTIONS
    extra = 0
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 80})}}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "order":
            field.required = False
            field.help_text = "1 to 6; left empty, the first free one. Residents see the options shuffled."
        return field

    def get_formset(self, request, obj=None, **kwargs):
        # The admin passes min_num and max_num to the formset but not whether to enforce them.
        return super().get_formset(request, obj, validate_min=True, validate_max=True, **kwargs)

    # The options follow their question's case (checked by QuestionAdmin).
    def has_add_permission(self, request, obj=None):
        return obj is None or may_edit(request.user, obj.case)

    has_change_permission = has_delete_permission = has_add_permission


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """A question's page: its case, stem and options. Editable by whoever may edit the case
    (``cases.rules.may_edit``: faculty on their own drafts, editors on every case); each save is a
    revision of the case, like a save in the case editor."""

    list_display = ["__str__", "case", "order"]
    list_select_related = ["case"]
    search_fields = ["stem", "case__title"]
    autocomplete_fields = ["case"]
    fields = ["case", "order", "stem"]
    inlines = [OptionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=Case.objects.visible_to(request.user))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_edit(request.user, obj.case))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_edit(request.user, obj.case))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "case":
            kwargs["queryset"] = editable_cases(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["case"] if obj is not None else []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic(), reversion.create_revision():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The case follows its questions and their options: the revision is the whole case, as it now is.
        case_revision_add(request, form.instance.case, f"Question {'changed' if change else 'added'}.")

    def delete_model(self, request, obj):
        case = obj.case
        with reversion.create_revision():
            super().delete_model(request, obj)
            case_revision_add(request, case, "Question deleted.")


def case_revision_add(request, case: Case, comment: str) -> None:
    reversion.add_to_revision(case)
    reversion.set_user(request.user)
    reversion.set_comment(comment)
