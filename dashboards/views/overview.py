"""The ecosystem overview at `/`, the home page after sign-in: per domain and division the key metrics now against
the previous period, with sparklines and agents by lifecycle state; top movers, stopped reporting and saved views.

The page itself is the toolbar and the saved views; each panel is a fragment loaded on its own (htmx, hx-trigger
"load"): the whole summary took about twice the 100 ms a request may take on the bench's data, the panels one by
one fit (and run side by side). Each costs a handful of queries whatever the fleet's size: the cards one period
summary at agent level (divisions and domains are its sums regrouped, analytics.summary_regroup), one grouped read
for the sparklines (a domain's line is its divisions' sums and counts added) and the lifecycle counts; the movers
the same period summary; stopped reporting the reporting cadence; the anomaly list a bounded read of every agent's
key metrics over the last day of the range.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from agents import selectors as registry
from agents.models import Agent
from dashboards import analytics, selectors
from dashboards.state import ViewState
from dashboards.views.common import toolbar, view_state
from dashboards.views.pages import SCOPED_PARAMETERS
from dashboards.views.summary import (
    better_of,
    by_group,
    change_text,
    key_metrics,
    number,
    overview_sparklines,
    tiles,
)
from metrics.models import RollupResolution
from metrics.selectors import bucket_floor, series_aggregate
from novaops.decorators import person_required, reads_from_replica

# The overview lists the anomalies of the last day of the range (charts mark them over the whole range).
ANOMALY_RECENT = timedelta(hours=24)


@require_safe
@person_required
@reads_from_replica
def overview(request: HttpRequest) -> HttpResponse:
    """The ecosystem overview, the home page after sign-in: the range toolbar and the saved views, and a fragment
    per panel, each loaded on its own (its own loading and error state), so the page answers at once and no panel
    waits for another."""
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    query = state.query()
    context = {
        "state": state,
        "toolbar": toolbar(state),
        "section": "overview",
        "fragments": {
            name: f"{reverse(f'dashboards:overview_{name}')}?{query}"
            for name in ("cards", "movers", "anomalies", "stopped")
        },
        "saved_views": [
            {"name": view.name, "page": view.get_page_display(), "url": f"/dashboards/{view.page}/?{view.query}"}
            for view in selectors.saved_view_list()
        ],
    }
    return render(request, "dashboards/overview.html", context)


def _division_summary(state: ViewState, metrics) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The agent-level period summary of the key metrics, and its changes regrouped by division."""
    summary = selectors.period_summary(metric_keys=[m.key for m in metrics], start=state.start, end=state.end)
    changes = analytics.period_changes(
        analytics.summary_regroup(summary, summary["division"], "division"), ["division"], better_of(metrics)
    )
    return summary, changes


@require_safe
@person_required
@reads_from_replica
def cards(request: HttpRequest) -> HttpResponse:
    """A card per domain and per division (a fragment): key metrics now against the period before, sparklines,
    agents by lifecycle state, links down to the division dashboards."""
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    metrics = key_metrics()
    divisions = list(registry.division_choice_list())
    summary, division_changes = _division_summary(state, metrics)
    domain_of = {division.slug: division.domain.slug for division in divisions}
    domain_changes = analytics.period_changes(
        analytics.summary_regroup(summary, summary["division"].map(domain_of), "domain"),
        ["domain"],
        better_of(metrics),
    )
    context = {
        "has_metrics": bool(metrics) and not summary.empty,
        "domains": _domain_cards(
            state, metrics, divisions, division_changes, domain_changes, selectors.lifecycle_counts()
        ),
    }
    return render(request, "dashboards/_overview_cards.html", context)


@require_safe
@person_required
@reads_from_replica
def movers(request: HttpRequest) -> HttpResponse:
    """Top movers across every division and agent (a fragment)."""
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    metrics = key_metrics()
    divisions = list(registry.division_choice_list())
    summary, division_changes = _division_summary(state, metrics)
    rows = _movers(state, summary, division_changes, metrics, {d.slug: d.name for d in divisions})
    return render(request, "dashboards/_overview_movers.html", {"movers": rows})


@require_safe
@person_required
@reads_from_replica
def stopped(request: HttpRequest) -> HttpResponse:
    """Active agents that stopped reporting, per division (a fragment)."""
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    names = dict(registry.division_choice_list().values_list("slug", "name"))
    return render(request, "dashboards/_overview_stopped.html", {"stopped": _stopped(state, names), "tz": state.tz.key})


def _lifecycle(counts: dict[tuple[str, str], int], key: str) -> list[dict]:
    """Agents by lifecycle state of one domain or division, in the lifecycle's order; `counts` from _state_counts."""
    return [
        {"state": state, "label": label, "agents": counts[(key, state)]}
        for state, label in Agent.Lifecycle.choices
        if (key, state) in counts
    ]


def _state_counts(lifecycle: pd.DataFrame, column: str) -> dict[tuple[str, str], int]:
    summed = lifecycle.groupby([column, "state"])["agents"].sum()
    return {key: int(agents) for key, agents in summed.items()}


