"""``{{ some_timedelta|duration_words }}``: "15 minutes", "1 hour 30 minutes" (the lock-out page's wait)."""

from datetime import timedelta

from django import template

register = template.Library()


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


@register.filter
def duration_words(value: timedelta) -> str:
    """Whole hours and minutes; seconds only for a wait under a minute."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return _count(seconds, "second")
    hours, minutes = divmod(seconds // 60, 60)
    parts = [_count(hours, "hour")] if hours else []
    if minutes:
        parts.append(_count(minutes, "minute"))
    return " ".join(parts)
