"""Cached facet counts and home-page aggregates, keyed so that an edit shows at once and retires
only the entries it can change.

Every key carries the *versions* of the scopes its entry was computed from: random tokens kept in
Django's cache (shared between processes in production, so every worker sees a replaced token). A
write replaces the tokens of the scopes it touches; entries made with an old token are never read
again and simply expire. Nothing is deleted key by key, so no key can be forgotten. The scopes:

* ``cases``: any case or row of a case changed (``archive_changed``, sent by the receivers in
  ``cases/signals.py``). The unfiltered list and home page, searches, age ranges and the quiz start
  depend on it: any case may enter or leave them, and their counts are cheap to take again
  (``cases/facets.py``).
* ``names``: a region, diagnosis or tag was saved or deleted (``names_changed``): labels and the
  region tree are in every entry, so every entry depends on it.
* ``<filter>:<value>`` (``region:spine``, ``modality:MR``, ``tag:classic`` …): a case that counts or
  counted under that value changed its facet set (``facet_values_changed``, from
  ``cases/facet_rows.py``, which knows each case's values before and after). A list filtered by
  region, diagnosis, modality, tag or sex depends only on the values it filters by: an edit that
  moves a case changes the counts of a filter set only if the case matched it before or after, and
  then it had every one of the set's values, so their versions were replaced.

Keys also carry the user's *visibility class* (``visibility_class``): the same filters count
different cases for an anonymous visitor, an editor who also sees drafts and the author of a draft.
"""

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from cases.modalities import facet_key
from cases.permissions import VISIBILITY_CODENAMES, case_visibility_permissions

CASES = "cases"
NAMES = "names"
# Filters whose entries depend on the versions of their values only; any other filter (q, ages)
# can match a case whatever its facet values, so its entries depend on ``cases``.
VALUE_FILTERS = ("region", "diagnosis", "modality", "tag", "sex")
# Entries are retired by the version tokens, not by time; the timeout only bounds their memory.
ENTRY_TIMEOUT = 60 * 60
T = TypeVar("T")


def _version_key(scope: str) -> str:
    return f"archive:version:{scope}"


def versions(scopes: list[str]) -> list[str]:
    """The current token of each scope, in one cache round trip (new ones where the cache lost them)."""
    keys = [_version_key(scope) for scope in scopes]
    tokens = cache.get_many(keys)
    missing = [key for key in keys if key not in tokens]
    if missing:
        for key in missing:
            cache.add(key, uuid.uuid4().hex, timeout=None)
        tokens.update(cache.get_many(missing))
    return [tokens[key] for key in keys]


def archive_version() -> str:
    """The token of the ``cases`` scope, which every change of a case replaces."""
    return versions([CASES])[0]


def _replace(scopes: list[str]) -> None:
    cache.set_many({_version_key(scope): uuid.uuid4().hex for scope in scopes}, timeout=None)


def scopes_changed(scopes: Iterable[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Retire the entries of these scopes: now, so that the rest of this transaction reads fresh
    counts, and again when it commits, since another request may have counted the old rows in
    between and stored them under the tokens set now."""
    scopes = sorted(set(scopes))
    if scopes:
        _replace(scopes)
        transaction.on_commit(lambda: _replace(scopes), using=using)


def archive_changed(*, using: str = DEFAULT_DB_ALIAS, **_signal_kwargs) -> None:
    """A case or a row of a case changed (a receiver; bulk writes call it themselves)."""
    scopes_changed([CASES], using=using)


def names_changed(*, using: str = DEFAULT_DB_ALIAS, **_signal_kwargs) -> None:
    """A region, diagnosis or tag changed: its name or place may be in any entry."""
    scopes_changed([NAMES], using=using)


def value_scope(name: str, value) -> str:
    """The scope of one filter value: ``region:<slug>``, ``modality:<facet code>`` …"""
    return f"{name}:{facet_key(value) if name == 'modality' else value}"


def facet_values_changed(values: Iterable[tuple[str, str]], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Cases that counted under these (filter, value) pairs before or after a write changed."""
    scopes_changed([value_scope(name, value) for name, value in values], using=using)


def filter_scopes(params: dict | None) -> list[str]:
    """The scopes an entry computed for these filters depends on."""
    params = params or {}
    scopes = [NAMES]
    if not params or any(name not in VALUE_FILTERS for name in params):
        scopes.append(CASES)
    scopes += [value_scope(name, params[name]) for name in VALUE_FILTERS if name in params]
    return scopes


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
    """``archive:<part>:<visibility>:<hash of the normalised parameters and their scopes' versions>``."""
    normalised = json.dumps(params or {}, sort_keys=True, default=str, ensure_ascii=True)
    tokens = ":".join(versions(filter_scopes(params)))
    digest = hashlib.sha256(f"{normalised}|{tokens}".encode()).hexdigest()[:32]
    return f"archive:{part}:{visibility}:{digest}"


def cached(key: str, compute: Callable[[], T]) -> T:
    """The value under ``key``, computed and stored on a miss."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, ENTRY_TIMEOUT)
    return value
