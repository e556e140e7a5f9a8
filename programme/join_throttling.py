"""How many conference codes one address may try: ``JOIN_TRY_LIMIT`` a minute, right codes not counted.

A code is 6 characters of 32 (about 10⁹ codes), and a running conference can be joined with it: without a
limit, a script could try codes until it found one. Tries are counted in Django's cache, shared by every
application host (Redis or the database cache), per client address as log-in throttling reads it
(``axes.helpers.get_client_ip_address``: the socket's address, or the trusted proxies' X-Forwarded-For), in
fixed minutes of the clock: each minute has a key of its own, so no write can stretch a minute. A try is
counted before its code is looked at, so simultaneous tries cannot all slip under the limit (with Redis the
count is atomic; the database cache reads then writes, so a burst may be undercounted by its width).
"""

import contextlib
import math
import time

from axes.helpers import get_client_ip_address
from django.core.cache import cache

JOIN_TRY_LIMIT = 10
JOIN_WINDOW_SECONDS = 60


def _key(request, now: float) -> str:
    address = get_client_ip_address(request) or "unknown"
    return f"conference-join-tries:{address}:{int(now // JOIN_WINDOW_SECONDS)}"


def join_try_wait(request) -> int:
    """Count a try from the request's address: the seconds it must wait if it is over the limit, else 0."""
    now = time.time()
    key = _key(request, now)
    cache.add(key, 0, timeout=JOIN_WINDOW_SECONDS)
    try:
        tries = cache.incr(key)
    except ValueError:  # the key went between the two calls
        cache.set(key, 1, timeout=JOIN_WINDOW_SECONDS)
        tries = 1
    if tries <= JOIN_TRY_LIMIT:
        return 0
    return max(1, math.ceil(JOIN_WINDOW_SECONDS - now % JOIN_WINDOW_SECONDS))


def join_try_forgive(request) -> None:
    """A right code is not held against its address (residents behind one address join together)."""
    with contextlib.suppress(ValueError):  # its minute is over
        cache.decr(_key(request, time.time()))
