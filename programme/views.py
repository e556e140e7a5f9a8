"""Thin views of playlists and assignments. Who sees what is decided by the querysets
(``Playlist.objects.visible_to``, ``Assignment.objects.visible_to`` / ``for_resident``); only published
cases are ever opened, and a case unpublished since it was assigned is shown without its title.
"""

import csv
import random

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from cases.models import Case
from programme import services
from programme.models import Assignment, Conference, Playlist
from programme.progress import assignment_cases, assignment_report, resident_overview
from quiz.session_state import quiz_session_start

QUIZ_SOURCE = "playlist"
QUIZ_ORDERS = ("playlist", "shuffled")
REPORT_SORTS = ("resident", "completion", "accuracy", "last_activity")
# The report's "Sort by" choices, for phones, where the table's header (its sort links) is not shown.
REPORT_SORT_CHOICES = (
    ("resident", "Resident, A to Z"),
    ("-resident", "Resident, Z to A"),
    ("-completion", "Completion, highest first"),
    ("completion", "Completion, lowest first"),
    ("-accuracy", "Accuracy, highest first"),
    ("accuracy", "Accuracy, lowest first"),
    ("-last_activity", "Last activity, latest first"),
    ("last_activity", "Last activity, earliest first"),
)


def visible_playlist(request, slug: str) -> Playlist:
    return get_object_or_404(Playlist.objects.visible_to(request.user), slug=slug)


def published_items(playlist: Playlist):
    return (
        playlist.items.filter(case__status=Case.Status.PUBLISHED)
        .select_related("case")
        .only(
            "playlist_id", "order", "note", "case__id", "case__slug", "case__title", "case__age", "case__sex"
        )
    )


class PlaylistListView(TemplateView):
    """``/playlists/``: the public playlists, each with its number of published cases."""

    template_name = "programme/playlist_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["playlists"] = Playlist.objects.listed().with_case_counts()
        context["conferences"] = Conference.objects.presented_by(user).running().select_related("playlist")
        if user.is_authenticated:
            context["own_playlists"] = (
                Playlist.objects.filter(owner=user)
                .exclude(visibility=Playlist.Visibility.PUBLIC)
                .with_case_counts()
            )
        return context


class PlaylistDetailView(View):
    def get(self, request, slug: str):
        playlist = visible_playlist(request, slug)
        context = {"playlist": playlist, "items": list(published_items(playlist)), "orders": QUIZ_ORDERS}
        return render(request, "programme/playlist_detail.html", context)


class PlaylistStudyView(View):
    """``/playlists/<slug>/study/<n>/``: the n-th published case of the playlist, with its note."""

    def get(self, request, slug: str, position: int):
        playlist = visible_playlist(request, slug)
        items = list(published_items(playlist))
        if not 1 <= position <= len(items):
            raise Http404("No such case in this playlist.")
        item = items[position - 1]
        case = get_object_or_404(Case.objects.published().for_detail(), pk=item.case_id)
        context = {
            "playlist": playlist,
            "item": item,
            "case": case,
            "position": position,
            "count": len(items),
            "previous_url": reverse("playlist_study", args=[slug, position - 1]) if position > 1 else None,
            "next_url": reverse("playlist_study", args=[slug, position + 1])
            if position < len(items)
            else None,
        }
        return render(request, "programme/playlist_study.html", context)


class PlaylistQuizView(View):
    """A POST starts the playlist as a quiz session: its published cases, in its order or shuffled."""

    def post(self, request, slug: str):
        playlist = visible_playlist(request, slug)
        order = request.POST.get("order", "playlist")
        if order not in QUIZ_ORDERS:
            return HttpResponseBadRequest("Unknown order.")
        case_ids = [item.case_id for item in published_items(playlist)]
        if not case_ids:
            return redirect(playlist)
        if order == "shuffled":
            random.shuffle(case_ids)
        quiz_session = quiz_session_start(request.session, case_ids=case_ids, source=QUIZ_SOURCE)
        return redirect("quiz_session", session_id=quiz_session.id)


class AssignmentListView(LoginRequiredMixin, TemplateView):
    """``/assignments/``: the resident's own assignments; for directors, every assignment's report."""

    template_name = "programme/assignment_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["overview"] = resident_overview(user)
        context["reportable"] = Assignment.objects.reportable_by(user).select_related("playlist", "cohort")
        context["today"] = timezone.localdate()
        return context


