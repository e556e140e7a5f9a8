"""Where a resident's attempts are kept: the database when logged in, the Django session otherwise.

Both stores hand out ``QuizAttempt`` instances (unsaved ones for the session), so views and
templates treat every resident alike. An attempt is found by its token, and only in the store of
the resident who made it: a token is no key to someone else's answer.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from cases.models import Case
from quiz import services
from quiz.localisation_questions import LocalisationMark
from quiz.matching import Answer, Grade
from quiz.models import Mark, QuizAttempt
from quiz.questions import QuestionMark

SESSION_KEY = "quiz_attempts"
# An anonymous session is a scratch pad, not a history: the oldest attempts make room for new ones.
MAX_SESSION_ATTEMPTS = 200


def parse_token(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class DatabaseAttempts:
    """A logged-in resident's attempts: QuizAttempt rows, which feed review and progress."""

    keeps_history = True

    def __init__(self, user):
        self.user = user

    def record(
        self,
        *,
        case: Case,
        answer: Answer,
        grade: Grade,
        quiz_session: uuid.UUID | None,
        token: uuid.UUID | None = None,
    ) -> QuizAttempt:
        return services.attempt_record(
            user=self.user, case=case, answer=answer, grade=grade, quiz_session=quiz_session, token=token
        )

    def many(self, tokens: Iterable) -> dict[str, QuizAttempt]:
        parsed = [token for token in map(parse_token, tokens) if token]
        attempts = QuizAttempt.objects.filter(user=self.user, token__in=parsed)
        return {str(attempt.token): attempt for attempt in attempts}

    def get(self, token) -> QuizAttempt | None:
        return self.many([token]).get(str(parse_token(token)))

    def override(self, attempt: QuizAttempt, override: str) -> QuizAttempt:
        return services.attempt_override(attempt=attempt, override=override)

    def answer_question(self, attempt: QuizAttempt, question_id: int, marked: QuestionMark) -> QuizAttempt:
        return services.question_answer_record(attempt=attempt, question_id=question_id, marked=marked)

    def answer_localisation(
        self, attempt: QuizAttempt, question_id: int, marked: LocalisationMark
    ) -> QuizAttempt:
        return services.localisation_answer_record(attempt=attempt, question_id=question_id, marked=marked)

    def seen_case_ids(self) -> set[int]:
        return set(QuizAttempt.objects.filter(user=self.user).values_list("case_id", flat=True))


class SessionAttempts:
    """An anonymous resident's attempts, in their Django session only: no database row is written."""

    keeps_history = False

    def __init__(self, session: SessionBase):
        self.session = session

    def _stored(self) -> dict[str, dict]:
        return self.session.get(SESSION_KEY, {})

    def _save(self, stored: dict[str, dict]) -> None:
        self.session[SESSION_KEY] = stored
        self.session.modified = True

    def record(
        self,
        *,
        case: Case,
        answer: Answer,
        grade: Grade,
        quiz_session: uuid.UUID | None,
        token: uuid.UUID | None = None,
    ) -> QuizAttempt:
        """As :func:`quiz.services.attempt_record`: a key already used gives that attempt back."""
        stored = self._stored()
        if token is not None and str(token) in stored:
            earlier = self._attempt(str(token), stored[str(token)])
            if earlier.case_id == case.pk:
                return earlier
            token = None
        token = token or uuid.uuid4()
        stored[str(token)] = {
            "case_id": case.pk,
            "guess": answer.guess,
            "differential": list(answer.differential),
            "mark": grade.mark,
            "override": "",
            "matched_name": grade.matched_name,
            "question_marks": {},
            "localisation_marks": {},
            "quiz_session": str(quiz_session) if quiz_session else None,
            "created_at": timezone.now().isoformat(),
        }
        while len(stored) > MAX_SESSION_ATTEMPTS:
            del stored[next(iter(stored))]
        self._save(stored)
        return self._attempt(str(token), stored[str(token)])

    @staticmethod
    def _attempt(token: str, data: dict) -> QuizAttempt:
        return QuizAttempt(
            token=uuid.UUID(token),
            case_id=data["case_id"],
            guess=data["guess"],
            differential=data["differential"],
            mark=data["mark"],
            override=data["override"],
            matched_name=data["matched_name"],
            question_marks=data.get("question_marks", {}),
            localisation_marks=data.get("localisation_marks", {}),
            quiz_session=parse_token(data["quiz_session"]) if data["quiz_session"] else None,
            created_at=datetime.fromisoformat(data["created_at"]),
        )

    def many(self, tokens: Iterable) -> dict[str, QuizAttempt]:
        stored = self._stored()
        found = {}
        for token in tokens:
            key = str(parse_token(token))
            if key in stored:
                found[key] = self._attempt(key, stored[key])
        return found

    def get(self, token) -> QuizAttempt | None:
        return self.many([token]).get(str(parse_token(token)))

    def override(self, attempt: QuizAttempt, override: str) -> QuizAttempt:
        if override not in ("", *Mark.values):
            raise ValueError(f"Unknown mark {override!r}")
        if override and not attempt.mark:
            raise ValueError("No diagnosis was asked in this attempt: there is no mark to override")
        stored = self._stored()
        stored[str(attempt.token)]["override"] = override
        self._save(stored)
        attempt.override = override
        return attempt

    def answer_question(self, attempt: QuizAttempt, question_id: int, marked: QuestionMark) -> QuizAttempt:
        """As :func:`quiz.services.question_answer_record`: the first answer to a question stands."""
        stored = self._stored()
        data = stored[str(attempt.token)]
        answers = data.setdefault("question_marks", {})
        if str(question_id) not in answers:
            answers[str(question_id)] = {"option": marked.option.pk, "correct": marked.correct}
            self._save(stored)
        return self._attempt(str(attempt.token), data)

    def answer_localisation(
        self, attempt: QuizAttempt, question_id: int, marked: LocalisationMark
    ) -> QuizAttempt:
        """As :func:`quiz.services.localisation_answer_record`: the first click on a question stands."""
        stored = self._stored()
        data = stored[str(attempt.token)]
        answers = data.setdefault("localisation_marks", {})
        if str(question_id) not in answers:
            answers[str(question_id)] = marked.as_record()
            self._save(stored)
        return self._attempt(str(attempt.token), data)

    def seen_case_ids(self) -> set[int]:
        return {data["case_id"] for data in self._stored().values()}


def attempts_for(request) -> DatabaseAttempts | SessionAttempts:
    if request.user.is_authenticated:
        return DatabaseAttempts(request.user)
    return SessionAttempts(request.session)
