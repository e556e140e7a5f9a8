from django.urls import path

from imaging import views

urlpatterns = [
    path("images/<int:pk>/thumb.png", views.thumbnail, name="image_thumbnail"),
    path(
        "images/<int:pk>/<slug:preset>/<int:index>.thumb.png",
        views.frame_thumbnail,
        name="image_frame_thumbnail",
    ),
    path("images/<int:pk>/<slug:preset>/<int:index>.png", views.frame, name="image_frame"),
]
