"""A visitor's browsing preference: hide diagnoses on browsing pages, to study without spoilers.

Kept in the Django session, so it works before logging in and follows a resident who logs in later.
Only the body's class changes (``spoiler`` elements are then hidden by the style sheet), so cached
page parts stay the same for everyone.
"""

from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

SESSION_KEY = "hide_diagnoses"


@require_POST
def hide_diagnoses_set(request):
    request.session[SESSION_KEY] = request.POST.get("hide") == "1"
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("home")
    return HttpResponseRedirect(next_url)


def preferences(request) -> dict:
    """Context processor. The session is read lazily: without a session cookie this costs no query."""
    return {"hide_diagnoses": bool(request.session.get(SESSION_KEY, False))}
