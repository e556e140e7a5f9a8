"""Bundles carry a case's questions, their options and its quiz format; a question that breaks the rules
the admin holds (3 to 6 options, exactly one correct) is refused, naming the case and the question."""

import hashlib
import io
import json
import re

import pytest

from bundles.services import BundleError, export_bundle, import_bundle
from cases.models import Case
from quiz.models import Question, QuizFormat
from tests.helpers.authoring import complete_case
from tests.helpers.bundles import empty_the_archive, rewrite
from tests.helpers.questions import OPTIONS, add_question, questions_only

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(media_root) -> bytes:
    case = complete_case(slug="with-questions", status=Case.Status.PUBLISHED)
    add_question(case, stem="First?", order=1)
    add_question(case, stem="Second?", order=2, options=OPTIONS[:3])
    questions_only(case)
    buffer = io.BytesIO()
    export_bundle(Case.objects.all(), buffer)
    empty_the_archive()
    return buffer.getvalue()


def test_questions_and_the_quiz_format_survive_a_round_trip(bundle):
    import_bundle(io.BytesIO(bundle))
    case = Case.objects.get(slug="with-questions")
    assert [(q.stem, q.order, q.options.count()) for q in case.questions.all()] == [
        ("First?", 1, 4),
        ("Second?", 2, 3),
    ]
    first = case.questions.get(order=1)
    assert [(o.order, o.text, o.is_correct, o.rationale) for o in first.options.all()] == [
        (order, text, correct, why) for order, (text, correct, why) in enumerate(OPTIONS, start=1)
    ]
    assert QuizFormat.objects.get(case=case).ask_diagnosis is False


def edited(bundle: bytes, edit) -> bytes:
    def change(entries):
        data = json.loads(entries["cases/with-questions.json"])
        edit(data)
        entries["cases/with-questions.json"] = json.dumps(data).encode()

    # The manifest's checksum of the record would refuse the edit first: recompute it.
    def with_checksum(entries):
        change(entries)
        manifest = json.loads(entries["manifest.json"])
        record = entries["cases/with-questions.json"]
        manifest["files"]["cases/with-questions.json"] = hashlib.sha256(record).hexdigest()
        entries["manifest.json"] = json.dumps(manifest).encode()

    return rewrite(bundle, with_checksum)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda data: data["questions"][0]["options"].pop(), None),  # still 3: fine
        (lambda data: data["questions"][1]["options"].pop(), "question 2: 2 options"),
        (lambda data: data["questions"][0]["options"][1].update(is_correct=True), "question 1: exactly one"),
        (lambda data: data["questions"][0].update(colour="red"), "question 1: unknown field(s) 'colour'"),
        (lambda data: data["questions"][0]["options"][0].update(order=9), "question 1, option 1"),
    ],
)
def test_a_question_against_the_rules_is_refused(bundle, edit, message):
    changed = edited(bundle, edit)
    if message is None:
        import_bundle(io.BytesIO(changed))
        assert Question.objects.count() == 2
        return
    with pytest.raises(BundleError, match=re.escape(message)):
        import_bundle(io.BytesIO(changed))
    assert not Case.objects.exists() and not Question.objects.exists()


def test_an_older_bundle_without_questions_imports(bundle):
    def edit(data):
        del data["questions"], data["quiz_format"]

    import_bundle(io.BytesIO(edited(bundle, edit)))
    assert Case.objects.get().questions.count() == 0 and not QuizFormat.objects.exists()
