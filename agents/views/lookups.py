"""The registry rows a page's path names, or a 404 that says what was not found: shared by the registry's pages and
every other app's pages that take a division slug or an agent handle in their path."""

from django.http import Http404

from agents import selectors
from agents.constants import HANDLE_FORMAT, is_handle
from agents.models import Agent, Division


def division_or_404(slug: str) -> Division:
    try:
        return selectors.division_get(slug=slug)
    except Division.DoesNotExist as exc:
        raise Http404(f"No division {slug}.") from exc


def agent_or_404(handle: str) -> Agent:
    if not is_handle(handle):
        raise Http404(f"A handle is {HANDLE_FORMAT}.")
    try:
        return selectors.agent_get(handle=handle)
    except Agent.DoesNotExist as exc:
        raise Http404(f"No agent {handle}.") from exc
