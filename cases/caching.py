"""Cached page parts (facet counts, the home page's aggregates), keyed so that an edit shows at once.

Every key starts with the *archive version*, a random token kept in Django's cache. Any change that
can move a count — a case, finding, differential item, reference, tag or tagging, region or region
link, diagnosis, study, series or image saved or deleted — calls ``archive_changed()`` (from the
receivers in ``cases/signals.py``; bulk writes that bypass signals must call it themselves, as
``bench/generate.py`` does), which sets a new token: every key made with the old one is never read
again and simply expires. Nothing is deleted key by key, so no key can be forgotten.

The token is replaced twice: at once, and again when the transaction commits. The second time
matters: between the first replacement and the commit, another request can read the old rows and
store them under the new token; the commit-time token retires that entry too.

Keys also carry the *visibility class* of the user (``visibility_class``): the same filters count
different cases for an anonymous visitor and for an editor who also sees drafts.

Where the tokens live (``token_store``): in Django's cache when it is shared between processes
(Redis, ``REDIS_URL``). With the local-memory cache (the default) every worker process has a cache
of its own, so a token replaced by the worker that saved an edit would stay unseen by the others;
the tokens then live in a small file-based cache in the machine's temporary folder, one per
project and database, which every worker on the host reads (a file read per key, tens of
microseconds). The cached entries themselves stay in each worker's memory: each computes them once
per token. Several hosts need ``REDIS_URL``, as ``config/settings.py`` says.
"""

import hashlib
import json
import tempfile
import uuid
from collections.abc import Callable
from functools import cache as once
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from cases.permissions import (
    VISIBILITY_CODENAMES,
    case_visibility_permissions,
    remember_case_visibility_permissions,
)

VERSION_KEY = "archive:version"
# Who may see drafts and cases in review, per user: a token of its own, so that an edit of the
# archive does not cost every logged-in user their permission queries again.
PERMISSIONS_VERSION_KEY = "archive:permissions-version"
# Entries are retired by the version token, not by time; the timeout only bounds their memory.
ENTRY_TIMEOUT = 60 * 60
T = TypeVar("T")


@once
def token_store() -> BaseCache:
    """Where the version tokens live: the default cache if processes share it, else a file-based
    cache that every process of this project and database on the host shares."""
    database = settings.DATABASES["default"]
    if not isinstance(caches["default"], LocMemCache) or _in_memory(database):
        # Shared already, or nothing to share: an in-memory database lives in one process only
        # (and two test runs on one host must not replace each other's tokens).
        return caches["default"]
    identity = f"{settings.BASE_DIR}|{database['ENGINE']}|{database['NAME']}"
    folder = (
        Path(tempfile.gettempdir()) / f"archive-tokens-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    )
    return FileBasedCache(str(folder), {"TIMEOUT": None, "OPTIONS": {"MAX_ENTRIES": 100}})


def _in_memory(database: dict) -> bool:
    name = str(database.get("TEST", {}).get("NAME") or database["NAME"])
    return database["ENGINE"].endswith("sqlite3") and (name == ":memory:" or "mode=memory" in name)


def _forget_token_store(*, setting: str, **_kwargs) -> None:
    if setting in ("CACHES", "DATABASES"):
        token_store.cache_clear()


setting_changed.connect(_forget_token_store)


def _token(key: str) -> str:
    store = token_store()
    token = store.get(key)
    if token is None:
        store.add(key, uuid.uuid4().hex, timeout=None)
        token = store.get(key)
    return token


def archive_version() -> str:
    """The current archive version token (a new one if the cache lost it)."""
    return _token(VERSION_KEY)


def _replace_version() -> None:
    token_store().set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _replace_permissions_version() -> None:
    token_store().set(PERMISSIONS_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _replace_now_and_at_commit(replace: Callable[[], None], using: str) -> None:
    replace()
    connection = connections[using]
    if connection.in_atomic_block:
        # One commit-time replacement per transaction, however many rows it writes.
        pending = getattr(connection, "run_on_commit", [])
        if not any(entry[1] is replace for entry in pending):
            transaction.on_commit(replace, using=using)


def archive_changed(*, using: str = DEFAULT_DB_ALIAS, **_signal_kwargs) -> None:
    """Retire every cached page part: now, and once more when the current transaction commits."""
    _replace_now_and_at_commit(_replace_version, using)


def permissions_changed(*, using: str = DEFAULT_DB_ALIAS, **_signal_kwargs) -> None:
    """Retire every user's cached permissions (group membership or a group's permissions changed)."""
    _replace_now_and_at_commit(_replace_permissions_version, using)


def visibility_class(user) -> str:
    """Who sees which cases, as a key part: everyone anonymous sees the same published cases; a
    logged-in user may also see their own cases and, with permissions, others in review or draft
    (``CaseQuerySet.visible_to``), so each keeps entries of their own.

    The two permissions come from ``cases.permissions.case_visibility_permissions``, the function
    ``visible_to`` reads too (one query), and are kept in the cache under the permissions version,
    the user and the flags of the user row already loaded (superuser, active). The answer read here
    becomes the request's answer for ``visible_to`` as well, so the key and the cases computed under
    it never disagree, and a page whose permissions are cached asks the database nothing about them.
    Group membership and permission changes retire the entries (``permissions_changed``, from
    ``cases/signals.py``); the entries keyed by the class need no retiring, since a user whose
    permissions changed has a new class.
    """
    if not user.is_authenticated:
        return "public"
    user_key = f"user-{user.pk}-{int(user.is_superuser)}{int(user.is_active)}"

    def flags() -> str:
        held = case_visibility_permissions(user)
        return "".join("1" if codename in held else "0" for codename in VISIBILITY_CODENAMES)

    key = f"archive:permissions:{_token(PERMISSIONS_VERSION_KEY)}:{user_key}"
    held = cached(key, flags)
    remember_case_visibility_permissions(
        user, [codename for codename, flag in zip(VISIBILITY_CODENAMES, held, strict=True) if flag == "1"]
    )
    return f"{user_key}-{held}"


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
