"""The ad-hoc pages: the metric explorer and the cross-domain comparison. Their whole state is in the URL; each has a
GET form (no script needed) that writes that state, and leads get a "Save view" form under it.

The comparison draws one chart per metric, stacked, rather than one figure with subplots: metrics have different
units (one y axis each anyway), each chart then loads, fails, exports CSV and shows its table on its own like every
other chart, and the time axis is the same on all of them because each figure pins its x range to the view's range
(and dragging on any one sets the range for the whole page).
"""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from agents import selectors as registry
from dashboards import selectors
from dashboards.constants import AGGREGATIONS, GROUP_LEVELS, KEY_METRICS
from dashboards.forms import SavedViewCreateForm
from dashboards.state import ViewState
from dashboards.views.common import chart_spec, toolbar, view_state
from metrics.selectors import metric_list, series_tag_keys
from novaops import policies
from novaops.decorators import person_required, reads_from_replica

PAGE_DEFAULTS = {"explore": {"group": "division"}, "compare": {"group": "domain"}}


def _form_context(request: HttpRequest, state: ViewState, *, page: str, tag_groups: bool) -> dict:
    """The choices the page's GET form offers, what it keeps hidden (the range), and the save form for leads."""
    groups = [(level, level.capitalize()) for level in GROUP_LEVELS]
    if tag_groups:
        groups += [(f"tag:{key}", f"Tag “{key}”") for key in series_tag_keys()]
    if state.group not in dict(groups):
        groups.append((state.group, state.group))
    keep = [(n, v) for n, v in state.pairs() if n in ("range", "from", "to", "tz", "refresh")]
    save = None
    if policies.is_lead(request.user):
        save = SavedViewCreateForm(initial={"page": page, "query": state.query()}, auto_id="id_save_%s")
    return {
        "metric_choices": list(metric_list()),
        "domain_choices": list(registry.domain_list()),
        "division_choices": list(registry.division_choice_list()),
        "agent_choices": list(registry.agent_list().order_by("handle").values_list("handle", "callsign")),
        "group_choices": groups,
        "agg_choices": AGGREGATIONS,
        "keep": keep,
        "tag_values": [f"{key}:{value}" for key, value in state.tags],
        "save_form": save,
    }


@require_safe
@person_required
@reads_from_replica
def explore(request: HttpRequest) -> HttpResponse:
    """One metric, any filters (domain, division, agent, tag), grouped by any level or tag key."""
    state = view_state(request, defaults=PAGE_DEFAULTS["explore"])
    if not state.metrics:
        state = replace(state, metrics=(KEY_METRICS[0],))
    scope = selectors.scope_resolve(state)
    charts = [chart_spec(state, metric=metric, chart_id=f"chart-{metric.key}") for metric in scope.metrics]
    context = {
        "state": state,
        "scope": scope,
        "toolbar": toolbar(state),
        "charts": charts,
        "section": "explore",
        **_form_context(request, state, page="explore", tag_groups=True),
    }
    return render(request, "dashboards/explore.html", context)


@require_safe
@person_required
@reads_from_replica
def compare(request: HttpRequest) -> HttpResponse:
    """Several metrics on one time axis, grouped by domain, division or agent; share of total for counters."""
    state = view_state(request, defaults=PAGE_DEFAULTS["compare"])
    if not state.metrics:
        state = replace(state, metrics=KEY_METRICS[:2])
    scope = selectors.scope_resolve(state)
    counters = [metric for metric in scope.metrics if metric.kind == "counter"]
    charts = [
        chart_spec(
            state,
            metric=metric,
            chart_id=f"chart-{metric.key}",
            **({"view": "share"} if state.view == "share" and metric.kind == "counter" else {"view": "values"}),
        )
        for metric in scope.metrics
    ]
    context = {
        "state": state,
        "scope": scope,
        "toolbar": toolbar(state),
        "charts": charts,
        "section": "compare",
        "share_possible": bool(counters),
        "share_ignored": [m for m in scope.metrics if m.kind != "counter"] if state.view == "share" else [],
        **_form_context(request, state, page="compare", tag_groups=False),
    }
    return render(request, "dashboards/compare.html", context)
