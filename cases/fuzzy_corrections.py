"""Typo correction on databases without pg_trgm (SQLite, the embedded default), with rapidfuzz.

The same rule as on PostgreSQL (``cases.search._diagnoses_and_corrections``): a typed word is
corrected only if no published case has it, and only to a word that a published case's search
document holds when the query runs. The vocabulary table (``SearchTerm``) only proposes candidates,
so a stale row — a word since edited out, a case since unpublished — is never offered.
"""

import operator
from collections.abc import Iterable
from functools import reduce

from django.db.models import Case as Choose
from django.db.models import Max, Q, Value, When
from django.db.models.functions import Length
from rapidfuzz import fuzz, process

from cases.models import Case, CaseSearchDocument, SearchTerm

# rapidfuzz's normalised Indel similarity, 0 to 100: "hemangoma" → "hemangioma" scores 95, while
# unrelated words of similar length score below 60.
MIN_SCORE = 75
# Candidates checked against the published documents per typed word: the best may be stale.
CANDIDATES_PER_WORD = 5
# A typo rarely changes a word's length by more than this.
LENGTH_SLACK = 2
DOCUMENT_FIELDS = ("title_and_diagnosis", "findings", "context", "discussion")


def fuzzy_corrections(words: Iterable[str], *, using: str = "default") -> dict[str, str]:
    """For each of `words` (normalised, correctable) that no published case holds, the closest word
    that one does; words with no close published word are left out."""
    words = sorted(set(words))
    if not words:
        return {}
    unknown = [
        word for word, held in zip(words, _held(words, prefix=True, using=using), strict=True) if not held
    ]
    if not unknown:
        return {}
    shortest, longest = min(map(len, unknown)), max(map(len, unknown))
    vocabulary = sorted(
        SearchTerm.objects.using(using)
        .annotate(length=Length("word"))
        .filter(length__gte=shortest - LENGTH_SLACK, length__lte=longest + LENGTH_SLACK)
        .values_list("word", flat=True)
    )
    candidates = {
        word: [
            match
            for match, _score, _index in process.extract(
                word, vocabulary, scorer=fuzz.ratio, limit=CANDIDATES_PER_WORD, score_cutoff=MIN_SCORE
            )
        ]
        for word in unknown
    }
    offered = sorted({match for matches in candidates.values() for match in matches})
    published = dict(zip(offered, _held(offered, prefix=False, using=using), strict=True)) if offered else {}
    return {
        word: next(match for match in matches if published[match])
        for word, matches in candidates.items()
        if any(published[match] for match in matches)
    }


def _held(words: list[str], *, prefix: bool, using: str) -> list[bool]:
    """Whether a published case's search document holds each word (one query for all of them).

    ``prefix``: a word counts if a document word starts with it, as SQLite's search matches; else
    only the whole word counts (a correction must be a word the archive really has).
    """
    flags = {
        f"w{position}": Max(Choose(When(_in_document(word, prefix), then=Value(1)), default=Value(0)))
        for position, word in enumerate(words)
    }
    row = (
        CaseSearchDocument.objects.using(using).filter(case__status=Case.Status.PUBLISHED).aggregate(**flags)
    )
    return [bool(row[f"w{position}"]) for position in range(len(words))]


def _in_document(word: str, prefix: bool) -> Q:
    """The word at a word start of any text group (groups are normalised words joined by spaces)."""
    if prefix:
        checks = [
            Q(**{f"{name}__startswith": word}) | Q(**{f"{name}__contains": f" {word}"})
            for name in DOCUMENT_FIELDS
        ]
    else:
        checks = [
            Q(**{name: word})
            | Q(**{f"{name}__startswith": f"{word} "})
            | Q(**{f"{name}__endswith": f" {word}"})
            | Q(**{f"{name}__contains": f" {word} "})
            for name in DOCUMENT_FIELDS
        ]
    return reduce(operator.or_, checks)
