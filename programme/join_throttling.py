"""How many wrong conference codes one address may try: ``JOIN_FAILURE_LIMIT`` a minute.

A code is 6 characters of 32 (about 10⁹ codes), and a running conference can be joined with it: without a
limit, a script could try codes until it found one. The count lives in Django's cache, shared by every
application host (Redis or the database cache), per client address as log-in throttling reads it
(``axes.helpers.get_client_ip_address``: the socket's address, or the trusted proxies' X-Forwarded-For).
Over the limit, every try from the address is refused, a right code too, until its minute is over.
"""

import time

from axes.helpers import get_client_ip_address
from django.core.cache import cache

JOIN_FAILURE_LIMIT = 10
JOIN_WINDOW_SECONDS = 60


def _keys(request) -> tuple[str, str]:
    address = get_client_ip_address(request) or "unknown"
    return f"conference-join-failures:{address}", f"conference-join-window-ends:{address}"


def join_wait_seconds(request) -> int:
    """Seconds before the address may try a code again: 0 when it may now."""
    count_key, ends_key = _keys(request)
    if (cache.get(count_key) or 0) < JOIN_FAILURE_LIMIT:
        return 0
    ends = cache.get(ends_key)
    return max(1, round(ends - time.time())) if ends else 0


def join_failure_record(request) -> None:
    """Count one wrong code; the first of a window opens it for ``JOIN_WINDOW_SECONDS``."""
    count_key, ends_key = _keys(request)
    if cache.add(count_key, 1, timeout=JOIN_WINDOW_SECONDS):
        cache.set(ends_key, time.time() + JOIN_WINDOW_SECONDS, timeout=JOIN_WINDOW_SECONDS)
        return
    try:
        cache.incr(count_key)
    except ValueError:  # the window ended between the two calls: this failure opens a new one
        join_failure_record(request)