def _domain_cards(state: ViewState, metrics, divisions, division_changes, domain_changes, lifecycle) -> list[dict]:
    """One card per domain (its tiles, agents by state) holding one card per division, each linking down."""
    division_changes, domain_changes = by_group(division_changes, "division"), by_group(domain_changes, "domain")
    division_lines, domain_lines = overview_sparklines(state, metrics, {d.slug: d.domain.slug for d in divisions})
    query = state.query()
    by_domain, by_division = _state_counts(lifecycle, "domain"), _state_counts(lifecycle, "division")
    cards: dict[str, dict] = {}
    for division in divisions:
        domain = division.domain
        if domain.slug not in cards:
            cards[domain.slug] = {
                "slug": domain.slug,
                "name": domain.name,
                "tiles": tiles(metrics, domain_changes, domain.slug, domain_lines),
                "lifecycle": _lifecycle(by_domain, domain.slug),
                "divisions": [],
            }
        cards[domain.slug]["divisions"].append(
            {
                "slug": division.slug,
                "name": division.name,
                "url": f"{reverse('dashboards:division', args=[division.slug])}?{query}",
                "tiles": tiles(metrics, division_changes, division.slug, division_lines),
                "lifecycle": _lifecycle(by_division, division.slug),
            }
        )
    return list(cards.values())


def _movers(state: ViewState, summary, division_changes, metrics, division_names: dict[str, str]) -> list[dict]:
    """Top movers across every division and agent, each a link to the chart that shows it."""
    better = better_of(metrics)
    names = {metric.key: metric for metric in metrics}
    agents = analytics.period_changes(summary[summary["agent"].notna()], ["agent", "callsign"], better)
    both = pd.concat(
        [
            division_changes.assign(level="division", key=division_changes["division"]),
            agents.assign(level="agent", key=agents["agent"]),
        ],
        ignore_index=True,
    )
    query = state.query()
    out = []
    for row in analytics.top_movers(both, better).itertuples(index=False):
        metric = names[row.metric]
        if row.level == "agent":
            label = f"{row.key} · {row.callsign}" if isinstance(row.callsign, str) and row.callsign else row.key
            url = reverse("dashboards:agent", args=[row.key])
        else:
            label, url = division_names.get(row.key, row.key), reverse("dashboards:division", args=[row.key])
        out.append(
            {
                "level": "Agent" if row.level == "agent" else "Division",
                "label": label,
                "metric": metric.name,
                "unit": metric.unit,
                "previous": number(row.previous),
                "current": number(row.current),
                "change": change_text(row.score, row.tone),
                "tone": row.tone,
                "url": f"{url}?{query}#chart-{metric.key}",
            }
        )
    return out


def _stopped(state: ViewState, division_names: dict[str, str]) -> list[dict]:
    """Active agents that went silent, per division, with when they were last heard from (in the viewer's zone)."""
    stopped = analytics.stopped_reporting(selectors.reporting_cadence(), pd.Timestamp(timezone.now()))
    query = state.query()
    divisions: dict[str, dict] = {}
    for row in stopped.itertuples(index=False):
        entry = divisions.setdefault(
            row.division,
            {
                "name": division_names.get(row.division, row.division),
                "url": f"{reverse('dashboards:division', args=[row.division])}?{query}",
                "agents": [],
            },
        )
        entry["agents"].append(
            {
                "handle": row.agent,
                "callsign": row.callsign,
                "last_seen": timezone.localtime(row.last_seen.to_pydatetime(), state.tz),
                "silent": _duration(row.silent_seconds),
                "url": f"{reverse('dashboards:agent', args=[row.agent])}?{query}",
            }
        )
    return list(divisions.values())


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


@require_safe
@person_required
@reads_from_replica
def anomalies(request: HttpRequest) -> HttpResponse:
    """The overview's anomaly list (a fragment): the largest breaks from their own recent behaviour among every
    agent's key metrics over the range, each with its size in deviations and a link to its chart."""
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    metrics = key_metrics()
    width, since, read_from = anomaly_window(state.start, state.end)
    frame = series_aggregate(
        metric_keys=[m.key for m in metrics],
        start=read_from,
        end=state.end,
        group_by="agent",
        agg="avg",
        resolution=width,
        max_series=None,
    )
    marks = analytics.anomaly_marks(frame[frame["agent"].notna()])
    marks = analytics.anomaly_list(marks[marks["bucket"] >= pd.Timestamp(since)])
    names = {metric.key: metric for metric in metrics}
    query = state.query()
    rows = [
        {
            "label": f"{row.agent} · {row.callsign}" if row.callsign else row.agent,
            "metric": names[row.metric].name,
            "unit": names[row.metric].unit,
            "value": number(row.value),
            "at": timezone.localtime(row.bucket.to_pydatetime(), state.tz),
            "score": _score(row.display_score, row.clipped),
            "url": f"{reverse('dashboards:agent', args=[row.agent])}?{query}#chart-{row.metric}",
        }
        for row in marks.itertuples(index=False)
    ]
    context = {"rows": rows, "tz": state.tz.key, "recent_only": since > state.start}
    return render(request, "dashboards/_overview_anomalies.html", context)


def _score(score: float, clipped: bool) -> str:
    """A mark's size in deviations; a flat line's clipped one as a bound ("> +99"), not as a number it is not."""
    if clipped:
        return f"> +{score:.0f}" if score > 0 else f"< −{-score:.0f}"
    return f"{score:+.1f}".replace("-", "−")


def anomaly_window(start: datetime, end: datetime) -> tuple[int, datetime, datetime]:
    """(bucket width, marks from, read from) for the overview's anomaly list: the last ANOMALY_RECENT of the range
    (all of a shorter one), in 5-minute buckets up to 6 h and hourly ones beyond, read from far enough back that the
    first bucket listed already has a full trailing window to be judged against. Every agent's key metrics are read:
    bounding the buckets per line bounds the read (about 50 per line) whatever the range; the charts themselves mark
    anomalies over the whole range."""
    since = max(start, end - ANOMALY_RECENT)
    width = RollupResolution.FIVE_MINUTES.value if end - since <= timedelta(hours=6) else RollupResolution.HOUR.value
    since = bucket_floor(since, width)
    return width, since, since - timedelta(seconds=width) * (analytics.ANOMALY_MIN_PERIODS * 2 + 1)
