from django.urls import path

from authoring import views

urlpatterns = [
    path("cases/<slug:slug>/preview/", views.CasePreviewView.as_view(), name="case_preview"),
]
