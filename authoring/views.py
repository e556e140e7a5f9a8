"""The staff preview: a case exactly as residents will see it, whatever its state."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404

from authoring import rules
from cases.views import CaseDetailView


class CasePreviewView(LoginRequiredMixin, CaseDetailView):
    """The case page with a "Preview" banner, for those who author cases (faculty and editors).

    Which cases: those ``visible_to`` allows them (faculty: their own, those in review and published
    ones; editors: all). Anyone else gets 404, so the preview discloses nothing; anonymous visitors
    are sent to log in.
    """

    template_name = "authoring/case_preview.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not rules.may_author(request.user):
            raise Http404("No such case.")
        return super().dispatch(request, *args, **kwargs)
