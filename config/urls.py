from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("imaging.urls")),
    path("", include("quiz.urls")),
    path("", include("authoring.urls")),
    path("", include("cases.urls")),
]
