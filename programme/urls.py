from django.urls import path

from programme import conference_views, views

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
    path(
        "playlists/<slug:slug>/conference/",
        conference_views.ConferenceCreateView.as_view(),
        name="conference_create",
    ),
    path("conference/join/", conference_views.ConferenceJoinView.as_view(), name="conference_join"),
    path(
        "conference/<uuid:conference_id>/",
        conference_views.ConferenceAudienceView.as_view(),
        name="conference_audience",
    ),
    path(
        "conference/<uuid:conference_id>/state/",
        conference_views.ConferenceStateView.as_view(),
        name="conference_state",
    ),
    path(
        "conference/<uuid:conference_id>/answer/",
        conference_views.ConferenceAnswerView.as_view(),
        name="conference_answer",
    ),
    path(
        "conference/<uuid:conference_id>/present/",
        conference_views.ConferencePresentView.as_view(),
        name="conference_present",
    ),
    path(
        "conference/<uuid:conference_id>/present/step/",
        conference_views.ConferenceStepView.as_view(),
        name="conference_step",
    ),
    path(
        "conference/<uuid:conference_id>/present/settings/",
        conference_views.ConferenceSettingsView.as_view(),
        name="conference_settings",
    ),
    path(
        "conference/<uuid:conference_id>/present/tally/",
        conference_views.ConferenceTallyView.as_view(),
        name="conference_tally",
    ),
]
