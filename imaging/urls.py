from django.urls import path

from imaging import frame_values, views

urlpatterns = [
    path("images/<int:pk>/thumb.png", views.thumbnail, name="image_thumbnail"),
    path(
        "images/<int:pk>/<slug:preset>/<int:index>.thumb.png",
        views.frame_thumbnail,
        name="image_frame_thumbnail",
    ),
    path("images/<int:pk>/<slug:preset>/<int:index>.png", views.frame, name="image_frame"),
    path(
        "images/<int:pk>/values/<int:index>.raw",
        frame_values.frame_values_view,
        name="image_frame_values",
    ),
]
