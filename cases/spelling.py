"""One normalisation for search: the stored search text and every query go through ``normalise_words``.

Lower case, accents stripped, and British spellings folded to the American ones, so that
"haemangioma", "Hæmangioma" and "hemangioma" all become ``hemangioma`` whichever side of the
search they are on. The folding is a set of rules (ae/oe, -our, -ise/-isation, -yse, -re, -lled)
plus a short word map; each rule is applied only where it is safe, and because both the index and
the query are folded the same way, a rule that over-folds a rare word ("michael" → "michel") costs
nothing but a harmless merge.

Synonyms and abbreviations are not folded here: they are expanded at query time from the
``Diagnosis.synonyms`` lists (see ``cases/search.py``), so a new synonym works at once without
re-indexing every case that mentions it.
"""

import re
import unicodedata
from functools import lru_cache

WORD = re.compile(r"[^\W_]+")

# Words whose British and American forms differ irregularly, or where a rule would be unsafe.
WORD_MAP = {
    "grey": "gray",
    "greys": "grays",
    "greyish": "grayish",
    "artefact": "artifact",
    "artefacts": "artifacts",
    "artefactual": "artifactual",
    "aluminium": "aluminum",
    "sulphur": "sulfur",
    "sulphate": "sulfate",
    "sulphonamide": "sulfonamide",
    "programme": "program",
    "programmes": "programs",
    "ageing": "aging",
    "mould": "mold",
    "catalogue": "catalog",
    "analogue": "analog",
    "analogues": "analogs",
    "dialogue": "dialog",
    "plough": "plow",
    "disc": "disk",
    "discs": "disks",
    "discal": "diskal",
    "discitis": "diskitis",
    "discectomy": "diskectomy",
    "microdiscectomy": "microdiskectomy",
    "discogenic": "diskogenic",
    "discography": "diskography",
    "intradiscal": "intradiskal",
    "leucocyte": "leukocyte",
    "leucocytes": "leukocytes",
    "leucocytosis": "leukocytosis",
    "leucopenia": "leukopenia",
    "leucoencephalopathy": "leukoencephalopathy",
    "leucodystrophy": "leukodystrophy",
    "practise": "practice",
    "defence": "defense",
    "licence": "license",
    "enrolment": "enrollment",
    "fulfil": "fulfill",
    "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers",
}

# -re words whose American form ends in -er (centre, fibre …); compounds such as "millimetre" end in one.
_RE_ENDINGS = {
    "centre": "center",
    "centres": "centers",
    "centred": "centered",
    "fibre": "fiber",
    "fibres": "fibers",
    "metre": "meter",
    "metres": "meters",
    "litre": "liter",
    "litres": "liters",
    "titre": "titer",
    "titres": "titers",
    "calibre": "caliber",
    "theatre": "theater",
    "theatres": "theaters",
    "lustre": "luster",
    "sombre": "somber",
    "meagre": "meager",
    "spectre": "specter",
}

# -lled/-lling where American English keeps one l (stress not on the last syllable).
_SINGLE_L_STEMS = (
    "label",
    "model",
    "signal",
    "travel",
    "cancel",
    "channel",
    "tunnel",
    "funnel",
    "fuel",
    "counsel",
    "level",
    "total",
    "marshal",
    "equal",
    "dial",
    "spiral",
)
WORD_MAP.update(
    {
        stem + ending: stem + ending[1:]
        for stem in _SINGLE_L_STEMS
        for ending in ("led", "ling", "ler", "lers")
    }
)

# -our words that are the same in American English, or too short to be a British -our.
_OUR_KEPT = {"contour", "detour", "devour", "velour", "amour", "paramour", "troubadour", "flour", "scour"}

# -ise words that are -ise in American English too; the check is on the base form (excise, excised …).
_ISE_KEPT = {
    "advertise", "advise", "apprise", "arise", "bruise", "chastise", "chemise", "circumcise", "comprise",
    "compromise", "concise", "cruise", "demise", "despise", "devise", "disguise", "enterprise", "excise",
    "exercise", "expertise", "franchise", "guise", "improvise", "incise", "merchandise", "noise",
    "otherwise", "likewise", "clockwise", "paradise", "poise", "praise", "precise", "premise", "promise",
    "raise", "reprise", "revise", "rise", "supervise", "surmise", "surprise", "televise", "treatise",
    "valise", "wise", "anise", "mortise", "tortoise", "porpoise", "remise", "sunrise", "uprise",
}  # fmt: skip
_ISE_KEPT_ENDINGS = ("compromise", "wise")

