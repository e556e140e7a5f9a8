"""``case_upkeep_deferred()``: a case written row by row gets its search document and facet sets once,
at the end of the block, instead of after every row.

A loader, the admin or a test factory that writes a case, its findings, differential, regions and tags
one by one would otherwise recompute both after each of them (six or more times for one case). The block
is a transaction of its own (or part of the caller's): an exception refreshes nothing and rolls its rows
back. Nested blocks defer to the outermost; a block that touched no case refreshes nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from cases import deferral
from cases.facet_rows import case_facets_refresh
from cases.search import search_documents_refresh


@contextmanager
def case_upkeep_deferred() -> Iterator[None]:
    with transaction.atomic():
        with deferral.collecting() as pending:
            yield
        if pending and pending["facets"]:
            case_facets_refresh(case_ids=pending["facets"])
        if pending and pending["search"]:
            search_documents_refresh(case_ids=pending["search"])
