"""Filters of the review session's pages: an agenda figure's number and change in words, a stored ISO time."""

from datetime import datetime

from django import template

register = template.Library()

_WORDS = {"good": "better", "bad": "worse"}


@register.filter
def figure(value: float | None) -> str:
    """A figure as the dashboards show it: thousands separated, three significant digits below a thousand."""
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


@register.filter
def change(figure_row: dict) -> str:
    """ "▲ 12 % (worse)": the direction and size in words, so colour never carries the meaning alone."""
    value, tone = figure_row.get("change"), figure_row.get("tone", "flat")
    if value is None:
        return "no previous data"
    arrow = "▲" if value > 0 else "▼" if value < 0 else "→"
    size = abs(value) * 100
    amount = f"{size:.0f}" if size >= 10 else f"{size:.1f}"
    word = _WORDS.get(tone, "")
    return f"{arrow} {amount} %" + (f" ({word})" if word else "")


@register.filter
def moment(value: str | None) -> datetime | None:
    """A time stored as ISO 8601 in an item's figures, as an aware datetime (the template's zone applies)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@register.filter
def silence(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"
