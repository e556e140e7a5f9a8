"""Hooks through which apps above ``cases`` add to what it reads, without ``cases`` importing them.

An app registers in its ``AppConfig.ready``; ``cases`` only calls what is registered.
"""

from collections.abc import Callable

from django.db.models import Prefetch

# Each returns a lookup that ``CaseQuerySet.for_detail()`` prefetches with the case's own rows.
detail_prefetches: list[Callable[[], Prefetch | str]] = []
