"""Cached facet counts and home-page aggregates, keyed so that an edit shows at once.

Every key starts with the *archive version*, a random token kept in Django's cache (shared between
processes in production, so every worker sees a replaced token). Any change that can move a count
calls ``archive_changed()`` (the receivers in ``cases/signals.py``; bulk writes that bypass signals
call it themselves), which sets a new token: entries made with the old one are never read again and
simply expire. Nothing is deleted key by key, so no key can be forgotten.

Keys also carry the user's *visibility class* (``visibility_class``): the same filters count
different cases for an anonymous visitor, an editor who also sees drafts and the author of a draft.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from cases.permissions import VISIBILITY_CODENAMES, case_visibility_permissions

VERSION_KEY = "archive:version"
# Entries are retired by the version token, not by time; the timeout only bounds their memory.
ENTRY_TIMEOUT = 60 * 60
T = TypeVar("T")


def archive_version() -> str:
    """The current archive version token (a new one if the cache lost it)."""
    token = cache.get(VERSION_KEY)
    if token is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(VERSION_KEY)
    return token


def _replace_version() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def archive_changed(*, using: str = DEFAULT_DB_ALIAS, **_signal_kwargs) -> None:
    """Retire every cached entry: now, so that the rest of this transaction reads fresh counts, and
    again when it commits, since another request may have counted the old rows in between and stored
    them under the token set now."""
    _replace_version()
    transaction.on_commit(_replace_version, using=using)


def visibility_class(user) -> str:
    """Who sees which cases, as a key part: everyone anonymous sees the same published cases; a
    logged-in user may also see their own cases and, with permissions, others in review or draft
    (``CaseQuerySet.visible_to``), so each keeps entries of their own, under the permissions they
    hold now (a permission granted or withdrawn gives a new class)."""
    if not user.is_authenticated:
        return "public"
    held = case_visibility_permissions(user)
    flags = "".join("1" if codename in held else "0" for codename in VISIBILITY_CODENAMES)
    return f"user-{user.pk}-{flags}"


def cache_key(part: str, visibility: str, params: dict | None = None) -> str:
    """``archive:<version>:<part>:<visibility>:<hash of the normalised parameters>``."""
    normalised = json.dumps(params or {}, sort_keys=True, default=str, ensure_ascii=True)
    digest = hashlib.sha256(normalised.encode()).hexdigest()[:32]
    return f"archive:{archive_version()}:{part}:{visibility}:{digest}"


def cached(key: str, compute: Callable[[], T]) -> T:
    """The value under ``key``, computed and stored on a miss."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, ENTRY_TIMEOUT)
    return value
