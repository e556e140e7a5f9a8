"""What the site's shared templates show of the programme, without ``cases`` knowing of it.

``base.html`` adds ``nav_links`` to its menu; the home page shows ``home_panels`` (the resident's
assignments due soon). Both are lazy: a page that does not show them reads nothing.
"""

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from programme.progress import resident_overview


def _nav_links(request) -> list[dict[str, str]]:
    links = [{"url": reverse("playlist_list"), "label": "Playlists"}]
    if request.user.is_authenticated:
        links.append({"url": reverse("assignment_list"), "label": "Assignments"})
    return links


def _home_panels(request) -> list[str]:
    if not request.user.is_authenticated:
        return []
    overview = resident_overview(request.user)
    if not (overview.due_soon or overview.open):
        return []
    context = {"overview": overview, "today": timezone.localdate()}
    return [render_to_string("programme/includes/due_soon.html", context, request=request)]


def programme(request) -> dict:
    return {
        "nav_links": SimpleLazyObject(lambda: _nav_links(request)),
        "home_panels": SimpleLazyObject(lambda: _home_panels(request)),
    }
