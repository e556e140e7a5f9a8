"""Thin views of the unknown-case conference.

The presenter (the conference's own, nobody else: 404) steps through the cases; the audience follows by
polling ``state/``, which holds nothing but the state's version number, and reloads its page when the
version changes. Every page is rendered from the ``Stage`` (``programme.conference``), so nothing of a step
reaches anyone before the presenter opens it.
"""

import secrets

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from programme import services
from programme.conference import conference_stage, conference_tally, revealed_case
from programme.join_throttling import join_try_forgive, join_try_wait
from programme.models import CONFERENCE_CODE_LENGTH, Conference
from programme.views import visible_playlist

PARTICIPANT_KEY = "conference_participant"


class AnswerForm(forms.Form):
    # A form field, for its checks: stripped, required, at most 200 characters, no NUL (which PostgreSQL
    # refuses in text).
    answer = forms.CharField(max_length=200)


class JoinForm(forms.Form):
    code = forms.CharField(max_length=CONFERENCE_CODE_LENGTH)


def participant_of(request) -> str:
    """A user's id, or a random key kept in an anonymous resident's session (never their name)."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    if PARTICIPANT_KEY not in request.session:
        request.session[PARTICIPANT_KEY] = f"anon:{secrets.token_urlsafe(16)}"
    return request.session[PARTICIPANT_KEY]


class ConferenceCreateView(View):
    """POST from a playlist's page: a conference over its published cases, presented by the user."""

    def post(self, request, slug: str):
        if not request.user.has_perm("programme.present_conference"):
            raise Http404("No such playlist.")
        playlist = visible_playlist(request, slug)
        conference = services.conference_create(
            playlist=playlist,
            presenter=request.user,
            allow_anonymous=bool(request.POST.get("allow_anonymous")),
        )
        return redirect("conference_present", conference_id=conference.id)


class PresenterMixin:
    def get_conference(self, request, conference_id) -> Conference:
        return get_object_or_404(
            Conference.objects.presented_by(request.user).select_related("playlist"), id=conference_id
        )


@method_decorator(never_cache, name="dispatch")
class ConferencePresentView(PresenterMixin, View):
    """``/conference/<id>/present/``: the projected screen, the steps, the join code and the tally."""

    def get(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        stage = conference_stage(conference)
        tally = conference_tally(conference, revealed=tally_key_case(conference, stage))
        context = {
            "conference": conference,
            "stage": stage,
            "tally": tally,
            "answer_count": sum(row.count for row in tally),
            "join_url": request.build_absolute_uri(conference.get_absolute_url()),
        }
        return render(request, "programme/conference_present.html", context)


def tally_key_case(conference: Conference, stage):
    """The case that marks the tally: the stage's own once its diagnosis is open (no second query), else
    the revealed case after a step back, else None (no marks before the reveal)."""
    if stage is None or not stage.revealed:
        return None
    return stage.case or revealed_case(conference)


class ConferenceStepView(PresenterMixin, View):
    def post(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        direction = request.POST.get("direction", "next")
        if direction not in ("next", "previous"):
            return HttpResponseBadRequest("Unknown direction.")
        services.conference_move(conference=conference, forward=direction == "next")
        return redirect("conference_present", conference_id=conference.id)


class ConferenceSettingsView(PresenterMixin, View):
    def post(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        services.conference_settings(
            conference=conference,
            allow_anonymous=bool(request.POST.get("allow_anonymous")),
            end=bool(request.POST.get("end")),
        )
        return redirect("conference_present", conference_id=conference.id)


@method_decorator(never_cache, name="dispatch")
class ConferenceTallyView(PresenterMixin, View):
    """The tally as JSON, which the presenter's page refreshes without reloading (and leaving the viewer)."""

    def get(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        tally = conference_tally(conference, revealed=revealed_case(conference))
        rows = [{"answer": row.answer, "count": row.count, "mark": row.mark} for row in tally]
        return JsonResponse({"version": conference.version, "answers": rows})


class AudienceMixin:
    """Any logged-in user may join by the conference's link or code; anonymous residents when allowed."""

    def get_conference(self, request, conference_id) -> Conference | None:
        conference = get_object_or_404(Conference.objects.select_related("playlist"), id=conference_id)
        if not request.user.is_authenticated and not conference.allow_anonymous:
            return None
        return conference


@method_decorator(never_cache, name="dispatch")
class ConferenceAudienceView(AudienceMixin, View):
    def get(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        if conference is None:
            return redirect_to_login(request.get_full_path())
        stage = None if conference.ended else conference_stage(conference)
        mine = None
        if stage is not None and not stage.withdrawn:
            mine = conference.answers.filter(
                case_id=conference.case_id, participant=participant_of(request)
            ).first()
        context = {"conference": conference, "stage": stage, "mine": mine}
        return render(request, "programme/conference_audience.html", context)


@method_decorator(never_cache, name="dispatch")
class ConferenceStateView(AudienceMixin, View):
    """What the audience polls: the state's version alone (the page itself says what the step shows)."""

    def get(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        if conference is None:
            return JsonResponse({"error": "log in to follow this conference"}, status=403)
        return JsonResponse({"version": conference.version})


class ConferenceAnswerView(AudienceMixin, View):
    def post(self, request, conference_id):
        conference = self.get_conference(request, conference_id)
        if conference is None:
            return redirect_to_login(conference_url(conference_id))
        form = AnswerForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest("An answer of 1 to 200 characters, please.")
        services.conference_answer(
            conference=conference, participant=participant_of(request), answer=form.cleaned_data["answer"]
        )
        return redirect(conference)


def conference_url(conference_id) -> str:
    return reverse("conference_audience", args=[conference_id])


class ConferenceJoinView(View):
    """``/conference/join/``: the short code shown on the presenter's screen leads to the conference; tries
    are limited per address, right codes forgiven (``programme.join_throttling``)."""

    def get(self, request):
        return render(request, "programme/conference_join.html", {})

    def post(self, request):
        wait = join_try_wait(request)
        if wait:
            response = render(request, "programme/conference_join.html", {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        form = JoinForm(request.POST)
        code = form.cleaned_data["code"].lower() if form.is_valid() else ""
        conference = Conference.objects.running().filter(code=code).first() if code else None
        if conference is None:
            return render(
                request, "programme/conference_join.html", {"not_found": True, "code": code}, status=404
            )
        join_try_forgive(request)
        return redirect(conference)
