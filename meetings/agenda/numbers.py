"""The agenda's items from the numbers: per division its key metrics over the period against the one before, the
largest regressions and improvements among its agents, anomalies, agents that stopped reporting; all through the
dashboards' selectors and analytics, never computed again here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.urls import reverse

from agents.models import Division
from dashboards import analytics
from dashboards import selectors as dashboards
from dashboards.constants import KEY_METRICS
from dashboards.state import ViewState
from meetings import recurrence
from meetings.models import AgendaItem
from metrics.models import Metric, RollupResolution
from metrics.selectors import series_aggregate

# A 30-minute sync discusses a handful of movers, not the overview's ten of each.
MOVERS_PER_TONE = 5
ANOMALIES_MAX = 5
Kind = AgendaItem.Kind


@dataclass(frozen=True)
class Proposal:
    """One item the numbers put on the agenda; `source_key` names what it is about, so a refresh finds it again."""

    kind: str
    source_key: str
    title: str
    body: str = ""
    division_id: int | None = None
    link: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Period:
    """What an agenda covers: [start, end), and the zone its dashboard links show times in."""

    start: datetime
    end: datetime
    zone: str
    since_previous: bool

    def dashboard_query(self) -> str:
        state = ViewState(start=self.start, end=self.end, tz=recurrence.zone(self.zone), range=None)
        return state.query()


def key_metrics() -> list[Metric]:
    found = {metric.key: metric for metric in Metric.objects.filter(key__in=KEY_METRICS)}
    return [found[key] for key in KEY_METRICS if key in found]


def _figure(metric: Metric, row: Any) -> dict[str, Any]:
    """A figure as stored on an item (JSON): the metric, both periods' values, the relative change and its tone."""
    change = getattr(row, "score", None)
    if change is None:
        change = row.change
    return {
        "metric": metric.key,
        "name": metric.name,
        "unit": metric.unit,
        "better": metric.better,
        "previous": _number(row.previous),
        "current": _number(row.current),
        "change": _number(change),
        "tone": row.tone,
    }


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def division_metrics(summary: pd.DataFrame, divisions: list[Division], metrics: list[Metric], period: Period):
    """One item per division taking part that reported: its key metrics this period against the one before."""
    if summary.empty:
        return []
    by_key = {metric.key: metric for metric in metrics}
    better = {metric.key: metric.better for metric in metrics}
    regrouped = analytics.summary_regroup(summary, summary["division"], "division")
    changes = analytics.period_changes(regrouped, ["division"], better)
    out = []
    for division in divisions:
        rows = changes[changes["division"] == division.slug]
        figures = [_figure(by_key[row.metric], row) for row in rows.itertuples(index=False) if row.metric in by_key]
        if not figures:
            continue
        order = {key: n for n, key in enumerate(KEY_METRICS)}
        figures.sort(key=lambda figure: order.get(figure["metric"], len(order)))
        worse = sum(1 for figure in figures if figure["tone"] == "bad")
        out.append(
            Proposal(
                kind=Kind.METRICS,
                source_key=f"metrics:{division.slug}",
                title=f"{division.name}: key metrics",
                body=f"{worse} of {len(figures)} key metrics worse than the period before." if worse else "",
                division_id=division.pk,
                link=dashboard_url("dashboards:division", division.slug, period),
                data={"figures": figures},
            )
        )
    return out


def movers(summary: pd.DataFrame, divisions: list[Division], metrics: list[Metric], period: Period):
    """The largest regressions and improvements among the agents of the divisions taking part (top_movers)."""
    agents = summary[summary["agent"].notna()]
    if agents.empty:
        return []
    better = {metric.key: metric.better for metric in metrics}
    by_key = {metric.key: metric for metric in metrics}
    by_slug = {division.slug: division for division in divisions}
    changes = analytics.period_changes(agents, ["agent", "callsign", "division"], better)
    ranked = analytics.top_movers(changes.assign(level="agent", key=changes["agent"]), better, limit=len(changes))
    out = []
    for tone, kind, word in (("bad", Kind.REGRESSION, "worse"), ("good", Kind.IMPROVEMENT, "better")):
        for row in ranked[ranked["tone"] == tone].head(MOVERS_PER_TONE).itertuples(index=False):
            metric, division = by_key[row.metric], by_slug.get(row.division)
            out.append(
                Proposal(
                    kind=kind,
                    source_key=f"{kind}:{row.agent}:{row.metric}",
                    title=f"{agent_label(row.agent, row.callsign)}: {metric.name} {word}",
                    division_id=division.pk if division else None,
                    link=dashboard_url("dashboards:agent", row.agent, period, anchor=f"chart-{row.metric}"),
                    data={"agent": row.agent, "figures": [_figure(metric, row)]},
                )
            )
    return out