_CONSONANT = "bcdfghjklmnpqrstvwxz"
_RULES = [
    # haem-, anaem-, leukaem-, paed-, caec-, gynaec-, anaesth- … : ae between consonants becomes e.
    (re.compile(rf"(?<=[{_CONSONANT}])ae(?=[{_CONSONANT}])"), "e"),
    # aetiology, aesthetic (but never aer-: aerated, aerobic).
    (re.compile(r"^ae(?=[ts])"), "e"),
    # oedema, oesophagus, oestrogen.
    (re.compile(r"^oe(?=[dsn])"), "e"),
    # foetus, coeliac, diarrhoea, dyspnoea, amoeba, homoeopathy.
    (re.compile(r"(?<=f)oe(?=t)|(?<=c)oe(?=l)|(?<=rrh|.pn)oe(?=a)|(?<=am)oe(?=b)|(?<=hom)oe(?=o)"), "e"),
    # leucaemia (old spelling), leucocyte → leuk-.
    (re.compile(r"^leuc(?=[ao])"), "leuk"),
]  # fmt: skip
_OUR = re.compile(r"^([a-z]{2,})our(s|ed|ing|al|ful|less|able|ite|ites)?$")
_ISE = re.compile(r"^([a-z]{3,})is(e|es|ed|ing|er|ers|ation|ations)$")
_YSE = re.compile(r"^([a-z]*l)ys(e|es|ed|ing|er|ers)$")


def _fold_ise(word: str) -> str:
    match = _ISE.match(word)
    if match is None:
        return word
    base = f"{match.group(1)}ise"
    if base in _ISE_KEPT or base.endswith(_ISE_KEPT_ENDINGS):
        return word
    return f"{match.group(1)}iz{match.group(2)}"


def _fold_our(word: str) -> str:
    match = _OUR.match(word)
    if match is None or f"{match.group(1)}our" in _OUR_KEPT:
        return word
    return f"{match.group(1)}or{match.group(2) or ''}"


def _fold_re_ending(word: str) -> str:
    for british, american in _RE_ENDINGS.items():
        if word.endswith(british):
            return word[: -len(british)] + american
    return word


@lru_cache(maxsize=65536)
def fold_spelling(word: str) -> str:
    """The American spelling of one lower-case, accent-free word (``haemangiomas`` → ``hemangiomas``)."""
    if word in WORD_MAP:
        return WORD_MAP[word]
    for pattern, replacement in _RULES:
        word = pattern.sub(replacement, word)
    word = _fold_our(word)
    word = _fold_ise(word)
    word = _YSE.sub(r"\1yz\2", word)
    return _fold_re_ending(word)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalise_words(text: str) -> list[str]:
    """The words of ``text`` as the search index and the queries both see them.

    >>> normalise_words("Hæmangiomas of the OESOPHAGUS, T1-weighted")
    ['hemangiomas', 'of', 'the', 'esophagus', 't1', 'weighted']
    """
    folded = _strip_accents(text).casefold().replace("æ", "ae").replace("œ", "oe")
    return [fold_spelling(word) for word in WORD.findall(folded)]


@lru_cache(maxsize=65536)
def normalise_word(word: str) -> str:
    """One word of a text as ``normalise_words`` sees it (for highlighting the text word by word).
    A word normalises to one word except in rare cases ("½" → "1", "2"), where the first is kept."""
    return (normalise_words(word) or [""])[0]


def normalise(text: str) -> str:
    """``normalise_words`` joined by single spaces: the form stored in the search document."""
    return " ".join(normalise_words(text))


def raw_words(text: str) -> list[re.Match]:
    """The words of ``text`` with their positions, for highlighting the original (un-normalised) text."""
    return list(WORD.finditer(unicodedata.normalize("NFC", text)))
