from django.apps import AppConfig


class QuizConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quiz"
    verbose_name = "Quiz"
    # Rows of the case that quiz owns, followed in each revision of the case (``authoring.history``,
    # which may not import quiz, reads this from the app registry).
    case_history_follows = ("questions", "quiz_format", "localisation_questions")
    # How those rows differ between two revisions, in words, for the versions page (a dotted path).
    case_history_changes = "quiz.history.case_history_changes"

    def ready(self):
        from cases import extensions as case_extensions
        from imaging import extensions as image_extensions
        from quiz.localisation_admin import LesionTargetInline, LocalisationQuestionInline

        # Lesion targets are drawn on imaging's image page; their questions are listed in the case editor.
        for hook, inline in [
            (image_extensions.image_admin_inlines, LesionTargetInline),
            (case_extensions.case_admin_inlines, LocalisationQuestionInline),
        ]:
            if inline not in hook:
                hook.append(inline)
