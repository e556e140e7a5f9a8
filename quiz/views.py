"""Thin views of quiz mode. Only published cases can be quizzed, whoever asks: a draft answers 404
at the quiz URLs even to its editors, so nobody can reveal a draft through the quiz.

The case picker's counts are facet counts, cached like the list page's (``cases/caching.py``); every
quiz page is read from the database on each request.
"""

import random
import uuid

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from cases.caching import cache_key, cached
from cases.facets import Facets, case_facets
from cases.filters import filter_cases
from cases.models import Case, Finding
from cases.regions import load_region_tree
from cases.rules import may_author
from quiz.attempts import attempts_for, parse_token
from quiz.forms import AnswerForm, LocalisationAnswerForm, OverrideForm, QuestionAnswerForm, QuizStartForm
from quiz.localisation import ClickError
from quiz.localisation_questions import answer_figures, askable_localisations, mark_click, next_localisation
from quiz.matching import (
    Answer,
    AnswerKey,
    Grade,
    answered_diagnosis,
    compare_differential,
    explain_mark,
    grade_guess,
)
from quiz.models import LocalisationQuestion, Mark, Question, QuizAttempt, ReviewCard
from quiz.presentation import quiz_case
from quiz.progress import modality_names, progress_for, top_level_region_names
from quiz.questions import askable_questions, asks_diagnosis, mark_choice, next_question, shuffled_options
from quiz.session_state import (
    Source,
    quiz_session_drop_case,
    quiz_session_load,
    quiz_session_record,
    quiz_session_start,
)

REVIEW_SESSION_LENGTH = 10


def quizzable_cases():
    return Case.objects.published()


def case_quiz_url(case: Case, **params) -> str:
    url = reverse("case_quiz", args=[case.slug])
    return f"{url}?{urlencode(params)}" if params else url


def session_including(request, session_id, case_id: int):
    """The resident's quiz session of that id, if the case is one of its cases."""
    quiz_session = quiz_session_load(request.session, session_id)
    return quiz_session if quiz_session and quiz_session.includes(case_id) else None


def question_url(case: Case, question: Question, token) -> str:
    return f"{reverse('quiz_question', args=[case.slug, question.pk])}?{urlencode({'attempt': token})}"


def localisation_url(case: Case, question: LocalisationQuestion, token) -> str:
    url = reverse("quiz_localisation", args=[case.slug, question.pk])
    return f"{url}?{urlencode({'attempt': token})}"


def pending_url(case: Case, attempt: QuizAttempt, questions, localisations) -> str | None:
    """Where the attempt goes on before the reveal: its next unanswered single-best-answer question, then
    its next unanswered localisation question; None once every part is answered."""
    question = next_question(questions, attempt.question_marks)
    if question is not None:
        return question_url(case, question, attempt.token)
    localisation = next_localisation(localisations, attempt.localisation_marks)
    if localisation is not None:
        return localisation_url(case, localisation, attempt.token)
    return None


def preset_of(series) -> str:
    return series.teaching_preset or "default"


def localisation_results(localisations, attempt: QuizAttempt) -> list[dict]:
    """Each answered localisation question as the revealed page shows it: hit or miss, and its targets."""
    results = []
    for question in localisations:
        answer = attempt.localisation_marks.get(str(question.pk))
        if answer is not None:
            figures = answer_figures(question, answer, preset_of(question.series))
            results.append({"question": question, "answer": answer, "figures": figures})
    return results


def question_results(questions: list[Question], attempt: QuizAttempt) -> list[dict]:
    """Each answered question as the revealed page shows it: the options in the order this attempt saw
    them, the one chosen, the correct one, and every rationale."""
    results = []
    for question in questions:
        answer = attempt.question_marks.get(str(question.pk))
        if answer is not None:
            options = shuffled_options(question, attempt.token)
            results.append({"question": question, "options": options, "chosen": answer["option"], **answer})
    return results


def quizzable_case(slug: str) -> Case:
    """The published case with every row the quiz shows, read from the database; else 404."""
    return get_object_or_404(quizzable_cases().for_detail(), slug=slug)


