"""The division dashboard's ranking: its agents on one metric (`rank=<metric key>`), best and worst by the metric's
direction, and the small multiple per ranked agent (the figure endpoint's chart=multiples)."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest

from agents.models import Division
from dashboards import ranking, selectors
from dashboards.constants import KEY_METRICS
from dashboards.state import ViewState
from dashboards.views.common import agent_url, chart_spec
from metrics.models import Metric
from novaops.errors import InvalidInput

RANK_COUNT = 5


def _ranked_metric(request: HttpRequest, metrics: list[Metric]) -> Metric | None:
    """The metric named by rank=, else the first key metric the division reports, else its first metric."""
    wanted = (request.GET.get("rank") or "").strip()
    by_key = {metric.key: metric for metric in metrics}
    if wanted:
        if wanted not in by_key:
            raise InvalidInput(
                f"This division reports no metric {wanted[:64]!r}.",
                errors=[{"field": "rank", "message": f"one of {', '.join(by_key) or 'its metrics'}."}],
            )
        return by_key[wanted]
    return next((by_key[key] for key in KEY_METRICS if key in by_key), metrics[0] if metrics else None)


def division_ranking(request: HttpRequest, state: ViewState, *, division: Division, metrics: list[Metric]) -> dict:
    """What templates/dashboards/_ranking.html shows: the metric chooser, best and worst, and the small multiples."""
    metric = _ranked_metric(request, metrics)
    if metric is None:
        return {"metric": None}
    scoped = replace(state, metrics=(metric.key,), divisions=(division.slug,), group="agent", agents=())
    frame = selectors.metric_frame(
        metric_keys=(metric.key,),
        start=state.start,
        end=state.end,
        group="agent",
        agg=state.agg,
        scope=selectors.scope_resolve(scoped),
    )
    best, worst = ranking.rank_agents(frame, better=metric.better, kind=metric.kind, count=RANK_COUNT)
    shown = tuple(dict.fromkeys(r.handle for r in [*best, *worst]))
    multiples = (
        chart_spec(
            state,
            metric=metric,
            chart_id="chart-multiples",
            title=f"{metric.name}: the ranked agents",
            divisions=(division.slug,),
            agents=shown,
            group="agent",
        )
        if shown
        else None
    )
    if multiples:
        multiples["url"] += "&chart=multiples"
    return {
        "metric": metric,
        "choices": metrics,
        "best": [(r, agent_url(r.handle, state)) for r in best],
        "worst": [(r, agent_url(r.handle, state)) for r in worst],
        "direction": {"higher": "highest is best", "lower": "lowest is best"}.get(metric.better, "neutral: by value"),
        "multiples": multiples,
        # Each ranked agent once (best and worst overlap when the division has fewer than twice RANK_COUNT).
        "links": [(r, agent_url(r.handle, state)) for r in {r.handle: r for r in [*best, *worst]}.values()],
        "keep": [(name, value) for name, value in state.pairs()],
    }
