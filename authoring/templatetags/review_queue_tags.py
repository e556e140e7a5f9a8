from django import template

from authoring.review_queue import review_queue

register = template.Library()


@register.simple_tag(takes_context=True)
def review_queue_for_user(context):
    return review_queue(context["request"].user)
