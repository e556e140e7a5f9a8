from django.urls import path

from cases import preferences, views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("cases/", views.CaseListView.as_view(), name="case_list"),
    path("cases/<slug:slug>/", views.CaseDetailView.as_view(), name="case_detail"),
    path("regions/<slug:slug>/", views.RegionDetailView.as_view(), name="region_detail"),
    path("diagnoses/", views.DiagnosisListView.as_view(), name="diagnosis_list"),
    path("diagnoses/<slug:slug>/", views.DiagnosisDetailView.as_view(), name="diagnosis_detail"),
    path("tags/<slug:slug>/", views.TagDetailView.as_view(), name="tag_detail"),
    path("preferences/hide-diagnoses/", preferences.hide_diagnoses_set, name="hide_diagnoses"),
]