def agent_label(handle: str, callsign: Any) -> str:
    return f"{handle} · {callsign}" if isinstance(callsign, str) and callsign else handle


def anomalies(divisions: list[Division], metrics: list[Metric], period: Period) -> list[Proposal]:
    """The largest breaks from their own recent behaviour among the agents' key metrics in the period, in hourly
    buckets (5-minute ones for a period of six hours or less), read from far enough back that the period's first
    bucket is judged against a full trailing window; one item per (agent, metric), its largest mark."""
    short = period.end - period.start <= timedelta(hours=6)
    width = RollupResolution.FIVE_MINUTES.value if short else RollupResolution.HOUR.value
    read_from = period.start - timedelta(seconds=width) * (analytics.ANOMALY_MIN_PERIODS * 2 + 1)
    frame = series_aggregate(
        metric_keys=[m.key for m in metrics],
        start=read_from,
        end=period.end,
        group_by="agent",
        agg="avg",
        resolution=width,
        division_ids=[d.pk for d in divisions],
        max_series=None,
    )
    if frame.empty:
        return []
    marks = analytics.anomaly_marks(frame[frame["agent"].notna()])
    marks = marks[marks["bucket"] >= pd.Timestamp(period.start)]
    by_key = {metric.key: metric for metric in metrics}
    by_slug = {division.slug: division for division in divisions}
    out, seen = [], set()
    for row in analytics.anomaly_list(marks, limit=len(marks)).itertuples(index=False):
        if (row.agent, row.metric) in seen or len(out) >= ANOMALIES_MAX:
            continue
        seen.add((row.agent, row.metric))
        metric, division = by_key[row.metric], by_slug.get(row.division)
        out.append(
            Proposal(
                kind=Kind.ANOMALY,
                source_key=f"anomaly:{row.agent}:{row.metric}",
                title=f"{agent_label(row.agent, row.callsign)}: unusual {metric.name}",
                division_id=division.pk if division else None,
                link=dashboard_url("dashboards:agent", row.agent, period, anchor=f"chart-{row.metric}"),
                data={
                    "agent": row.agent,
                    "metric": metric.key,
                    "name": metric.name,
                    "unit": metric.unit,
                    "value": float(row.value),
                    "at": row.bucket.to_pydatetime().isoformat(),
                    "score": float(row.display_score),
                    "clipped": bool(row.clipped),
                },
            )
        )
    return out


def stopped(divisions: list[Division], period: Period) -> list[Proposal]:
    """Active agents of the divisions taking part that had gone silent by the end of the period."""
    cadence = dashboards.reporting_cadence(division_ids=[d.pk for d in divisions])
    silent = analytics.stopped_reporting(cadence, pd.Timestamp(period.end))
    by_slug = {division.slug: division for division in divisions}
    out = []
    for row in silent.itertuples(index=False):
        division = by_slug.get(row.division)
        out.append(
            Proposal(
                kind=Kind.STOPPED,
                source_key=f"stopped:{row.agent}",
                title=f"{agent_label(row.agent, row.callsign)} stopped reporting",
                division_id=division.pk if division else None,
                link=dashboard_url("dashboards:agent", row.agent, period),
                data={
                    "agent": row.agent,
                    "last_seen": row.last_seen.to_pydatetime().isoformat(),
                    "silent_seconds": float(row.silent_seconds),
                },
            )
        )
    return out


def dashboard_url(name: str, slug: str, period: Period, *, anchor: str = "") -> str:
    """The live dashboard for the agenda's period (from/to in the series' zone): "since last sync"."""
    url = f"{reverse(name, args=[slug])}?{period.dashboard_query()}"
    return f"{url}#{anchor}" if anchor else url
