"""The ticket page (/escalations/<number>/): header, SLA clocks, the transition buttons this viewer may use, the
kind's section, the timeline with the comments, and a chart of each linked metric around the raise time.

Every button and form on it posts to escalations:act (views/actions.py), which re-renders this page with a bound
form when one is invalid: `ticket_context` takes those forms in place of the blank ones.
"""

from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from agents.forms import bootstrap_form
from dashboards.state import ViewState
from dashboards.views.common import viewer_zone
from escalations import selectors
from escalations.constants import LEVEL_MAX, LEVEL_NAMES
from escalations.forms import CommentForm, ReassignForm
from escalations.models import Escalation
from escalations.routing import level_pool
from escalations.timeline import timeline
from escalations.views.kinds import kind_section
from novaops.decorators import person_required

# The chart of a linked metric spans this much either side of the raise time (never past now).
CHART_AROUND = timedelta(hours=24)
# The buttons' words; "start" from waiting on the raiser reads as resuming.
BUTTONS = {
    "acknowledge": "Acknowledge",
    "start": "Start work",
    "wait": "Wait on raiser",
    "resolve": "Resolve",
    "close": "Close",
    "reopen": "Reopen",
    "escalate": "Escalate",
}


def ticket_or_404(number: int) -> Escalation:
    try:
        return selectors.escalation_get(number=number)
    except Escalation.DoesNotExist as exc:
        raise Http404(f"No escalation ESC-{number}.") from exc


@require_safe
@person_required
def detail(request: HttpRequest, number: int) -> HttpResponse:
    escalation = ticket_or_404(number)
    return render(request, "escalations/detail.html", ticket_context(request, escalation))


def ticket_context(request: HttpRequest, escalation: Escalation, *, bound: dict[str, Any] | None = None) -> dict:
    """Everything the ticket page shows for this viewer. `bound` holds forms an invalid POST left (by name), shown
    with their errors instead of blank ones."""
    bound = bound or {}
    who = selectors.viewer(user=request.user, escalation=escalation)
    involved = [link.division for link in escalation.involved.all()]
    context = {
        "escalation": escalation,
        "who": who,
        "level_name": LEVEL_NAMES.get(escalation.level, ""),
        "involved": involved,
        "assignees": sorted(escalation.assignees.all(), key=lambda user: user.username),
        "buttons": _buttons(escalation, request.user),
        "clocks": selectors.clocks(escalation),
        "entries": timeline(escalation),
        "tz": viewer_zone(request),
        "charts": _charts(escalation, involved, tz=viewer_zone(request)),
        "section": "escalations",
    }
    if who.may("comment", escalation):
        context["comment_form"] = bootstrap_form(bound.get("comment") or CommentForm())
    if escalation.is_active and who.may("reassign", escalation):
        context["reassign_form"] = bootstrap_form(bound.get("reassign") or reassign_form(escalation))
    context.update(kind_section(escalation, who=who, involved=involved, bound=bound))
    return context


def _buttons(escalation: Escalation, user: Any) -> list[dict[str, str]]:
    """The transitions this viewer may make now, with their words (escalate names the level it goes to)."""
    buttons = []
    for name in selectors.available_transitions(escalation, user=user):
        label = BUTTONS[name]
        if name == "start" and escalation.state == Escalation.State.WAITING:
            label = "Resume work"
        if name == "escalate" and escalation.level < LEVEL_MAX:
            label = f"Escalate to level {escalation.level + 1}"
        buttons.append({"name": name, "label": label})
    return buttons


def reassign_form(escalation: Escalation, data: Any = None) -> ReassignForm:
    """Hand the ticket to people of its level's pool; the current assignees are chosen to start with."""
    pool = level_pool(
        level=escalation.level,
        division_ids={link.division_id for link in escalation.involved.all()},
        domain_ids=selectors.involved_domain_ids(escalation),
    )
    initial = {"assignees": [user.pk for user in escalation.assignees.all()]}
    return ReassignForm(data, pool=list(pool), initial=initial)


def _charts(escalation: Escalation, involved: list, *, tz: Any) -> list[dict[str, str]]:
    """One chart per linked metric, for the divisions involved, from a day before the raise to a day after (or now):
    the dashboards' figure endpoint draws it, as on every dashboard page."""
    metrics = list(escalation.metrics.all())
    if not metrics:
        return []
    start = escalation.created_at - CHART_AROUND
    end = min(escalation.created_at + CHART_AROUND, timezone.now())
    state = ViewState(
        start=start.replace(microsecond=0),
        end=end.replace(microsecond=0),
        tz=tz,
        range=None,
        group="division",
        divisions=tuple(division.slug for division in involved),
    )
    charts = []
    for metric in metrics:
        url = f"{reverse('dashboards:figure')}?{state.query(metrics=(metric.key,))}"
        charts.append(
            {
                "id": f"chart-{metric.key}".replace(".", "-"),
                "title": f"{metric.name} around the raise",
                "unit": metric.unit,
                "description": f"By division involved, a day either side of {escalation.key}'s raise.",
                "url": url,
                "csv_url": f"{url}&format=csv",
            }
        )
    return charts
