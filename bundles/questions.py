"""A case's single-best-answer questions and quiz format in a bundle: written by the export, checked
row by row on import like the case's other records (``bundles.records``).

Older bundles have neither key and import with no questions and the default format.
"""

from bundles.records import RecordError, checked, record, record_list, values_of
from cases.models import Case
from quiz.models import MAX_OPTIONS, MIN_OPTIONS, Question, QuestionOption, QuizFormat

QUESTION_FIELDS = ["stem", "order"]
OPTION_FIELDS = ["order", "text", "is_correct", "rationale"]
QUESTION_KEYS = {*QUESTION_FIELDS, "options"}
OPTION_KEYS = set(OPTION_FIELDS)
QUIZ_FORMAT_KEYS = {"ask_diagnosis"}


def questions_to_dict(case: Case) -> dict:
    questions = Question.objects.filter(case=case).prefetch_related("options")
    quiz_format = QuizFormat.objects.filter(case=case).first()
    return {
        "questions": [
            {
                "stem": question.stem,
                "order": question.order,
                "options": [
                    {name: getattr(option, name) for name in OPTION_FIELDS}
                    for option in question.options.all()
                ],
            }
            for question in questions
        ],
        "quiz_format": {"ask_diagnosis": quiz_format.ask_diagnosis} if quiz_format else None,
    }


def questions_create(data: dict, *, case: Case) -> None:
    """The questions and quiz format of a case's record (its keys checked by ``case_records_create``);
    a question needs 3 to 6 options, one of them correct. Raises :class:`RecordError`."""
    where = f"case {data['slug']}"
    for index, item in enumerate(record_list(data, "questions", where), start=1):
        item_where = f"{where}, question {index}"
        item = record(item, item_where, QUESTION_KEYS)
        question = checked(
            Question(case=case, **values_of(item, Question, QUESTION_FIELDS, item_where)), item_where
        )
        options = record_list(item, "options", item_where)
        if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise RecordError(
                f"{item_where}: {len(options)} options; a question has {MIN_OPTIONS} to {MAX_OPTIONS}"
            )
        rows = []
        for number, option in enumerate(options, start=1):
            option_where = f"{item_where}, option {number}"
            option = record(option, option_where, OPTION_KEYS)
            rows.append(
                (
                    QuestionOption(**values_of(option, QuestionOption, OPTION_FIELDS, option_where)),
                    option_where,
                )
            )
        if sum(option.is_correct for option, _ in rows) != 1:
            raise RecordError(f"{item_where}: exactly one option must be correct")
        question.save()
        for option, option_where in rows:
            option.question = question
            checked(option, option_where).save()
    quiz_format = data.get("quiz_format")
    if quiz_format is not None:
        format_where = f"{where}, quiz format"
        values = values_of(
            record(quiz_format, format_where, QUIZ_FORMAT_KEYS), QuizFormat, ["ask_diagnosis"], format_where
        )
        checked(QuizFormat(case=case, **values), format_where).save()
