"""The fleet pages: the overview (counts by state, recent transitions, agents to look at), the CSV import with its
preview, the bulk change, and the CSV export of the registry's filters. Thin: agents.services.fleet decides."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from agents import selectors
from agents.filters import AgentFilter
from agents.forms import agent_filter_form, bootstrap_form
from agents.models import Agent
from agents.services.fleet import IMPORT_HEADER, IMPORT_MAX_BYTES, agent_bulk, agent_import, fleet_csv, import_text
from agents.services.lifecycle import TRANSITIONS
from novaops import policies
from novaops.decorators import person_required
from novaops.errors import ApplicationError

RECENT_TRANSITIONS = 20
# The bulk page lists at most this many agents of a filter; narrower filters reach the rest.
BULK_PAGE_AGENTS = 200
CANNOT_OPERATE = "Only Tier 1 leads and division members can import or change agents in bulk."


def _filter_query(request: HttpRequest) -> str:
    """The registry filters of this request as a query string (for the export link and the bulk page's return)."""
    query = request.GET.copy()
    for key in list(query):
        if key not in AgentFilter.Meta.fields or not query.get(key):
            del query[key]
    return query.urlencode()


@require_safe
@person_required
def fleet_overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "states": Agent.Lifecycle.choices,
        "division_counts": selectors.fleet_state_counts(),
        "events": selectors.lifecycle_event_list(limit=RECENT_TRANSITIONS),
        "attention": list(selectors.fleet_attention(now=now)[:100]),
        "now": now,
        "can_operate": policies.can_edit_some_agents(request.user),
        "section": "fleet",
    }
    return render(request, "agents/fleet.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def fleet_import(request: HttpRequest) -> HttpResponse:
    """Upload or paste → preview (every row, or every error by row and column) → commit, which checks again."""
    if not policies.can_edit_some_agents(request.user):
        raise PermissionDenied(CANNOT_OPERATE)
    context: dict[str, Any] = {"header": ",".join(IMPORT_HEADER), "section": "fleet", "csv_text": ""}
    if request.method != "POST":
        return render(request, "agents/fleet_import.html", context)
    commit = request.POST.get("action") == "commit"
    status = 200
    try:
        text = _import_source(request)
        context["csv_text"] = text
        result = agent_import(csv_text=text, actor=request.user, dry_run=not commit)
    except ApplicationError as exc:
        context.update(problem=exc.message, errors=exc.errors)
        status = exc.status
    else:
        if commit:
            messages.success(request, f"Imported {len(result.rows)} agent(s).")
            return redirect("fleet:overview")
        context["rows"] = result.rows
    return render(request, "agents/fleet_import.html", context, status=status)


def _import_source(request: HttpRequest) -> str:
    upload = request.FILES.get("file")
    if upload is not None:
        return import_text(raw=upload.read(IMPORT_MAX_BYTES + 1))
    return import_text(raw=request.POST.get("csv_text", "").encode())


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def fleet_bulk(request: HttpRequest) -> HttpResponse:
    """The filtered agents with checkboxes, and one transition or division move for the ones ticked."""
    if not policies.can_edit_some_agents(request.user):
        raise PermissionDenied(CANNOT_OPERATE)
    filterset = AgentFilter(data=request.GET, queryset=selectors.agent_list())
    form = agent_filter_form(filterset.form)
    valid = filterset.is_valid()
    agents = list(filterset.qs[: BULK_PAGE_AGENTS + 1]) if valid else []
    context: dict[str, Any] = {
        "form": bootstrap_form(form),
        "agents": agents[:BULK_PAGE_AGENTS],
        "more": len(agents) > BULK_PAGE_AGENTS,
        "transitions": TRANSITIONS,
        "divisions": selectors.division_choice_list() if policies.is_lead(request.user) else [],
        "query": _filter_query(request),
        "selected": set(request.POST.getlist("handles")),
        # What was asked, shown again with a refusal so it can be corrected rather than retyped.
        "chosen": {key: request.POST.get(key, "") for key in ("operation", "reason", "version")},
        "section": "fleet",
    }
    if request.method != "POST":
        return render(request, "agents/fleet_bulk.html", context, status=200 if valid else 400)
    try:
        result = agent_bulk(actor=request.user, **_bulk_choice(request))
    except ApplicationError as exc:
        context.update(problem=exc.message, errors=exc.errors, refused=exc.extra.get("refused", []))
        return render(request, "agents/fleet_bulk.html", context, status=exc.status)
    done = f"moved to {result.division.name}" if result.division else f"changed ({result.action})"
    messages.success(request, f"{len(result.handles)} agent(s) {done}: {', '.join(result.handles)}.")
    query = _filter_query(request)
    return redirect(f"{request.path}?{query}" if query else request.path)


def _bulk_choice(request: HttpRequest) -> dict[str, Any]:
    """The form's operation as agent_bulk's arguments: "transition:<name>" or "move:<division slug>"."""
    kind, _, value = request.POST.get("operation", "").partition(":")
    choice: dict[str, Any] = {
        "handles": request.POST.getlist("handles"),
        "reason": request.POST.get("reason", ""),
        "version": request.POST.get("version", ""),
    }
    if kind == "move":
        division = selectors.division_choice_list().filter(slug=value).first()
        if division is None:
            raise ApplicationError("Choose a division to move the agents to.", status=400)
        choice["division"] = division
    else:
        choice["transition"] = value
    return choice


@require_safe
@person_required
def fleet_export(request: HttpRequest) -> HttpResponse:
    """The registry's current filters as a CSV download, in the import's format."""
    try:
        agents = selectors.agent_list_filtered(filters=request.GET)
    except ValidationError as exc:
        lines = [f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(fleet_csv(agents=agents.iterator(chunk_size=500)), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="fleet.csv"'
    return response
