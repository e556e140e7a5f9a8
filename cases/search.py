"""Full-text search over cases: the search document, its upkeep, query parsing, ranking and snippets.

The search document (``CaseSearchDocument``) holds a case's text normalised by ``cases/spelling.py``
— the same function that normalises queries, so British and American spellings meet — in four
groups by weight: A title and final diagnosis (with its synonyms), B findings (with tags and
regions), C history, differential, teaching points, D discussion. On PostgreSQL a weighted
``tsvector`` built from the groups is GIN-indexed and ranked with ``ts_rank``; unknown query words
are corrected against a vocabulary of the published archive with trigram similarity (pg_trgm),
which also gives the "did you mean". On SQLite the groups are matched word-prefix by word-prefix
and a CASE/WHEN score ranks them in the same order; typos are corrected with rapidfuzz against the
same vocabulary (``cases/fuzzy_corrections.py``), under the same rule.

Synonyms and abbreviations are expanded on the query side: a query word or phrase that names a
diagnosis (its name or any of ``Diagnosis.synonyms``) or a built-in abbreviation matches any of that
concept's names. Expanding at query time rather than in the index means a synonym an editor adds
works at once, without re-indexing every case that mentions the diagnosis.
"""

import json
import operator
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache, reduce

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections, models
from django.db.models import Aggregate, F, OuterRef, Q, QuerySet, Subquery, TextField, Value, When
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django_tasks import task

from cases import deferral
from cases.caching import archive_changed
from cases.fuzzy_corrections import fuzzy_corrections
from cases.modalities import MODALITY_LABELS
from cases.models import Case, CaseSearchDocument, Diagnosis, DifferentialItem, Finding, Region, SearchTerm
from cases.spelling import WORD, normalise, normalise_word, normalise_words

# The text-search configuration on PostgreSQL: English stemming and stop words over normalised text.
SEARCH_CONFIG = "english"
# A query longer than this many words is cut: the rest adds cost, hardly precision.
MAX_QUERY_WORDS = 16
# Typo correction: only words this long are corrected, and only to words at least this similar.
MIN_CORRECTABLE_LENGTH = 4
MIN_CORRECTION_SIMILARITY = 0.4
SNIPPET_WORDS = 32
# ts_rank (at most 1) times this stays below the smallest difference between two weight scores (0.1).
TIE_BREAK_SCALE = 0.01
REFRESH_BATCH = 500

# Weight groups, best first: (document field, PostgreSQL weight, SQLite score). The SQLite scores are
# PostgreSQL's default ts_rank weights, so both rank title/diagnosis > findings > context > discussion.
WEIGHT_GROUPS = (
    ("title_and_diagnosis", "A", 1.0),
    ("findings", "B", 0.4),
    ("context", "C", 0.2),
    ("discussion", "D", 0.1),
)

# Abbreviations every radiologist uses, beyond those editors list as diagnosis synonyms.
ABBREVIATIONS = {
    "AML": "acute myeloid leukaemia",
    "CML": "chronic myeloid leukaemia",
    "CLL": "chronic lymphocytic leukaemia",
    "MDS": "myelodysplastic syndrome",
    "EMH": "extramedullary haematopoiesis",
    "GCT": "giant cell tumour",
    "ABC": "aneurysmal bone cyst",
    "NOF": "non-ossifying fibroma",
    "AVN": "avascular necrosis",
    "TB": "tuberculosis",
    "PE": "pulmonary embolism",
    "DVT": "deep vein thrombosis",
    "HCC": "hepatocellular carcinoma",
    "RCC": "renal cell carcinoma",
    "GBM": "glioblastoma",
    "SAH": "subarachnoid haemorrhage",
    "SDH": "subdural haematoma",
    "EDH": "extradural haematoma",
    "ICH": "intracerebral haemorrhage",
    "DISH": "diffuse idiopathic skeletal hyperostosis",
    "HNP": "herniated nucleus pulposus",
    "OA": "osteoarthritis",
    "RA": "rheumatoid arthritis",
    "MRI": "magnetic resonance imaging",
    "CT": "computed tomography",
    "PET": "positron emission tomography",
}

