from django.apps import AppConfig


class QuizConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quiz"
    verbose_name = "Quiz"
    # Rows of the case that quiz owns, followed in each revision of the case (``authoring.history``,
    # which may not import quiz, reads this from the app registry).
    case_history_follows = ("questions", "quiz_format", "localisation_questions")