class AssignmentMixin(LoginRequiredMixin):
    def get_assignment(self, queryset=None) -> Assignment:
        queryset = queryset if queryset is not None else Assignment.objects.visible_to(self.request.user)
        return get_object_or_404(queryset.select_related("playlist", "cohort"), pk=self.kwargs["pk"])

    def own_assignment(self) -> Assignment:
        """Only a resident of the cohort works through an assignment, once it has opened."""
        return self.get_assignment(Assignment.objects.for_resident(self.request.user))


class AssignmentDetailView(AssignmentMixin, TemplateView):
    """``/assignments/<id>/``: the resident's cases and own row; the director's report of every resident."""

    template_name = "programme/assignment_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        assignment = self.get_assignment()
        sort = self.request.GET.get("sort", "resident")
        member = Assignment.objects.for_resident(user).filter(pk=assignment.pk).exists()
        context.update(
            assignment=assignment,
            rows=assignment_report(assignment, viewer=user, sort=sort),
            sort=sort,
            sorts=REPORT_SORTS,
            sort_choices=REPORT_SORT_CHOICES,
            cases=assignment_cases(assignment, user) if member else None,
            is_director=user.has_perm("programme.view_assignment_report"),
        )
        return context


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class AssignmentReportCsvView(AssignmentMixin, View):
    """``/assignments/<id>/report.csv``: the rows of the report page, as the viewer may see them."""

    def get(self, request, pk: int):
        assignment = self.get_assignment()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="assignment-{assignment.pk}-report.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "resident",
                "name",
                "cases done",
                "cases",
                "completion %",
                "answered",
                "correct",
                "accuracy %",
                "last activity",
            ]
        )
        for row in assignment_report(
            assignment, viewer=request.user, sort=request.GET.get("sort", "resident")
        ):
            writer.writerow(
                map(
                    csv_cell,
                    [
                        row.resident.get_username(),
                        row.resident.get_full_name(),
                        row.done,
                        row.total,
                        row.completion,
                        row.answered,
                        row.correct,
                        row.accuracy,
                        row.last_activity.isoformat() if row.last_activity else "",
                    ],
                )
            )
        return response


class AssignmentCaseView(AssignmentMixin, View):
    """``/assignments/<id>/cases/<n>/``: the n-th case of the assignment, for a resident of the cohort.

    Study mode shows the case with its note and a "mark done" button; quiz mode goes to the case's quiz
    page (no note before the answer). A case no longer published is shown as such, never as a 404.
    """

    def get(self, request, pk: int, position: int):
        assignment = self.own_assignment()
        rows = assignment_cases(assignment, request.user)
        if not 1 <= position <= len(rows):
            raise Http404("No such case in this assignment.")
        row = rows[position - 1]
        if row.case is not None and assignment.is_quiz:
            return HttpResponseRedirect(reverse("case_quiz", args=[row.case.slug]))
        case = Case.objects.published().for_detail().filter(pk=row.case.pk).first() if row.case else None
        context = {
            "assignment": assignment,
            "row": row,
            "case": case,
            "position": position,
            "count": len(rows),
            "previous_url": reverse("assignment_case", args=[pk, position - 1]) if position > 1 else None,
            "next_url": reverse("assignment_case", args=[pk, position + 1]) if position < len(rows) else None,
        }
        return render(request, "programme/assignment_case.html", context)


class AssignmentCaseDoneView(AssignmentMixin, View):
    """A POST marks a study assignment's case done, then goes on to the next case."""

    def post(self, request, pk: int, position: int):
        assignment = self.own_assignment()
        if assignment.is_quiz:
            raise Http404("A quiz assignment's case is done when it is answered.")
        rows = assignment_cases(assignment, request.user)
        if not 1 <= position <= len(rows) or rows[position - 1].case is None:
            raise Http404("No such case in this assignment.")
        services.case_mark_done(assignment=assignment, resident=request.user, case=rows[position - 1].case)
        if position < len(rows):
            return redirect("assignment_case", pk=pk, position=position + 1)
        return redirect(assignment)


class AssignmentQuizView(AssignmentMixin, View):
    """A POST starts a quiz assignment's cases not yet done, in the playlist's order, as a quiz session."""

    def post(self, request, pk: int):
        assignment = self.own_assignment()
        if not assignment.is_quiz:
            raise Http404("Only a quiz assignment is started as a quiz.")
        case_ids = [
            row.case.pk
            for row in assignment_cases(assignment, request.user)
            if row.case and not row.completion
        ]
        if not case_ids:
            return redirect(assignment)
        quiz_session = quiz_session_start(request.session, case_ids=case_ids, source=QUIZ_SOURCE)
        return redirect("quiz_session", session_id=quiz_session.id)
