"""Which cases' derived rows (search document, facet sets) wait for the end of a
``cases.upkeep.case_upkeep_deferred()`` block, when one is open.

A module of its own, importing nothing of the project, so that both refreshers can ask it without
importing each other.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Per kind of derived row ("search", "facets"): the cases touched inside the open block.
_pending: ContextVar[dict[str, set[int]] | None] = ContextVar("case_upkeep_pending", default=None)


@contextmanager
def collecting() -> Iterator[dict[str, set[int]] | None]:
    """Collect the cases touched in the block; inside an outer block, None (the outer one refreshes them)."""
    if _pending.get() is not None:
        yield None
        return
    pending: dict[str, set[int]] = {"search": set(), "facets": set()}
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def deferred(kind: str, case_ids: Iterable[int]) -> bool:
    """Note these cases for the end of the open block and return True; False when no block is open."""
    pending = _pending.get()
    if pending is None:
        return False
    pending[kind].update(case_ids)
    return True
