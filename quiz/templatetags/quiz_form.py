"""``{{ field|input_html }}``: a form field's input, rendered once per process while it is blank.

Django renders each input through the form renderer's templates, about a tenth of a millisecond
apiece: on the quiz page, whose case part comes from the cache, that was most of the request. A
blank input of an unbound form (no data, no initial value) depends only on the form's definition,
so it is the same for everyone: it is rendered once and reused. Anything else — a refused answer
shown again with what was typed, a quiz session's hidden id — is rendered as usual. Nothing of
the archive and nothing per request is kept: only form code decides what is memoised.
"""

from django import template
from django.core.signals import setting_changed
from django.forms import BoundField
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_blank_inputs: dict[tuple, str] = {}


def _forget_blank_inputs(*, setting: str, **_kwargs) -> None:
    """A test that changes how forms render must not get inputs rendered the old way."""
    if setting in ("FORM_RENDERER", "TEMPLATES"):
        _blank_inputs.clear()


setting_changed.connect(_forget_blank_inputs)


def _is_blank(field: BoundField) -> bool:
    return not field.form.is_bound and field.value() in (None, "")


@register.filter
def input_html(field: BoundField) -> SafeString:
    """What ``{{ field }}`` renders, memoised for blank fields of unbound forms."""
    if not _is_blank(field):
        return mark_safe(str(field))
    form = field.form
    key = (type(form), form.prefix, form.auto_id, field.name)
    html = _blank_inputs.get(key)
    if html is None:
        html = _blank_inputs[key] = str(field)
    return mark_safe(html)