class CaseQuizView(View):
    """``/cases/<slug>/quiz/``: the case without its answer (GET); the reveal, with the answer (POST)."""

    def get(self, request, slug: str):
        case = quizzable_case(slug)
        attempts = attempts_for(request)
        quiz_session = session_including(request, request.GET.get("session"), case.pk)
        # Only the resident's own attempt at this very case reopens the revealed page.
        token = request.GET.get("attempt") or (quiz_session and quiz_session.token_for(case.pk))
        attempt = attempts.get(token) if token else None
        if attempt is not None and attempt.case_id == case.pk:
            return self.revealed(request, case, attempt)
        form = AnswerForm(initial={"session": quiz_session.id if quiz_session else None, "key": uuid.uuid4()})
        # quiz_case() withholds labels in the loaded case: only once the revealed page is ruled out.
        return self.unrevealed(request, case, form, quiz_session)

    def post(self, request, slug: str):
        case = quizzable_case(slug)
        form = AnswerForm(request.POST)
        if not form.is_valid():
            return self.unrevealed(request, case, form, None, status=400)
        # Read before the attempt is recorded, like the answer key below.
        questions = askable_questions(case)
        localisations = askable_localisations(case)
        attempts = attempts_for(request)
        quiz_session = session_including(request, form.cleaned_data["session"], case.pk)
        if quiz_session and quiz_session.token_for(case.pk):
            # Answered already in this session (a resubmitted form): show that answer, record nothing new.
            attempt = attempts.get(quiz_session.token_for(case.pk))
            if attempt is not None:
                return self.revealed(request, case, attempt, questions=questions, localisations=localisations)
        form_key = form.cleaned_data["key"]
        earlier = attempts.get(form_key) if form_key else None
        if earlier is not None and earlier.case_id == case.pk:
            # This form was sent before (a retry after a lost reply, a reload): show that answer.
            return self.revealed(request, case, earlier, questions=questions, localisations=localisations)
        if asks_diagnosis(case, [*questions, *localisations]):
            answer = form.answer()
            grade = None
        else:
            # The author asks only the questions: whatever a forged form says, no diagnosis is marked.
            answer, grade = Answer("", ()), Grade("")
        # The answer key is read once, before the attempt is recorded: after that commit the page must need
        # no further query, or a connection lost in between would show an error for a stored answer.
        key = AnswerKey.of(case)
        attempt = attempts.record(
            case=case,
            answer=answer,
            grade=grade or grade_guess(key, answer.guess),
            quiz_session=parse_token(quiz_session.id) if quiz_session else None,
            token=form_key if earlier is None else None,  # another case's attempt's key is not this one's
        )
        if quiz_session:
            quiz_session_record(request.session, quiz_session, case_id=case.pk, token=attempt.token)
        return self.revealed(
            request, case, attempt, key=key, questions=questions, localisations=localisations
        )

    def unrevealed(self, request, case: Case, form: AnswerForm, quiz_session, status: int = 200):
        parts = [*askable_questions(case), *askable_localisations(case)]
        context = {
            "quiz_case": quiz_case(case),  # never the Case: the template cannot print the answer
            # Missing (other apps render this template too, e.g. weekly): the diagnosis is asked.
            "questions_only": not asks_diagnosis(case, parts),
            "question_count": len(parts),
            "form": form,
            "quiz_session": quiz_session,
            "position": quiz_session.position_of(case.pk) if quiz_session else None,
        }
        return render(request, "quiz/case_quiz.html", context, status=status)

    def revealed(
        self,
        request,
        case: Case,
        attempt: QuizAttempt,
        key: AnswerKey | None = None,
        questions: list[Question] | None = None,
        localisations: list[LocalisationQuestion] | None = None,
    ):
        """The answer, once every question of the case is answered; until then, the next question."""
        questions = askable_questions(case) if questions is None else questions
        localisations = askable_localisations(case) if localisations is None else localisations
        pending = pending_url(case, attempt, questions, localisations)
        if pending is not None:
            return HttpResponseRedirect(pending)
        key = key or AnswerKey.of(case)
        your_differential = compare_differential(key, attempt.differential)
        listed = {item.matched_name for item in your_differential if item.matched_name}
        quiz_session = session_including(request, attempt.quiz_session, case.pk)
        context = {
            "case": case,
            "attempt": attempt,
            "explanation": explain_mark(
                key, guess=attempt.guess, mark=attempt.mark, matched_name=attempt.matched_name
            ),
            "your_differential": your_differential,
            "listed_names": listed,
            "your_answer_name": answered_diagnosis(key, attempt.matched_name) if attempt.mark else "",
            "question_results": question_results(questions, attempt),
            "localisation_results": localisation_results(localisations, attempt),
            "override_form": OverrideForm(initial={"attempt": attempt.token, "override": attempt.override}),
            "quiz_session": quiz_session,
            "position": quiz_session.position_of(case.pk) if quiz_session else None,
            "keeps_history": attempts_for(request).keeps_history,
        }
        return render(request, "quiz/case_revealed.html", context)