# PostgreSQL's English stop words: dropped from queries on both backends, and kept out of the vocabulary.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can did do does doing don down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own s same she
    should so some such t than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    you your yours yourself yourselves
    """.split()  # noqa: SIM905 — kept as text, to compare by eye with PostgreSQL's english.stop
)


# --- The search document -------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchText:
    """A case's normalised text in its four weight groups."""

    title_and_diagnosis: str
    findings: str
    context: str
    discussion: str

    def as_fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name, _weight, _score in WEIGHT_GROUPS}

    def vocabulary(self) -> set[str]:
        """Words worth offering as a typo correction: alphabetic, not too short, not stop words."""
        words = set()
        for text in self.as_fields().values():
            words.update(text.split())
        return {word for word in words if is_vocabulary_word(word)}


def is_vocabulary_word(word: str) -> bool:
    return word.isalpha() and MIN_CORRECTABLE_LENGTH <= len(word) <= 60 and word not in STOP_WORDS


def _diagnosis_names(diagnosis) -> list[str]:
    return [diagnosis.name, *diagnosis.synonyms] if diagnosis is not None else []


def _joined(texts: Iterable[str]) -> str:
    """Normalised texts joined; a text that normalises like an earlier one (a diagnosis's British and
    American names) is kept once, so that spelling variants do not count twice in the ranking."""
    unique = dict.fromkeys(normalise(text) for text in texts if text)
    return " ".join(text for text in unique if text)


def case_search_text(case) -> SearchText:
    """The normalised text of a case whose findings, differential (with diagnoses), references, tags
    and regions are prefetched. Uses only fields and relations, so a migration's historical models
    do as well as the real ones."""
    findings = []
    for finding in case.findings.all():
        findings += [finding.modality, MODALITY_LABELS.get(finding.modality, ""), finding.study, finding.text]
    differential = []
    # Editors' notes are read with the discussion: teaching context, not the case's own findings. The
    # historical models of migrations before cases 0008 have no such fields.
    editors_notes = [
        getattr(case, "editors_notes", ""),
        *(getattr(finding, "editors_note", "") for finding in case.findings.all()),
    ]
    for item in case.differential_items.all():
        differential += [*_diagnosis_names(item.diagnosis), item.rationale]
        editors_notes.append(getattr(item, "editors_note", ""))
    return SearchText(
        title_and_diagnosis=_joined([case.title, *_diagnosis_names(case.final_diagnosis)]),
        findings=_joined(
            [
                *findings,
                *(tag.name for tag in case.tags.all()),
                *(region.name for region in case.regions.all()),
            ]
        ),
        context=_joined([case.clinical_history, *differential, case.teaching_points, case.diagnosis_proof]),
        discussion=_joined(
            [
                case.discussion,
                case.treatment_outcome,
                *editors_notes,
                *(reference.citation for reference in case.references.all()),
            ]
        ),
    )


def search_vector_expression() -> SearchVector:
    """The weighted tsvector of a search document, built in SQL from its four text groups."""
    vectors = [
        SearchVector(name, weight=weight, config=SEARCH_CONFIG) for name, weight, _score in WEIGHT_GROUPS
    ]
    return reduce(operator.add, vectors)


def _cases_with_search_text(case_ids: list[int]) -> QuerySet:
    return (
        Case.objects.filter(pk__in=case_ids)
        .select_related("final_diagnosis")
        .prefetch_related(
            "findings",
            models.Prefetch(
                "differential_items", queryset=DifferentialItem.objects.select_related("diagnosis")
            ),
            "references",
            "tags",
            "regions",
        )
    )


