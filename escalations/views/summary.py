"""Escalations on the dashboards, without the dashboards importing escalations (escalations ← dashboards only):
the overview's panel is a fragment its template loads by URL (htmx), and the charts' annotations are JSON that
static/js/dashboards.js fetches by URL after drawing a chart.

`GET /escalations/annotations/?range=…|from=…&to=…[&tz=…][&division=slug…][&metric=key…][&agent=handle…]`: the
tickets raised in the range, narrowed by each kind of filter given (at least one), as
`[{"number", "key", "title", "at", "state", "priority", "breached", "url"}]`. The range is read as the dashboards
read theirs (dashboards.state), so a chart passes its own figure URL's range and zone through; `at` is written in
that zone, so its first 19 characters are the wall-clock time the chart's x axis uses.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboards.views.common import view_state
from escalations import selectors
from escalations.models import ACTIVE_STATES
from novaops.decorators import person_required
from novaops.errors import InvalidInput
from novaops.problems import error_response

# The overview lists this many tickets; the queue has the rest.
PANEL_ROWS = 8
ANNOTATION_PARAMETERS = frozenset({"range", "from", "to", "tz", "division", "metric", "agent"})


@require_safe
@person_required
def overview_panel(request: HttpRequest) -> HttpResponse:
    """The active tickets, breached and most urgent first, with a count per state; the viewer's own marked."""
    now = timezone.now()
    tickets, total = selectors.urgent_list(now=now, limit=PANEL_ROWS)
    counts = selectors.state_counts()
    context = {
        "tickets": [
            {"ticket": ticket, "mine": any(user.pk == request.user.pk for user in ticket.assignees.all())}
            for ticket in tickets
        ],
        "total": total,
        "more": total - len(tickets),
        "breached": sum(ticket.breached for ticket in tickets),
        "states": [(state.label, counts[state], state.value) for state in ACTIVE_STATES],
        "queue_url": reverse("escalations:queue"),
    }
    return render(request, "escalations/_overview_panel.html", context)


@require_safe
@person_required
def annotations(request: HttpRequest) -> JsonResponse:
    """The tickets to mark on a chart of this range and division / metric / agent (see the module's docstring)."""
    # Problem JSON whatever the Accept header says: this URL only ever answers JSON.
    try:
        state = view_state(request, allowed=ANNOTATION_PARAMETERS)
        if not (state.divisions or state.metrics or state.agents):
            raise InvalidInput(
                "Say which chart the annotations are for.",
                errors=[{"field": "division", "message": "give a division, a metric or an agent."}],
            )
    except InvalidInput as refusal:
        return error_response(refusal)
    tickets = selectors.annotation_list(
        start=state.start,
        end=state.end,
        now=timezone.now(),
        division_slugs=state.divisions,
        metric_keys=state.metrics,
        agent_handles=state.agents,
    )
    rows = [
        {
            "number": ticket.number,
            "key": ticket.key,
            "title": ticket.title,
            "at": ticket.created_at.astimezone(state.tz).isoformat(),
            "state": ticket.state,
            "priority": ticket.priority,
            "breached": ticket.breached,
            "url": reverse("escalations:detail", args=[ticket.number]),
        }
        for ticket in tickets
    ]
    return JsonResponse(rows, safe=False)
