from django.urls import path

from programme import views

urlpatterns = [
    path("playlists/", views.PlaylistListView.as_view(), name="playlist_list"),
    path("playlists/<slug:slug>/", views.PlaylistDetailView.as_view(), name="playlist_detail"),
    path(
        "playlists/<slug:slug>/study/<int:position>/",
        views.PlaylistStudyView.as_view(),
        name="playlist_study",
    ),
    path("playlists/<slug:slug>/quiz/", views.PlaylistQuizView.as_view(), name="playlist_quiz"),
    path("assignments/", views.AssignmentListView.as_view(), name="assignment_list"),
    path("assignments/<int:pk>/", views.AssignmentDetailView.as_view(), name="assignment_detail"),
    path(
        "assignments/<int:pk>/report.csv",
        views.AssignmentReportCsvView.as_view(),
        name="assignment_report_csv",
    ),
    path("assignments/<int:pk>/quiz/", views.AssignmentQuizView.as_view(), name="assignment_quiz"),
    path(
        "assignments/<int:pk>/cases/<int:position>/",
        views.AssignmentCaseView.as_view(),
        name="assignment_case",
    ),
    path(
        "assignments/<int:pk>/cases/<int:position>/done/",
        views.AssignmentCaseDoneView.as_view(),
        name="assignment_case_done",
    ),
]