def _is_postgresql(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def search_documents_refresh(*, case_ids: Iterable[int]) -> int:
    """Rewrite the search documents of these cases (and, on PostgreSQL, their vectors and the typo
    vocabulary, through a task); returns how many were written (none yet inside
    `cases.upkeep.case_upkeep_deferred()`). The one path for single saves and bulk loads alike."""
    if deferral.deferred("search", case_ids):
        return 0
    ids = sorted(set(case_ids))
    written = 0
    for start in range(0, len(ids), REFRESH_BATCH):
        batch = ids[start : start + REFRESH_BATCH]
        texts = {case.pk: (case, case_search_text(case)) for case in _cases_with_search_text(batch)}
        if not texts:
            continue
        fields = [name for name, _weight, _score in WEIGHT_GROUPS]
        CaseSearchDocument.objects.bulk_create(
            [CaseSearchDocument(case_id=pk, **text.as_fields()) for pk, (_case, text) in texts.items()],
            update_conflicts=True,
            unique_fields=["case"],
            update_fields=fields,
        )
        if _is_postgresql():
            CaseSearchDocument.objects.filter(case_id__in=list(texts)).update(
                vector=search_vector_expression()
            )
        published = [pk for pk, (case, _text) in texts.items() if case.status == Case.Status.PUBLISHED]
        if published:
            search_vocabulary_refresh.enqueue(case_ids=published)
        written += len(texts)
    # Bulk loads call this one function after writing rows that no signal saw: retire cached pages too.
    archive_changed()
    return written


def case_search_refresh(*, case: Case) -> None:
    """Bring one case's search document up to date (on every save of the case: ``cases/search_upkeep.py``)."""
    search_documents_refresh(case_ids=[case.pk])


@task()
def search_vocabulary_refresh(case_ids: list[int]) -> int:
    """Add the words of these cases' search documents to the typo vocabulary, for those published when
    the task runs (a draft's words are never offered); returns how many documents were read.

    A task, because only "did you mean" reads the vocabulary: it may lag the save, the search may not.
    """
    fields = [name for name, _weight, _score in WEIGHT_GROUPS]
    texts = CaseSearchDocument.objects.filter(
        case_id__in=case_ids, case__status=Case.Status.PUBLISHED
    ).values_list(*fields)
    words: set[str] = set()
    for text in texts:
        words |= SearchText(*text).vocabulary()
    search_vocabulary_add(words=words)
    return len(texts)


def search_vocabulary_add(*, words: Iterable[str]) -> None:
    """Add words to the typo-correction vocabulary."""
    words = sorted({word for word in words if is_vocabulary_word(word)})
    if not words:
        return
    if not _is_postgresql():
        # Most words of a saved case are known already: look them up rather than insert them all again.
        known = set(SearchTerm.objects.filter(word__in=words).values_list("word", flat=True))
        SearchTerm.objects.bulk_create(
            [SearchTerm(word=word) for word in words if word not in known], ignore_conflicts=True
        )
        return
    table = SearchTerm._meta.db_table
    with connections["default"].cursor() as cursor:
        # Sorted, so that two concurrent saves take their row locks in the same order.
        cursor.execute(
            f"INSERT INTO {table} (word, stem) "
            f"SELECT w, coalesce((ts_lexize('english_stem', w))[1], w) FROM unnest(%s::text[]) AS w "
            f"ON CONFLICT (word) DO NOTHING",
            [words],
        )


def search_after_diagnosis_saved(*, diagnosis: Diagnosis) -> None:
    case_ids = Case.objects.filter(
        Q(final_diagnosis=diagnosis) | Q(differential_items__diagnosis=diagnosis)
    ).values_list("pk", flat=True)
    # Its names enter the vocabulary with the documents of its published cases, and only then: a
    # diagnosis that no published case names is not public.
    search_documents_refresh(case_ids=case_ids)


def search_after_region_saved(*, region: Region) -> None:
    search_documents_refresh(case_ids=Case.objects.filter(regions=region).values_list("pk", flat=True))


def search_after_m2m_change(*, instance, action: str, reverse: bool, pk_set) -> None:
    """Tags or regions of a case changed (``case.tags.set()``, ``region.cases.add()`` …)."""
    if not reverse:
        if action in {"post_add", "post_remove", "post_clear"}:
            search_documents_refresh(case_ids=[instance.pk])
        return
    if action == "pre_clear":
        # After the clear the links are gone, so remember now which cases they were.
        instance._search_cases_before_clear = list(
            Case.objects.filter(regions=instance).values_list("pk", flat=True)
            if isinstance(instance, Region)
            else []
        )
    elif action == "post_clear":
        search_documents_refresh(case_ids=instance.__dict__.pop("_search_cases_before_clear", []))
    elif action in {"post_add", "post_remove"}:
        search_documents_refresh(case_ids=pk_set or [])


# --- Queries ----------------------------------------------------------------------------------------

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class TermGroup:
    """One thing the user asked for; a case matches it if it contains any of the alternatives."""

    alternatives: tuple[Phrase, ...]


@dataclass(frozen=True)
class CaseSearch:
    """A parsed query: what to look for, and the "did you mean" text when a word was corrected."""

    text: str
    groups: tuple[TermGroup, ...] = ()
    suggestion: str = ""

    def __bool__(self) -> bool:
        return bool(self.groups)


@dataclass
class _Vocabulary:
    concepts: dict[Phrase, set[Phrase]]
    corrections: dict[str, str]

    @property
    def longest_phrase(self) -> int:
        return max((len(phrase) for phrase in self.concepts), default=1)


def _phrase(text: str) -> Phrase:
    return tuple(normalise_words(text))


def _concepts(name_lists: Iterable[list[str]]) -> dict[Phrase, set[Phrase]]:
    """Each name (or synonym, or abbreviation) → every name of the same concept, all normalised."""
    concepts: dict[Phrase, set[Phrase]] = {}
    for names in name_lists:
        phrases = {_phrase(name) for name in names}
        phrases = {phrase for phrase in phrases if phrase and not set(phrase) <= STOP_WORDS}
        for phrase in phrases:
            concepts.setdefault(phrase, set()).update(phrases)
    return concepts


def _load_vocabulary(words: list[str], using: str) -> _Vocabulary:
    """Diagnosis names and synonyms, and corrections for unknown words: one query on PostgreSQL
    (pg_trgm), up to three elsewhere (``cases.fuzzy_corrections``)."""
    correctable = sorted({word for word in words if is_vocabulary_word(word)})
    corrections: dict[str, str] = {}
    if _is_postgresql(using):
        rows, corrections = _diagnoses_and_corrections(correctable, using)
    else:
        rows = list(Diagnosis.objects.using(using).values_list("name", "synonyms"))
        corrections = fuzzy_corrections(correctable, using=using)
    builtin = ([abbreviation, expansion] for abbreviation, expansion in ABBREVIATIONS.items())
    diagnoses = ([name, *synonyms] for name, synonyms in rows)
    return _Vocabulary(_concepts([*builtin, *diagnoses]), corrections)


def _diagnoses_and_corrections(words: list[str], using: str) -> tuple[list, dict[str, str]]:
    """Every diagnosis's names, and a correction for each query word that no published case has.

    The vocabulary table (``SearchTerm``) only proposes: a word is offered as a correction only if,
    when the query runs, it is a word of a published case's search document (which holds the names
    of its final diagnosis and differential items too). So a word removed from a case, a case
    unpublished, or a word that only a draft or an unused diagnosis ever had, is never offered,
    however stale the table is. A query word counts as known (no correction) on the same terms:
    a published case would match it.
    """
    # One round trip for both: the query count of the case list stays fixed (one more than without q).
    diagnoses, terms = Diagnosis._meta.db_table, SearchTerm._meta.db_table
    documents, cases = CaseSearchDocument._meta.db_table, Case._meta.db_table
    published_documents = f"""
        SELECT 1 FROM {documents} d JOIN {cases} c ON c.id = d.case_id WHERE c.status = %(published)s
    """
    # The vector (GIN-indexed) narrows the documents to those with a word of the same stem; the text
    # then holds the word itself ("hemangioma", not only "hemangiomas"). Its groups are normalised
    # words joined by single spaces.
    document_text = " || ' ' || ".join(
        ["' '", *(f"d.{name}" for name, _weight, _score in WEIGHT_GROUPS), "' '"]
    )
    sql = f"""
        SELECT name, synonyms::text, NULL, NULL, NULL FROM {diagnoses}
        UNION ALL
        SELECT NULL, NULL, q.word, best.word, best.similarity
        FROM unnest(%(words)s::text[]) AS q(word)
        CROSS JOIN LATERAL (
            SELECT t.word, similarity(t.word, q.word) AS similarity FROM {terms} t
            WHERE t.word %% q.word AND EXISTS (
                {published_documents}
                AND d.vector @@ plainto_tsquery('{SEARCH_CONFIG}', t.word)
                AND strpos({document_text}, ' ' || t.word || ' ') > 0
            )
            ORDER BY similarity DESC, t.word LIMIT 1
        ) AS best
        WHERE NOT EXISTS (
            {published_documents} AND d.vector @@ plainto_tsquery('{SEARCH_CONFIG}', q.word)
        )
    """
    rows, corrections = [], {}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, {"words": words, "published": Case.Status.PUBLISHED})
        for name, synonyms, word, correction, similarity in cursor.fetchall():
            if name is not None:
                rows.append((name, json.loads(synonyms) if synonyms else []))
            elif similarity >= MIN_CORRECTION_SIMILARITY:
                corrections[word] = correction
    return rows, corrections


