"""``case_upkeep_deferred()``: a case written row by row gets its search document and facet rows once,
at the end of the block, instead of after every row.

A loader, the admin or a test factory that writes a case, its findings, differential, regions and tags
one by one would otherwise recompute both after each of them (six or more times for one case). An
exception leaves everything as it was: nothing is refreshed, and the block's transaction is rolled back
by then. Nested blocks defer to the outermost.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from cases import deferral
from cases.facet_rows import case_facets_refresh
from cases.search import search_documents_refresh


@contextmanager
def case_upkeep_deferred() -> Iterator[None]:
    with deferral.collecting() as pending:
        yield
    if pending is not None:
        case_facets_refresh(case_ids=pending["facets"])
        search_documents_refresh(case_ids=pending["search"])
