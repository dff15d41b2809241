"""Template helpers of the escalation pages: comments as safe Markdown, badges, and durations in words."""

from datetime import timedelta
from urllib.parse import urlsplit

from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

register = template.Library()

# Links may go to the web and to mail, nowhere else (no javascript:, data:, file:, nor relative tricks).
LINK_SCHEMES = {"http", "https", "mailto"}

STATE_BADGES = {
    "open": "text-bg-danger",
    "acknowledged": "text-bg-warning",
    "in_progress": "text-bg-primary",
    "waiting_on_raiser": "text-bg-info",
    "resolved": "text-bg-success",
    "closed": "text-bg-secondary",
}
PRIORITY_BADGES = {priority: f"esc-priority--{priority.lower()}" for priority in ("P1", "P2", "P3", "P4")}


def _valid_link(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in LINK_SCHEMES


def _renderer() -> MarkdownIt:
    # CommonMark with raw HTML off: a <script> in a comment is shown as text. Images are off too: a comment must
    # not make every reader's browser fetch something (CSP would refuse other hosts anyway).
    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    md.validateLink = _valid_link

    def link_open(renderer, tokens, index, options, env):
        tokens[index].attrSet("rel", "nofollow noopener noreferrer")
        return renderer.renderToken(tokens, index, options, env)

    md.add_render_rule("link_open", link_open)
    return md


MARKDOWN = _renderer()


@register.filter
def markdown(text: str) -> SafeString:
    """A comment's Markdown as HTML: markdown-it escapes every raw tag, and refuses links to other schemes (the
    link text stays, as text)."""
    return mark_safe(MARKDOWN.render(text or ""))


@register.filter
def state_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-light")


@register.filter
def priority_badge(priority: str) -> str:
    return PRIORITY_BADGES.get(priority, "")


@register.filter
def duration(value: timedelta | None) -> str:
    """A duration in the two largest units that matter: "3 d 4 h", "2 h 5 min", "45 s" (its sign dropped)."""
    if value is None:
        return "—"
    seconds = abs(int(value.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    shown = [f"{amount} {unit}" for amount, unit in parts if amount][:2]
    return " ".join(shown) if shown else f"{seconds} s"
