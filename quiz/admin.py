from django.contrib import admin

from quiz.models import QuizAttempt, ReviewCard


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
