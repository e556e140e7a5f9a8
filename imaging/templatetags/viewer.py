from django import template

from imaging.stacks import series_stack

register = template.Library()


@register.simple_tag
def stack_of(series, with_answer: bool = False) -> dict:
    """Stack data for the viewer; ``with_answer`` adds overlays and captions (never before a quiz reveal)."""
    stack = series_stack(series, with_overlays=with_answer)
    if with_answer:
        stack["captions"] = {
            str(i): image.caption for i, image in enumerate(series.images.all()) if image.caption
        }
    return stack


@register.filter
def preset_label(name: str) -> str:
    return name.replace("_", " ").capitalize()
