from django.urls import path

from quiz import views

urlpatterns = [
    path("cases/<slug:slug>/quiz/", views.CaseQuizView.as_view(), name="case_quiz"),
    path(
        "cases/<slug:slug>/quiz/questions/<int:question_id>/",
        views.QuestionView.as_view(),
        name="quiz_question",
    ),
    path(
        "cases/<slug:slug>/quiz/localise/<int:question_id>/",
        views.LocalisationView.as_view(),
        name="quiz_localisation",
    ),
    path("cases/<slug:slug>/quiz/preview/", views.QuizPreviewView.as_view(), name="quiz_preview"),
    path("cases/<slug:slug>/quiz/override/", views.OverrideView.as_view(), name="quiz_override"),
    path("quiz/", views.QuizStartView.as_view(), name="quiz_start"),
    path("quiz/session/<uuid:session_id>/", views.QuizSessionView.as_view(), name="quiz_session"),
    path("quiz/session/<uuid:session_id>/score/", views.QuizScoreView.as_view(), name="quiz_score"),
    path("quiz/review/", views.ReviewView.as_view(), name="quiz_review"),
    path("quiz/progress/", views.ProgressView.as_view(), name="quiz_progress"),
]