class QuestionView(View):
    """``/cases/<slug>/quiz/questions/<id>/?attempt=…``: one question of the resident's attempt at the case,
    before the reveal. Unanswered: the stem and the options in this attempt's order, nothing more; answered:
    the server's mark and every option's rationale, and the way on."""

    def setup_question(self, request, slug: str, question_id: int, token):
        case = quizzable_case(slug)
        attempt = attempts_for(request).get(token) if token else None
        if attempt is None or attempt.case_id != case.pk:
            raise Http404("No such attempt.")
        questions = askable_questions(case)
        question = next((question for question in questions if question.pk == question_id), None)
        if question is None:
            raise Http404("No such question.")
        return case, attempt, questions, question

    def get(self, request, slug: str, question_id: int):
        case, attempt, questions, question = self.setup_question(
            request, slug, question_id, request.GET.get("attempt")
        )
        return self.page(
            request,
            case,
            attempt,
            questions,
            question,
            QuestionAnswerForm(initial={"attempt": attempt.token}),
        )

    def post(self, request, slug: str, question_id: int):
        form = QuestionAnswerForm(request.POST)
        token = request.POST.get("attempt")
        case, attempt, questions, question = self.setup_question(request, slug, question_id, token)
        if str(question.pk) in attempt.question_marks:
            return HttpResponseRedirect(question_url(case, question, attempt.token))  # answered already
        marked = (
            mark_choice(question, attempt.token, form.cleaned_data["choice"]) if form.is_valid() else None
        )
        if marked is None:
            form.add_error(None, "Choose one of the options.")
            return self.page(request, case, attempt, questions, question, form, status=400)
        attempts_for(request).answer_question(attempt, question.pk, marked)
        return HttpResponseRedirect(question_url(case, question, attempt.token))

    def page(self, request, case, attempt, questions, question, form, status: int = 200):
        answer = attempt.question_marks.get(str(question.pk))
        quiz_session = session_including(request, attempt.quiz_session, case.pk)
        localisations = askable_localisations(case)  # asked after these questions, numbered on from them
        context = {
            "quiz_case": quiz_case(case),  # the case stays unrevealed until every question is answered
            "question": question,
            "number": questions.index(question) + 1,
            "question_count": len(questions) + len(localisations),
            "options": shuffled_options(question, attempt.token),
            "answer": answer,
            "form": form,
            "attempt": attempt,
            "more_questions": pending_url(case, attempt, questions, localisations) is not None,
            "next_url": case_quiz_url(case, attempt=attempt.token),
            "quiz_session": quiz_session,
            "position": quiz_session.position_of(case.pk) if quiz_session else None,
        }
        return render(request, "quiz/case_question.html", context, status=status)


class LocalisationView(View):
    """``/cases/<slug>/quiz/localise/<id>/?attempt=…``: “point to the lesion” in the resident's attempt at
    the case, before the reveal. Unanswered: the prompt and the question's series in the viewer, where a
    click (or tap) picks a point, sent as image pixels; no target is in the page, its data or its URLs.
    Answered: hit or miss, and the targets drawn on their frames with the click."""

    def setup_question(self, request, slug: str, question_id: int, token):
        case = quizzable_case(slug)
        attempt = attempts_for(request).get(token) if token else None
        if attempt is None or attempt.case_id != case.pk:
            raise Http404("No such attempt.")
        questions = askable_questions(case)
        localisations = askable_localisations(case)
        question = next((question for question in localisations if question.pk == question_id), None)
        if question is None:
            raise Http404("No such question.")
        return case, attempt, questions, localisations, question

    def get(self, request, slug: str, question_id: int):
        parts = self.setup_question(request, slug, question_id, request.GET.get("attempt"))
        form = LocalisationAnswerForm(initial={"attempt": parts[1].token})
        return self.page(request, *parts, form)

    def post(self, request, slug: str, question_id: int):
        form = LocalisationAnswerForm(request.POST)
        parts = self.setup_question(request, slug, question_id, request.POST.get("attempt"))
        case, attempt, _, _, question = parts
        if str(question.pk) in attempt.localisation_marks:
            return HttpResponseRedirect(localisation_url(case, question, attempt.token))  # answered already
        if not form.is_valid():
            form.add_error(None, "Click (or tap) on the image to choose a point, then answer.")
            return self.page(request, *parts, form, status=400)
        try:
            marked = mark_click(question, form.click())
        except ClickError as error:
            form.add_error(None, str(error))
            return self.page(request, *parts, form, status=400)
        attempts_for(request).answer_localisation(attempt, question.pk, marked)
        return HttpResponseRedirect(localisation_url(case, question, attempt.token))

    def page(self, request, case, attempt, questions, localisations, question, form, status: int = 200):
        answer = attempt.localisation_marks.get(str(question.pk))
        quiz_session = session_including(request, attempt.quiz_session, case.pk)
        shown = quiz_case(case)  # the case stays unrevealed, its series labels withheld, until the reveal
        series = next(
            series
            for study in shown.studies.all()
            for series in study.series.all()
            if series.pk == question.series_id
        )
        context = {
            "quiz_case": shown,
            "question": question,
            "series": series,
            "number": len(questions) + localisations.index(question) + 1,
            "question_count": len(questions) + len(localisations),
            "answer": answer,
            "figures": answer_figures(question, answer, preset_of(series)) if answer else [],
            "form": form,
            "attempt": attempt,
            "more_questions": next_localisation(localisations, attempt.localisation_marks) is not None,
            "next_url": case_quiz_url(case, attempt=attempt.token),
            "quiz_session": quiz_session,
            "position": quiz_session.position_of(case.pk) if quiz_session else None,
        }
        return render(request, "quiz/case_localisation.html", context, status=status)


