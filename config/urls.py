from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from config.admin_guards import tag_merge, view_on_site
from config.health import health


def favicon(request):
    # Resolved per request: the hashed static name exists only once collectstatic has run.
    return HttpResponsePermanentRedirect(static("favicon.ico"))


urlpatterns = [
    # Guarded versions of two admin pages, listed before the admin so that they take their place.
    path("admin/r/<path:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site)),
    path("admin/taggit/tag/merge-tags/", admin.site.admin_view(tag_merge)),
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's among them).
    path("favicon.ico", favicon),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("imaging.urls")),
    path("", include("quiz.urls")),
    path("", include("authoring.urls")),
    path("", include("weekly.urls")),
    path("", include("programme.urls")),
    path("", include("cases.urls")),
]