def case_search_parse(*, text: str, using: str = "default") -> CaseSearch:
    """Turn the words a user typed into term groups: spelling folded, typos corrected,
    diagnosis names, synonyms and abbreviations expanded. An empty query costs no query at all."""
    words = normalise_words(text)[: MAX_QUERY_WORDS * 2]
    if not any(word not in STOP_WORDS for word in words):
        return CaseSearch(text=text)
    vocabulary = _load_vocabulary(words, using)
    corrected = [vocabulary.corrections.get(word, word) for word in words]
    groups: list[TermGroup] = []
    position = 0
    while position < len(corrected) and len(groups) < MAX_QUERY_WORDS:
        for length in range(min(vocabulary.longest_phrase, len(corrected) - position), 0, -1):
            phrase = tuple(corrected[position : position + length])
            if phrase in vocabulary.concepts:
                original = tuple(words[position : position + length])
                groups.append(TermGroup(tuple(sorted(vocabulary.concepts[phrase] | {original}))))
                position += length
                break
        else:
            word, correction = words[position], corrected[position]
            if word not in STOP_WORDS:
                groups.append(TermGroup(tuple(sorted({(word,), (correction,)}))))
            position += 1
    return CaseSearch(text=text, groups=tuple(groups), suggestion=_suggestion(text, vocabulary.corrections))