class QuizPreviewView(LoginRequiredMixin, View):
    """``/cases/<slug>/quiz/preview/``: an unpublished case's quiz page as residents will see it.

    For those who author cases, on the cases ``visible_to`` allows them; nothing can be answered or
    recorded here (the quiz itself stays published-only). Anyone else gets 404.
    """

    def get(self, request, slug: str):
        if not may_author(request.user):
            raise Http404("No such case.")
        case = get_object_or_404(Case.objects.visible_to(request.user).for_detail(), slug=slug)
        parts = [*askable_questions(case), *askable_localisations(case)]
        context = {
            "quiz_case": quiz_case(case),
            # Missing (other apps render this template too, e.g. weekly): the diagnosis is asked.
            "questions_only": not asks_diagnosis(case, parts),
            "question_count": len(parts),
            "form": AnswerForm(),
            "quiz_session": None,
            "preview": True,
        }
        return render(request, "quiz/case_quiz.html", context)


class OverrideView(View):
    """The resident's own mark, kept beside the server's; then back to the revealed page (PRG)."""

    def post(self, request, slug: str):
        case = get_object_or_404(quizzable_cases().only("pk", "slug"), slug=slug)
        form = OverrideForm(request.POST)
        if not form.is_valid():
            raise Http404("No such attempt.")
        attempts = attempts_for(request)
        attempt = attempts.get(form.cleaned_data["attempt"])
        if attempt is None or attempt.case_id != case.pk or not attempt.mark:
            raise Http404("No such attempt.")
        attempts.override(attempt, form.cleaned_data["override"])
        return HttpResponseRedirect(case_quiz_url(case, attempt=attempt.token))


def quiz_start_facets() -> Facets:
    """What published cases offer to choose from, with counts: the same for everyone, so cached once
    per archive version."""
    return cached(
        cache_key("quiz-start", "published"),
        lambda: case_facets(quizzable_cases(), load_region_tree(), tag_limit=None),
    )


class QuizStartView(View):
    template_name = "quiz/start.html"

    def get(self, request):
        return render(request, self.template_name, {"form": QuizStartForm(facets=quiz_start_facets())})

    def post(self, request):
        form = QuizStartForm(request.POST, facets=quiz_start_facets())
        if not form.is_valid():
            if set(form.errors) <= set(QuizStartForm.FILTERS):
                # A link or a form from before an edit may name a choice no published case has now.
                fresh = QuizStartForm(facets=quiz_start_facets())
                return render(request, self.template_name, {"form": fresh, "no_match": True})
            return render(request, self.template_name, {"form": form}, status=400)
        cases = filter_cases(quizzable_cases(), form.filters(), load_region_tree())
        if form.cleaned_data["unseen"]:
            cases = cases.exclude(pk__in=attempts_for(request).seen_case_ids())
        case_ids = list(cases.values_list("pk", flat=True))
        if not case_ids:
            return render(request, self.template_name, {"form": form, "no_match": True})
        chosen = random.sample(case_ids, min(form.cleaned_data["count"], len(case_ids)))
        quiz_session = quiz_session_start(request.session, case_ids=chosen, source=Source.FILTERS)
        return redirect("quiz_session", session_id=quiz_session.id)


