from django.apps import AppConfig
from django.db.models.signals import post_save


class ProgrammeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "programme"
    verbose_name = "Teaching programme"

    def ready(self) -> None:
        from programme.receivers import quiz_attempt_saved
        from quiz.models import QuizAttempt

        post_save.connect(quiz_attempt_saved, sender=QuizAttempt, dispatch_uid="programme-quiz-attempt-saved")
