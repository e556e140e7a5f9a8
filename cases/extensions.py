"""Hooks through which apps above ``cases`` add to what it reads, without ``cases`` importing them.

An app registers in its ``AppConfig.ready``; ``cases`` only calls what is registered.
"""

from collections.abc import Callable, Iterable

from django.db.models import Prefetch

# Inline admin classes of rows other apps keep for a case (quiz's questions), which the case editor
# shows after its own; it applies its case-row rules to them (who may edit which case, row order).
# An app appends in its admin module, which the admin's autodiscovery imports.
case_admin_inlines: list[type] = []

# Each returns a lookup that ``CaseQuerySet.for_detail()`` prefetches with the case's own rows.
detail_prefetches: list[Callable[[], Prefetch | str]] = []

# Each is given every case a page shows as a card (``includes/case_card.html``), all at once, and sets
# what the card shows of its app on each (imaging: ``case.key_image``) in a fixed number of queries.
card_completions: list[Callable[[list], None]] = []


def as_cards(cases: Iterable) -> list:
    """The cases, read, with what apps above ``cases`` add to their cards."""
    cases = list(cases)
    for complete in card_completions:
        complete(cases)
    return cases
