from django import template
from django.utils.safestring import mark_safe

from cases.markdown import render_markdown
from cases.modalities import modality_labels

register = template.Library()
register.filter("modality_labels", modality_labels)

NOT_STATED = "Not stated in the source."
NOT_GIVEN = "Not stated."


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    return mark_safe(render_markdown(text))


@register.simple_tag
def not_stated(case) -> str:
    """What an empty section says: "not stated in the source" only where a source is recorded."""
    return NOT_STATED if case.source_recorded else NOT_GIVEN


@register.inclusion_tag("includes/section.html")
def section(heading: str, text: str, section_id: str = "", case=None):
    """A teaching section, or an honest "not stated" when it is empty."""
    empty = not_stated(case) if case is not None else NOT_GIVEN
    return {"heading": heading, "text": text, "section_id": section_id, "not_stated": empty}


@register.simple_tag
def age_sex(case) -> str:
    age = f"{case.age}-year-old" if case.age is not None else "Age not stated"
    sex = case.get_sex_display().lower() if case.sex else "sex not stated"
    return f"{age}, {sex}"


@register.simple_tag(takes_context=True)
def toggle_filter_url(context, name: str, value: str | None) -> str:
    """The current list URL with filter ``name`` set to ``value`` (or removed when None); back to page 1."""
    params = context["request"].GET.copy()
    params.pop("page", None)
    if value is None:
        params.pop(name, None)
    else:
        params[name] = value
    return f"?{params.urlencode()}" if params else "?"
