"""What changed in a case's quiz rows between two of its revisions, in plain words, for authoring's
versions page (which may not import quiz: it finds ``case_history_changes`` through ``QuizConfig``).

Each revision of a case holds its single-best-answer questions with their options, its quiz format,
and its localisation questions with their targets (the case follows them). Both snapshots are read
through django-reversion's public API only: ``revision.version_set.get_for_model`` and ``field_dict``.
The answer is plain data, ``[(group title, [row, …]), …]``, each row a dict with ``summary`` (a sentence
such as "Target added on image 3, frame 2"), ``state`` ("added", "removed" or "changed") and
``changes`` ([(field, before, after), …], texts).
"""

from itertools import groupby
from operator import itemgetter

from imaging.models import Image, Series
from quiz.models import LesionTarget, LocalisationQuestion, Question, QuestionOption, QuizFormat

DELETED = "a deleted image"


def _snapshot(revision, model, keep) -> dict:
    """{object id: field values} of the revision's rows of ``model`` for which ``keep(values)``."""
    return {
        version.object_id: version.field_dict
        for version in revision.version_set.get_for_model(model)
        if keep(version.field_dict)
    }


def _quiz_rows(revision, case_pk) -> dict:
    of_case = lambda values: str(values.get("case_id")) == str(case_pk)  # noqa: E731
    questions = _snapshot(revision, Question, of_case)
    localisations = _snapshot(revision, LocalisationQuestion, of_case)
    question_ids = {str(values["id"]) for values in questions.values()}
    localisation_ids = {str(values["id"]) for values in localisations.values()}

    def of_questions(ids):
        return lambda values: str(values.get("question_id")) in ids

    return {
        Question: questions,
        QuestionOption: _snapshot(revision, QuestionOption, of_questions(question_ids)),
        QuizFormat: _snapshot(revision, QuizFormat, of_case),
        LocalisationQuestion: localisations,
        LesionTarget: _snapshot(revision, LesionTarget, of_questions(localisation_ids)),
    }


def _short(text: str, length: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


class _Words:
    """Names the rows need (series labels, an image's place in its series), loaded once per comparison."""

    def __init__(self, old: dict, new: dict):
        self.stems = {
            str(values["id"]): values.get("stem", "")
            for side in (old, new)
            for values in side[Question].values()
        }
        self.prompts = {
            str(values["id"]): values.get("prompt", "")
            for side in (old, new)
            for values in side[LocalisationQuestion].values()
        }
        series_ids = {
            values.get("series_id") for side in (old, new) for values in side[LocalisationQuestion].values()
        }
        self.series = dict(Series.objects.filter(pk__in=series_ids).values_list("pk", "label"))
        image_ids = {values.get("image_id") for side in (old, new) for values in side[LesionTarget].values()}
        # An image is named by its place in its series (1-based), as the editor lists it: every image of
        # the series concerned, in one query.
        wanted = Image.objects.filter(pk__in=image_ids).values("series_id")
        in_order = (
            Image.objects.filter(series_id__in=wanted)
            .order_by("series_id", "order", "pk")
            .values_list("series_id", "pk")
        )
        self.image_places = {}
        for _series_id, images in groupby(in_order, key=itemgetter(0)):
            for place, (_, pk) in enumerate(images, 1):
                if pk in image_ids:
                    self.image_places[pk] = place

    def image(self, pk) -> str:
        place = self.image_places.get(pk)
        return f"image {place}" if place else DELETED

    def series_label(self, pk) -> str:
        return self.series.get(pk) or "a deleted series"


def _changes(fields, before: dict | None, after: dict | None) -> list[tuple[str, str, str]]:
    """[(label, before, after)] of the fields whose shown text differs; ``fields`` pairs each label with
    the function that shows that field of a row's values."""
    changes = []
    for label, show in fields:
        old = show(before) if before is not None else ""
        new = show(after) if after is not None else ""
        if old != new:
            changes.append((label, old, new))
    return changes


def _geometry(values: dict) -> str:
    if values.get("shape") == "polygon":
        corners = ", ".join(f"({_number(x)}, {_number(y)})" for x, y in values.get("points") or [])
        return f"polygon {corners}"
    return (
        f"ellipse centred at ({_number(values['center_x'])}, {_number(values['center_y'])}), "
        f"radii {_number(values['radius_x'])} by {_number(values['radius_y'])}, "
        f"turned {_number(values.get('rotation') or 0)}°"
    )


def _rows(old_rows: dict, new_rows: dict, fields, summary) -> list[dict]:
    rows = []
    for key in dict.fromkeys([*old_rows, *new_rows]):
        before, after = old_rows.get(key), new_rows.get(key)
        state = "added" if before is None else "removed" if after is None else "changed"
        changes = _changes(fields, before, after)
        if changes:
            rows.append({"summary": summary(state, after or before), "state": state, "changes": changes})
    return rows


def case_history_changes(old_revision, new_revision, case_pk) -> list[tuple[str, list[dict]]]:
    """The quiz rows of case ``case_pk`` added, removed or changed from one revision to the other."""
    old, new = _quiz_rows(old_revision, case_pk), _quiz_rows(new_revision, case_pk)
    words = _Words(old, new)
    yes_no = lambda value: "yes" if value else "no"  # noqa: E731

    def stem_of(question_id) -> str:
        return _short(words.stems.get(str(question_id), ""))

    def prompt_of(question_id) -> str:
        return _short(words.prompts.get(str(question_id), ""))

    questions = _rows(
        old[Question],
        new[Question],
        [("Stem", lambda v: v["stem"]), ("Order", lambda v: str(v["order"]))],
        lambda state, v: f"Question {state}: “{_short(v['stem'])}”",
    )
    options = _rows(
        old[QuestionOption],
        new[QuestionOption],
        [
            ("Text", lambda v: v["text"]),
            ("Correct", lambda v: yes_no(v["is_correct"])),
            ("Rationale", lambda v: v["rationale"]),
            ("Order", lambda v: str(v["order"])),
        ],
        lambda state, v: f"Option {v['order']} {state} in question “{stem_of(v['question_id'])}”",
    )
    formats = _rows(
        old[QuizFormat],
        new[QuizFormat],
        [("Asks the diagnosis", lambda v: yes_no(v["ask_diagnosis"]))],
        lambda state, v: f"Quiz format {state}",
    )
    localisations = _rows(
        old[LocalisationQuestion],
        new[LocalisationQuestion],
        [
            ("Prompt", lambda v: v["prompt"]),
            ("Series", lambda v: words.series_label(v["series_id"])),
            ("Order", lambda v: str(v["order"])),
        ],
        lambda state, v: f"Localisation question {state}: “{_short(v['prompt'])}”",
    )
    targets = _rows(
        old[LesionTarget],
        new[LesionTarget],
        [
            ("Place", lambda v: f"{words.image(v['image_id'])}, frame {v['frame'] + 1}"),
            ("Shape", _geometry),
        ],
        lambda state, v: (
            f"Target {state} on {words.image(v['image_id'])}, frame {v['frame'] + 1} "
            f"(question “{prompt_of(v['question_id'])}”)"
        ),
    )
    return [
        ("Single-best-answer questions", questions + options),
        ("Quiz format", formats),
        ("Point to the lesion", localisations + targets),
    ]