def _suggestion(text: str, corrections: dict[str, str]) -> str:
    """The query as typed, with each corrected word replaced: "hemangoma sacrum" → "hemangioma sacrum"."""
    if not corrections:
        return ""
    text = unicodedata.normalize("NFC", text)
    pieces, position = [], 0
    for match in WORD.finditer(text):
        normalised = normalise_words(match.group())
        if len(normalised) == 1 and normalised[0] in corrections:
            pieces += [text[position : match.start()], corrections[normalised[0]]]
            position = match.end()
    return "".join([*pieces, text[position:]]).strip()


# --- Matching and ranking -------------------------------------------------------------------------


def _group_tsquery(group: TermGroup, weight: str = "") -> str:
    """A group as to_tsquery text: alternatives OR-ed, the words of a phrase adjacent (<->), each
    word restricted to one weight if given. Words are letters and digits only
    (``cases.spelling.WORD``), so quoting them is enough to make them safe."""
    label = f":{weight}" if weight else ""
    alternatives = [" <-> ".join(f"'{word}'{label}" for word in phrase) for phrase in group.alternatives]
    return "(" + " | ".join(f"({alternative})" for alternative in alternatives) + ")"


def _search_query(search: CaseSearch) -> SearchQuery:
    """Every group (AND), as a SearchQuery: what the GIN index answers."""
    text = " & ".join(_group_tsquery(group) for group in search.groups)
    return SearchQuery(text, search_type="raw", config=SEARCH_CONFIG)


def _contains_phrase(field_name: str, phrase: Phrase) -> Q:
    """The phrase at a word start of the document group (the stored text is words joined by spaces)."""
    lookup = f"search_document__{field_name}"
    text = " ".join(phrase)
    return Q(**{f"{lookup}__startswith": text}) | Q(**{f"{lookup}__contains": f" {text}"})


