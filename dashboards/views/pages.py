"""Dashboard pages: thin views that parse the URL state, resolve what it names and lay out charts; every chart's
data comes from the figure endpoint (dashboards.views.figures), fetched by the page on its own."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from agents.views.lookups import agent_or_404, division_or_404
from dashboards import selectors
from dashboards.views.common import SCOPED_PARAMETERS, chart_spec, scoped_query, toolbar, view_state
from dashboards.views.ranking import division_ranking
from metrics.selectors import DivisionCapUse, division_cap_use
from novaops.decorators import person_required, reads_from_replica

__all__ = ["SCOPED_PARAMETERS", "agent_dashboard", "division_dashboard"]

# Share of an ingest cap from which the division page warns; at the cap ingest refuses new metric names or series.
CAP_WARNING_SHARE = 0.8


@require_safe
@person_required
@reads_from_replica
def division_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """Every catalogue metric the division reports, one chart each, a line per agent; its agents ranked on one."""
    division = division_or_404(slug)
    state = view_state(request, allowed=SCOPED_PARAMETERS | {"rank"})
    metrics = selectors.reported_metrics(division_ids=[division.pk])
    charts = [
        chart_spec(state, metric=metric, chart_id=f"chart-{metric.key}", divisions=(division.slug,), group="agent")
        for metric in metrics
    ]
    ranking = division_ranking(request, state, division=division, metrics=metrics)
    context = {
        "division": division,
        "state": state,
        "toolbar": toolbar(state, extra=[("rank", ranking["metric"].key)] if ranking["metric"] else None),
        "charts": charts,
        "ranking": ranking,
        "drill_query": scoped_query(state),
        "caps": cap_tiles(division_cap_use(division_id=division.pk)),
    }
    return render(request, "dashboards/division.html", context)


def cap_tiles(use: DivisionCapUse) -> dict[str, Any]:
    """The "Ingest caps" tile: per cap used / cap, the share, and `level` (ok; near from CAP_WARNING_SHARE; full),
    with the bounds of a <meter> that changes colour where the level does (its regions include their upper bound)."""
    tiles = [
        {
            "label": label,
            "used": used,
            "cap": cap,
            "percent": used * 100 // cap if cap else 100,
            "level": "full" if used >= cap else "near" if used >= CAP_WARNING_SHARE * cap else "ok",
            "low": f"{CAP_WARNING_SHARE * cap - 0.5:g}",
            "high": f"{cap - 0.5:g}",
        }
        for label, used, cap in (("Metric names", use.metrics, use.max_metrics), ("Series", use.series, use.max_series))
    ]
    return {"tiles": tiles, "needs_review": use.needs_review}


@require_safe
@person_required
@reads_from_replica
def agent_dashboard(request: HttpRequest, handle: str) -> HttpResponse:
    """Every catalogue metric the agent reports, one chart each."""
    agent = agent_or_404(handle)
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    charts = [
        chart_spec(state, metric=metric, chart_id=f"chart-{metric.key}", agents=(agent.handle,), group="agent")
        for metric in selectors.reported_metrics(agent_ids=[agent.pk])
    ]
    context = {
        "agent": agent,
        "state": state,
        "toolbar": toolbar(state),
        "charts": charts,
        "drill_query": scoped_query(state),
    }
    return render(request, "dashboards/agent.html", context)
