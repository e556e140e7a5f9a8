"""The quiz form's inputs come from memoised markup (quiz_form.input_html): the same HTML as Django's."""

import uuid

import pytest

from quiz.forms import AnswerForm
from quiz.templatetags.quiz_form import input_html

INITIALS = [
    {},
    {"session": uuid.uuid4(), "key": uuid.uuid4()},
    {"guess": 'a "quoted" <b>bold</b> & more', "differential_2": "O'Brien"},
]


@pytest.mark.parametrize("initial", INITIALS, ids=["blank", "hidden values", "text to escape"])
def test_every_input_of_an_unbound_form_is_what_django_renders(initial):
    for _ in range(2):  # the first call renders the markup, the second reuses it
        form = AnswerForm(initial=initial)
        for name in form.fields:
            assert str(input_html(form[name])) == str(form[name])


def test_each_form_shows_its_own_key():
    keys = [uuid.uuid4() for _ in range(3)]
    rendered = [str(input_html(AnswerForm(initial={"key": key})["key"])) for key in keys]
    for key, html in zip(keys, rendered, strict=True):
        assert f'value="{key}"' in html


def test_a_bound_form_is_rendered_as_usual_with_what_was_typed():
    form = AnswerForm(data={"guess": "x" * 1000, "key": "not a uuid"})
    assert not form.is_valid()
    for name in ("guess", "key"):
        assert str(input_html(form[name])) == str(form[name])
    assert 'value="not a uuid"' in str(input_html(form["key"]))
