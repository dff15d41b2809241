"""Server-rendered registry pages: domains → divisions → agents, the searchable agent list, the agent page (with its
lifecycle buttons and timeline; the transitions themselves are agents.views.lifecycle) and the agent edit form.

Views stay thin: they parse input, call the selectors (reads) or agent_update (the one write) and render. Bad input
is answered precisely: form errors with 400, unknown slugs, handles and page numbers with 404, never a 500.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from agents import selectors
from agents.constants import READ_ONLY_MESSAGE
from agents.filters import AgentFilter
from agents.forms import AgentEditForm, agent_filter_form, bootstrap_form
from agents.models import Agent, Division, Domain
from agents.services.agents import agent_update
from agents.services.lifecycle import available_transitions
from agents.views.lookups import agent_or_404, division_or_404
from novaops import policies
from novaops.decorators import person_required

AGENTS_PER_PAGE = 50
# The agent page's transition buttons.
TRANSITION_LABELS = {
    "deploy": "Deploy",
    "activate": "Activate",
    "degrade": "Mark degraded",
    "recover": "Mark recovered",
    "pause": "Pause",
    "retire": "Retire",
}
# The id of the element the live search swaps; only requests aimed at it get the partial.
RESULTS_TARGET = "agent-results"


class HtmxHttpRequest(HttpRequest):
    """HttpRequest as seen behind django-htmx's middleware (for the type checker)."""

    htmx: HtmxDetails


def _page(request: HttpRequest, queryset: QuerySet[Agent]) -> Page:
    """The requested page of agents; a page number that is not a number or out of range is a 404."""
    paginator = Paginator(queryset, AGENTS_PER_PAGE)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc


def _wants_results_partial(request: HtmxHttpRequest) -> bool:
    # A history-restore request (back button after a cache miss) must get the whole page, as must htmx requests
    # aimed at anything other than the results.
    return bool(request.htmx) and not request.htmx.history_restore_request and request.htmx.target == RESULTS_TARGET


@require_safe
@person_required
def domain_list(request: HttpRequest) -> HttpResponse:
    """Domain cards with lead and counts, each listing its divisions (two queries, however large the fleet)."""
    domains = list(selectors.domain_list())
    divisions: dict[int, list[Division]] = {}
    for division in selectors.division_list():
        divisions.setdefault(division.domain_id, []).append(division)
    cards = [(domain, divisions.get(domain.pk, [])) for domain in domains]
    return render(request, "agents/domain_list.html", {"domains": domains, "cards": cards, "section": "domains"})


@require_safe
@person_required
def domain_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        domain = selectors.domain_get(slug=slug)
    except Domain.DoesNotExist as exc:
        raise Http404(f"No domain {slug}.") from exc
    divisions = selectors.division_list(domain=domain)
    return render(
        request, "agents/domain_detail.html", {"domain": domain, "divisions": divisions, "section": "domains"}
    )


@require_safe
@person_required
def division_detail(request: HttpRequest, slug: str) -> HttpResponse:
    division = division_or_404(slug)
    page = _page(request, selectors.agent_list().filter(division=division))
    return render(request, "agents/division_detail.html", {"division": division, "page": page, "section": "domains"})


@require_safe
@person_required
@vary_on_headers("HX-Request", "HX-Target")
def agent_list(request: HtmxHttpRequest) -> HttpResponse:
    """The searchable, filterable agent table; the live search asks for the results partial only.

    Invalid filters (an unknown division or domain, a bad tier or state, an over-long search) re-render the page with
    the errors next to the fields and status 400, and show no results rather than a silently wider list.
    """
    filterset = AgentFilter(data=request.GET, queryset=selectors.agent_list())
    form = agent_filter_form(filterset.form)
    valid = filterset.is_valid()
    page = _page(request, filterset.qs) if valid else None
    context = {
        "form": bootstrap_form(form),
        "page": page,
        "filtered": valid and any(form.cleaned_data.get(name) for name in form.fields),
        "live": True,
        "section": "agents",
    }
    template = "agents/_agent_results.html" if _wants_results_partial(request) else "agents/agent_list.html"
    return render(request, template, context, status=200 if valid else 400)


def agent_page_context(request: HttpRequest, agent: Agent, **extra: Any) -> dict[str, Any]:
    """What the agent page shows: its details, the transitions this viewer may make and its lifecycle timeline.
    `extra` adds to it (the transition view's refusal and the values to show again)."""
    return {
        "agent": agent,
        # Reverse one-to-ones: joined by agent_get, so reading them costs no query; absent ones raise, hence getattr.
        "led_division": getattr(agent, "led_division", None),
        "led_domain": getattr(agent, "led_domain", None),
        "linked_person": getattr(agent, "person", None),
        "can_edit": policies.can_edit_division(request.user, agent.division_id),
        "transitions": [(name, TRANSITION_LABELS[name]) for name in available_transitions(agent, user=request.user)],
        "timeline": selectors.agent_lifecycle_timeline(agent),
        "section": "agents",
        **extra,
    }


@require_safe
@person_required
def agent_detail(request: HttpRequest, handle: str) -> HttpResponse:
    agent = agent_or_404(handle)
    return render(request, "agents/agent_detail.html", agent_page_context(request, agent))


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def agent_edit(request: HttpRequest, handle: str) -> HttpResponse:
    agent = agent_or_404(handle)
    # The same predicates, in the same order, as the API's CanEditAgents.
    if not policies.can_edit_some_agents(request.user):
        raise PermissionDenied(READ_ONLY_MESSAGE)
    if not policies.can_edit_division(request.user, agent.division_id):
        raise PermissionDenied(f"You can edit the agents of your own division only; {agent.handle} is not one.")
    form = AgentEditForm(request.POST if request.method == "POST" else None, agent=agent)
    status = 200
    if form.is_bound:
        if form.is_valid():
            changes = form.changed_fields()
            try:
                if changes:
                    agent_update(agent=agent, **changes)
            except ValidationError as exc:
                agent.refresh_from_db()  # agent_update set the refused values on the instance before refusing them
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Saved {agent.handle}." if changes else "Nothing changed.")
                return redirect("agents:agent_detail", handle=agent.handle)
        status = 400
    context = {"agent": agent, "form": bootstrap_form(form), "section": "agents"}
    return render(request, "agents/agent_edit.html", context, status=status)
