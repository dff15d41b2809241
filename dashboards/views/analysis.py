"""The ad-hoc pages: the metric explorer and the cross-domain comparison. Their whole state is in the URL."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from dashboards import selectors
from dashboards.constants import KEY_METRICS
from dashboards.views.common import chart_spec, toolbar, view_state
from novaops.decorators import person_required


@require_safe
@person_required
def explore(request: HttpRequest) -> HttpResponse:
    """One metric, any filters, grouped by any level."""
    state = view_state(request, defaults={"group": "division"})
    if not state.metrics:
        state = replace(state, metrics=(KEY_METRICS[0],))
    scope = selectors.scope_resolve(state)
    charts = [chart_spec(state, metric=metric, chart_id=f"chart-{metric.key}") for metric in scope.metrics]
    context = {"state": state, "scope": scope, "toolbar": toolbar(state), "charts": charts, "section": "explore"}
    return render(request, "dashboards/explore.html", context)


@require_safe
@person_required
def compare(request: HttpRequest) -> HttpResponse:
    """Several metrics on one time axis, grouped by domain, division or agent; share of total for counters."""
    state = view_state(request, defaults={"group": "domain"})
    if not state.metrics:
        state = replace(state, metrics=KEY_METRICS[:2])
    scope = selectors.scope_resolve(state)
    charts = [
        chart_spec(
            state,
            metric=metric,
            chart_id=f"chart-{metric.key}",
            **({"view": "share"} if state.view == "share" and metric.kind == "counter" else {}),
        )
        for metric in scope.metrics
    ]
    context = {"state": state, "scope": scope, "toolbar": toolbar(state), "charts": charts, "section": "compare"}
    return render(request, "dashboards/compare.html", context)
