"""``{{ field|input_html }}``: a form field's input, its markup rendered once per process.

Django renders each input through the form renderer's templates, about a tenth of a millisecond
apiece: on the quiz page, whose case part comes from the cache, that was most of the request. The
input of an unbound form depends only on the form's definition and the field's value, so its markup
is rendered once, with a stand-in where the value goes, and each request puts its own value there
(the answer form's key is new in every form shown). A bound form — a refused answer shown again,
with what was typed and its errors — is rendered as usual, and so is any widget other than a text
or hidden input. Nothing of the archive and nothing per request is kept: only form code decides
what is memoised.
"""

from django import forms, template
from django.core.signals import setting_changed
from django.forms import BoundField
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Alphanumeric, so that escaping leaves it as it is, and unlike anything a form puts in an input.
_VALUE_STAND_IN = "inputvaluestandin7f3a"
# Inputs whose markup shows the value as given (``format_value`` is ``str``) in ``value="…"``.
_SHAPED_WIDGETS = (forms.TextInput, forms.HiddenInput)

_input_shapes: dict[tuple, str] = {}


def _forget_input_shapes(*, setting: str, **_kwargs) -> None:
    """A test that changes how forms render must not get inputs rendered the old way."""
    if setting in ("FORM_RENDERER", "TEMPLATES"):
        _input_shapes.clear()


setting_changed.connect(_forget_input_shapes)


def _shape(field: BoundField, blank: bool) -> str:
    """The field's input as this form class renders it: blank, or with the stand-in as its value."""
    form = field.form
    if blank:
        return str(field)
    stand_in_form = type(form)(
        initial={field.name: _VALUE_STAND_IN}, prefix=form.prefix, auto_id=form.auto_id
    )
    return str(stand_in_form[field.name])


@register.filter
def input_html(field: BoundField) -> SafeString:
    """What ``{{ field }}`` renders, from memoised markup for text and hidden inputs of unbound forms."""
    form = field.form
    if form.is_bound or not isinstance(field.field.widget, _SHAPED_WIDGETS):
        return mark_safe(str(field))
    value = field.field.widget.format_value(field.value())
    blank = value is None
    key = (type(form), form.prefix, form.auto_id, field.name, blank)
    html = _input_shapes.get(key)
    if html is None:
        html = _input_shapes[key] = _shape(field, blank)
    if blank:
        return mark_safe(html)
    return mark_safe(html.replace(_VALUE_STAND_IN, conditional_escape(value)))