def unfinished_case_url(request, quiz_session) -> str | None:
    """The case answered last in the session, while questions of its attempt wait: the session goes on
    with them, not with the next case (its diagnosis alone moved the session's pointer on)."""
    answered = [case_id for case_id in quiz_session.case_ids if quiz_session.token_for(case_id)]
    if not answered:
        return None
    attempt = attempts_for(request).get(quiz_session.token_for(answered[-1]))
    case = quizzable_cases().filter(pk=answered[-1]).only("pk", "slug").first()
    if attempt is None or case is None:
        return None
    if pending_url(case, attempt, askable_questions(case), askable_localisations(case)) is None:
        return None
    return case_quiz_url(case, attempt=attempt.token)


class QuizSessionView(View):
    """Where a quiz session stands: on to its next unanswered case, or to the score when all are done."""

    def get(self, request, session_id):
        quiz_session = quiz_session_load(request.session, session_id)
        if quiz_session is None:
            raise Http404("No such quiz session.")
        unfinished = unfinished_case_url(request, quiz_session)
        if unfinished:
            return HttpResponseRedirect(unfinished)
        while not quiz_session.finished:
            case_id = quiz_session.current_case_id
            case = quizzable_cases().filter(pk=case_id).only("pk", "slug").first()
            if case is not None:
                return HttpResponseRedirect(case_quiz_url(case, session=quiz_session.id))
            quiz_session_drop_case(request.session, quiz_session, case_id=case_id)
        return redirect("quiz_score", session_id=quiz_session.id)


class QuizScoreView(TemplateView):
    template_name = "quiz/score.html"

    def get_context_data(self, session_id, **kwargs):
        context = super().get_context_data(**kwargs)
        quiz_session = quiz_session_load(self.request.session, session_id)
        if quiz_session is None:
            raise Http404("No such quiz session.")
        attempts = attempts_for(self.request).many(quiz_session.tokens.values())
        cases = quizzable_cases().select_related("final_diagnosis").in_bulk(quiz_session.case_ids)
        rows = []
        for position, case_id in enumerate(quiz_session.case_ids, start=1):
            case = cases.get(case_id)
            attempt = attempts.get(quiz_session.token_for(case_id) or "")
            if case is not None:
                rows.append({"position": position, "case": case, "attempt": attempt})
        marks = [row["attempt"].effective_mark for row in rows if row["attempt"]]
        context.update(
            quiz_session=quiz_session,
            rows=rows,
            total=len(rows),
            answered=len(marks),
            correct=marks.count(Mark.CORRECT),
            close=marks.count(Mark.CLOSE),
            differential=marks.count(Mark.DIFFERENTIAL),
            wrong=marks.count(Mark.WRONG),
        )
        return context


def due_cards(user):
    return (
        ReviewCard.objects.filter(user=user, due_on__lte=timezone.localdate(), case__in=quizzable_cases())
        .select_related("case")
        .prefetch_related(
            "case__regions",
            Prefetch("case__findings", queryset=Finding.objects.only("case_id", "modality", "order")),
        )
        .order_by("due_on", "pk")
    )


class ReviewView(LoginRequiredMixin, View):
    """``/quiz/review/``: cases due for review (SM-2); a POST starts a session from the most overdue."""

    def get(self, request):
        cards = list(due_cards(request.user))
        tree = load_region_tree()
        for card in cards:
            card.region_names = top_level_region_names(card.case, tree)
            card.modality_names = modality_names(card.case)
        upcoming = ReviewCard.objects.filter(user=request.user, due_on__gt=timezone.localdate()).first()
        context = {"cards": cards, "next_due": upcoming.due_on if upcoming else None}
        return render(request, "quiz/review.html", context)

    def post(self, request):
        case_ids = list(due_cards(request.user).values_list("case_id", flat=True)[:REVIEW_SESSION_LENGTH])
        if not case_ids:
            return redirect("quiz_review")
        quiz_session = quiz_session_start(request.session, case_ids=case_ids, source=Source.REVIEW)
        return redirect("quiz_session", session_id=quiz_session.id)


class ProgressView(LoginRequiredMixin, TemplateView):
    template_name = "quiz/progress.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["progress"] = progress_for(self.request.user)
        context["recent_attempts"] = QuizAttempt.objects.filter(user=self.request.user).select_related(
            "case__final_diagnosis"
        )[:20]
        return context
