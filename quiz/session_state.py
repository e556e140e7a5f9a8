"""Quiz sessions — N cases in a row, then a score — kept in the Django session for every resident.

Only case ids and the tokens of the attempts made are kept: the answers stay with the cases and
the marks with the attempts, so nothing here can go stale or give a case away.
"""

import uuid
from dataclasses import asdict, dataclass, field

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

SESSION_KEY = "quiz_sessions"
MAX_KEPT_SESSIONS = 20


class Source:
    FILTERS = "filters"
    REVIEW = "review"


@dataclass
class QuizSession:
    id: str
    case_ids: list[int]
    source: str
    started_at: str
    # Case id (as a string: session data is JSON) → token of the attempt made in this session.
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def current_case_id(self) -> int | None:
        return next((case_id for case_id in self.case_ids if str(case_id) not in self.tokens), None)

    @property
    def finished(self) -> bool:
        return self.current_case_id is None

    @property
    def answered_count(self) -> int:
        return sum(str(case_id) in self.tokens for case_id in self.case_ids)

    def position_of(self, case_id: int) -> int:
        return self.case_ids.index(case_id) + 1

    def token_for(self, case_id: int) -> str | None:
        return self.tokens.get(str(case_id))

    def includes(self, case_id: int) -> bool:
        return case_id in self.case_ids


def _stored(session: SessionBase) -> dict[str, dict]:
    return session.get(SESSION_KEY, {})


def _save(session: SessionBase, quiz_session: QuizSession) -> None:
    stored = _stored(session)
    stored[quiz_session.id] = asdict(quiz_session)
    while len(stored) > MAX_KEPT_SESSIONS:
        del stored[next(iter(stored))]
    session[SESSION_KEY] = stored
    session.modified = True


def quiz_session_start(session: SessionBase, *, case_ids: list[int], source: str) -> QuizSession:
    quiz_session = QuizSession(
        id=str(uuid.uuid4()), case_ids=list(case_ids), source=source, started_at=timezone.now().isoformat()
    )
    _save(session, quiz_session)
    return quiz_session


def quiz_session_load(session: SessionBase, session_id) -> QuizSession | None:
    data = _stored(session).get(str(session_id or ""))
    return QuizSession(**data) if data else None


def quiz_session_record(session: SessionBase, quiz_session: QuizSession, *, case_id: int, token) -> None:
    quiz_session.tokens[str(case_id)] = str(token)
    _save(session, quiz_session)


def quiz_session_drop_case(session: SessionBase, quiz_session: QuizSession, *, case_id: int) -> None:
    """A case unpublished since the session began leaves it rather than blocking it."""
    quiz_session.case_ids = [other for other in quiz_session.case_ids if other != case_id]
    _save(session, quiz_session)