def _group_in_field(group: TermGroup, field_name: str) -> Q:
    return reduce(operator.or_, (_contains_phrase(field_name, phrase) for phrase in group.alternatives))


def _group_anywhere(group: TermGroup) -> Q:
    return reduce(operator.or_, (_group_in_field(group, name) for name, _weight, _score in WEIGHT_GROUPS))


def _group_in_weight(group: TermGroup, field_name: str, weight: str, postgresql: bool) -> Q:
    if postgresql:
        query = SearchQuery(_group_tsquery(group, weight), search_type="raw", config=SEARCH_CONFIG)
        return Q(search_document__vector=query)
    return _group_in_field(group, field_name)


def search_filter(cases: QuerySet, search: CaseSearch) -> QuerySet:
    """The cases that match every term group (on top of whatever ``cases`` already selects)."""
    if not search:
        return cases
    if _is_postgresql(cases.db):
        return cases.filter(search_document__vector=_search_query(search))
    return cases.filter(reduce(operator.and_, (_group_anywhere(group) for group in search.groups)))


# Cases never published (drafts) first on every database, as PostgreSQL sorts NULLs by default, so that
# SQLite and PostgreSQL choose the same newest matches.
NEWEST_FIRST = (F("published_at").desc(nulls_first=True), "-created_at", "-pk")


@dataclass(frozen=True)
class SearchMatches:
    """The cases a search ranks and counts: all its matches, or for a broad search only the
    ``more_than`` most recent of them (the page says so)."""

    cases: QuerySet
    more_than: int | None = None


def search_matches(cases: QuerySet, *, limit: int) -> SearchMatches:
    """``cases`` (the matches of a search), or, when more than ``limit`` match, the ``limit`` newest.

    Ranking and counting every match reads every matching document: at 100,000 cases a word found in a
    sixth of them would cost several times the page. The newest ``limit`` are read in one query, which
    PostgreSQL answers by walking the list's own order until ``limit`` match (a broad search) or from the
    few matches sorted (a narrow one)."""
    ids = list(cases.order_by(*NEWEST_FIRST).values_list("pk", flat=True)[: limit + 1])
    if len(ids) <= limit:
        return SearchMatches(cases)
    return SearchMatches(cases.filter(pk__in=ids[:limit]), more_than=limit)


def search_rank(cases: QuerySet, search: CaseSearch) -> QuerySet:
    """Annotate ``search_rank`` and order by it, best first; ties keep the list's usual order.

    Each term group scores the weight of the best place it is found in (title/diagnosis 1.0,
    findings 0.4, context 0.2, discussion 0.1) and the scores add up; so a case with the word in its
    title or diagnosis always ranks above one with it only in findings, however often the findings
    repeat it. ts_rank alone does not promise that (many weak matches can outscore one strong one),
    so on PostgreSQL it only breaks ties within the same score, scaled below the smallest step.
    """
    postgresql = _is_postgresql(cases.db)
    scores = [
        models.Case(
            *(
                When(_group_in_weight(group, name, weight, postgresql), then=Value(score))
                for name, weight, score in WEIGHT_GROUPS
            ),
            default=Value(0.0),
            output_field=models.FloatField(),
        )
        for group in search.groups
    ]
    rank = reduce(operator.add, scores)
    if postgresql:
        rank = rank + SearchRank(F("search_document__vector"), _search_query(search)) * Value(TIE_BREAK_SCALE)
    return cases.annotate(search_rank=rank).order_by("-search_rank", *NEWEST_FIRST)


# --- Snippets -----------------------------------------------------------------------------------------


