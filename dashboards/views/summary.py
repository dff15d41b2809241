"""Key-metric summaries as HTML: the tiles the overview shows per domain and division, and the fragments the
registry's division and agent pages load with htmx (`/dashboards/summary/…`), so the registry shows numbers without
the agents app ever importing dashboards (agents ← metrics ← dashboards)."""

from __future__ import annotations

import itertools
from datetime import datetime

import pandas as pd
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from agents.views.lookups import agent_or_404, division_or_404
from dashboards import analytics, charts, selectors
from dashboards.constants import KEY_METRICS
from dashboards.state import ViewState
from dashboards.views.common import view_state
from dashboards.views.pages import SCOPED_PARAMETERS
from metrics.models import Metric, RollupResolution
from metrics.selectors import bucket_count, series_aggregate
from novaops.decorators import person_required, reads_from_replica

# Sparklines are drawn small: about this many points is all they can show, and a coarse read is cheap.
SPARKLINE_POINTS = 96
_WORDS = {"good": "better", "bad": "worse", "flat": "steady", "neutral": ""}


def key_metrics() -> list[Metric]:
    """The catalogue rows of KEY_METRICS that exist, in display order (one query)."""
    found = {metric.key: metric for metric in Metric.objects.filter(key__in=KEY_METRICS)}
    return [found[key] for key in KEY_METRICS if key in found]


def sparkline_resolution(start: datetime, end: datetime) -> int:
    """The finest rollup level with at most SPARKLINE_POINTS buckets over the range, else a whole number of days."""
    for width in RollupResolution.values:
        if bucket_count(start, end, width) <= SPARKLINE_POINTS:
            return width
    days = -(-bucket_count(start, end, RollupResolution.DAY.value) // SPARKLINE_POINTS)
    return days * RollupResolution.DAY.value


def sparklines(state: ViewState, metrics: list[Metric], group: str, **filters: object) -> dict[tuple[str, str], str]:
    """(metric key, group key) → SVG polyline points over the view's range, from one coarse series_aggregate read.
    The average per bucket for every metric: a sparkline shows a shape, and a counter's shape is the same."""
    if not metrics:
        return {}
    frame = series_aggregate(
        metric_keys=[metric.key for metric in metrics],
        start=state.start,
        end=state.end,
        group_by=group,  # type: ignore[arg-type]
        agg="avg",
        resolution=sparkline_resolution(state.start, state.end),
        max_series=None,
        **filters,  # type: ignore[arg-type]
    )
    if frame.empty:
        return {}
    # Rows come ordered by metric, group and bucket: each line is a contiguous run (itertools.groupby, no pandas
    # groupby per line).
    rows = zip(frame["metric"].tolist(), charts.group_keys(frame, group).tolist(), frame["value"].tolist(), strict=True)
    return {
        line: charts.sparkline_path([value for _, _, value in run])
        for line, run in itertools.groupby(rows, key=lambda row: (row[0], row[1]))
    }


def overview_sparklines(state: ViewState, metrics: list[Metric], domain_of: dict[str, str]) -> tuple[dict, dict]:
    """The overview's sparklines, by division and by domain, from one grouped read (selectors.division_buckets)."""
    if not metrics:
        return {}, {}
    buckets = selectors.division_buckets(
        metric_keys=[metric.key for metric in metrics],
        start=state.start,
        end=state.end,
        width=sparkline_resolution(state.start, state.end),
    )
    divisions = analytics.line_averages(buckets, buckets["division"], "division")
    domains = analytics.line_averages(buckets, buckets["division"].map(domain_of), "domain")
    return _paths(divisions, "division"), _paths(domains, "domain")


def _paths(lines: pd.DataFrame, column: str) -> dict[tuple[str, str], str]:
    rows = zip(lines["metric"].tolist(), lines[column].tolist(), lines["value"].tolist(), strict=True)
    return {
        line: charts.sparkline_path([value for _, _, value in run])
        for line, run in itertools.groupby(rows, key=lambda row: (row[0], row[1]))
    }


def number(value: float | None) -> str:
    """A value as a tile shows it: three significant figures, thousands separated, "—" for none."""
    if value is None or pd.isna(value):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def change_text(change: float | None, tone: str) -> str:
    """ "▲ 12 % (worse)": the direction and size in text, so colour is never the only carrier."""
    if change is None or pd.isna(change):
        return "no previous data"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "→"
    size = abs(change) * 100
    amount = f"{size:.0f}" if size >= 10 else f"{size:.1f}"
    word = _WORDS.get(tone, "")
    return f"{arrow} {amount} %" + (f" ({word})" if word else "")


def tiles(metrics: list[Metric], changes: dict, key: str, lines: dict) -> list[dict]:
    """One tile per key metric for the group `key`: its value now, the change and the sparkline. `changes` is
    by_group(period_changes(…)): (metric, group key) → row."""
    out = []
    for metric in metrics:
        row = changes.get((metric.key, key))
        change = None if row is None else row["change"]
        tone = "flat" if row is None else row["tone"]
        out.append(
            {
                "key": metric.key,
                "name": metric.name,
                "unit": metric.unit,
                "value": number(None if row is None else row["current"]),
                "change": change_text(change, tone),
                "tone": tone,
                "points": lines.get((metric.key, key), ""),
            }
        )
    return out


def by_group(changes: pd.DataFrame, key_column: str) -> dict[tuple[str, str], dict]:
    """period_changes rows as (metric, group key) → row, for tiles."""
    records = changes.to_dict("records")
    return {(row["metric"], row[key_column]): row for row in records}


def better_of(metrics: list[Metric]) -> dict[str, str]:
    return {metric.key: metric.better for metric in metrics}


def _summary(request: HttpRequest, *, group: str, key: str, title: str, dashboard: str, **filters) -> HttpResponse:
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    metrics = key_metrics()
    summary = selectors.period_summary(
        metric_keys=[m.key for m in metrics], start=state.start, end=state.end, group_by=group, **filters
    )
    changes = analytics.period_changes(summary, [selectors.GROUP_COLUMNS[group][0]], better_of(metrics))
    lines = sparklines(state, metrics, group, **filters)
    context = {
        "tiles": tiles(metrics, by_group(changes, selectors.GROUP_COLUMNS[group][0]), key, lines),
        "title": title,
        "dashboard_url": f"{dashboard}?{state.query()}",
        "range_label": state.range or "the chosen range",
        "reported": not summary.empty,
    }
    return render(request, "dashboards/_summary_fragment.html", context)


@require_safe
@person_required
@reads_from_replica
def division_summary(request: HttpRequest, slug: str) -> HttpResponse:
    """The division's key metrics over the range (24 h by default) against the period before, for its registry page."""
    division = division_or_404(slug)
    return _summary(
        request,
        group="division",
        key=division.slug,
        title=f"Key metrics of {division.name}",
        dashboard=reverse("dashboards:division", args=[division.slug]),
        division_ids=[division.pk],
    )


@require_safe
@person_required
@reads_from_replica
def agent_summary(request: HttpRequest, handle: str) -> HttpResponse:
    """The agent's key metrics over the range (24 h by default) against the period before, for its registry page."""
    agent = agent_or_404(handle)
    return _summary(
        request,
        group="agent",
        key=agent.handle,
        title=f"Key metrics of {agent.handle}",
        dashboard=reverse("dashboards:agent", args=[agent.handle]),
        agent_ids=[agent.pk],
    )