class _JoinedText(Aggregate):
    """Texts of a group joined by newlines: GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, char(10))"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, function="STRING_AGG", template="%(function)s(%(expressions)s, chr(10))"
        )


def with_snippet_text(cases: QuerySet) -> QuerySet:
    """Add ``search_findings_text`` (all findings of the case) in the same query as the page's cases:
    the card's own prefetch loads only the findings' modality."""
    findings = (
        Finding.objects.filter(case=OuterRef("pk"))
        .order_by()
        .values("case")
        .annotate(joined=_JoinedText("text"))
        .values("joined")
    )
    return cases.annotate(search_findings_text=Subquery(findings, output_field=TextField()))


_MARKDOWN_MARKS = re.compile(r"[*`#]+")


def _plain(text: str) -> str:
    """Text between words, for the snippet: markdown emphasis dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", _MARKDOWN_MARKS.sub("", text))


@lru_cache(maxsize=65536)
def _same_word(found: str, wanted: str) -> bool:
    """A word of the text answers a query word if equal, or if one extends the other (plurals and
    other endings: "haemangiomas" answers "hemangioma"), as the stemming on PostgreSQL would."""
    if found == wanted:
        return True
    shorter, longer = sorted((found, wanted), key=len)
    return len(shorter) >= 4 and longer.startswith(shorter) and len(longer) - len(shorter) <= 4


def _hits(words: list[str], search: CaseSearch) -> tuple[set[int], int]:
    """Positions of ``words`` (normalised) inside a phrase the query asked for, and how many of the
    query's term groups were found: a phrase is marked only where all of it is present."""
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        positions.setdefault(word, []).append(position)
    marked: set[int] = set()
    groups_found = 0
    for group in search.groups:
        found = False
        for phrase in group.alternatives:
            # Only where the phrase's first word is: a text has far fewer distinct words than words.
            starts = (p for word, at in positions.items() if _same_word(word, phrase[0]) for p in at)
            for start in starts:
                rest = words[start + 1 : start + len(phrase)]
                if len(rest) == len(phrase) - 1 and all(map(_same_word, rest, phrase[1:])):
                    marked.update(range(start, start + len(phrase)))
                    found = True
        groups_found += found
    return marked, groups_found


def search_snippet(*, case: Case, search: CaseSearch) -> SafeString:
    """A few lines of the case's own text around the words the query matched, each in ``<mark>``.

    Built only from escaped pieces of the case's text and our own ``<mark>`` tags, so author text such
    as ``<script>`` arrives escaped however it was written. Empty when the match was only in what the
    card shows anyway (title, diagnosis) or in tags and regions.
    """
    sources = [
        getattr(case, "search_findings_text", "") or "",
        case.clinical_history,
        case.teaching_points,
        case.discussion,
        case.diagnosis_proof,
        case.treatment_outcome,
    ]
    best: tuple[int, str, list[re.Match], list[int]] | None = None
    for source in sources:
        text = unicodedata.normalize("NFC", source or "")
        raw = list(WORD.finditer(text))
        normalised = [normalise_word(match.group()) for match in raw]
        marked, groups_found = _hits(normalised, search)
        if marked and (best is None or groups_found > best[0]):
            best = (groups_found, text, raw, sorted(marked))
    if best is None:
        return mark_safe("")
    _groups_found, text, words, hits = best
    start = _window_start(hits, len(words))
    end = min(len(words), start + SNIPPET_WORDS)
    hit_set = set(hits)
    parts = ["…" if start > 0 else ""]
    position = words[start].start()
    for index in range(start, end):
        match = words[index]
        parts.append(escape(_plain(text[position : match.start()])))
        word = escape(match.group())
        parts.append(f"<mark>{word}</mark>" if index in hit_set else word)
        position = match.end()
    # The rest of the text when the window reaches its end (closing punctuation), else an ellipsis.
    parts.append(" …" if end < len(words) else escape(_plain(text[position:]).rstrip()))
    return mark_safe("".join(parts))  # every piece above is escaped text or our own <mark> tags


def _window_start(hits: list[int], word_count: int) -> int:
    """Where the window of SNIPPET_WORDS words holding the most hits starts (a few words before one)."""
    best_start, best_count = hits[0], 0
    for first in hits:
        count = sum(1 for hit in hits if first <= hit < first + SNIPPET_WORDS - 4)
        if count > best_count:
            best_start, best_count = first, count
    return max(0, min(best_start - 4, word_count - SNIPPET_WORDS))
