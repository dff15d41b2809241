"""Reads of the dashboards: what a view's filters name, and its data as pandas DataFrames from the rollups.

Every series read goes through metrics.selectors.series_aggregate (the rollups, never raw points), so a panel's
cost follows the range and the number of series, not the number of points stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from django.db.models import Count
from django.db.models.functions import Lower

from agents.models import Agent, Division, Domain
from dashboards.models import SavedView
from dashboards.state import ViewState
from metrics.models import ROLLUP_ORIGIN, Metric, RollupResolution, Series
from metrics.selectors import (
    GROUP_COLUMNS,
    MAX_SERIES,
    TooManySeries,
    _group_sql,
    _picked_sql,
    _series_filters,
    bucket_floor,
    series_aggregate,
)
from novaops.db_router import read_connection
from novaops.errors import InvalidInput


@dataclass(frozen=True)
class Scope:
    """The filters of a view resolved to rows: None where the view does not filter on that level."""

    metrics: tuple[Metric, ...] = ()
    domains: tuple[Domain, ...] | None = None
    divisions: tuple[Division, ...] | None = None
    agents: tuple[Agent, ...] | None = None
    tags: dict[str, str] | None = None

    def series_filters(self) -> dict[str, object]:
        """The keyword filters of series_aggregate."""
        return {
            "domain_ids": [d.pk for d in self.domains] if self.domains is not None else None,
            "division_ids": [d.pk for d in self.divisions] if self.divisions is not None else None,
            "agent_ids": [a.pk for a in self.agents] if self.agents is not None else None,
            "tags": self.tags,
        }


def scope_resolve(state: ViewState) -> Scope:
    """The catalogue metrics and registry rows the state names, in the order named; InvalidInput names every
    one that does not exist (one query per kind named, none for kinds not named)."""
    errors: list[dict[str, str]] = []

    def pick(model, field: str, values: tuple[str, ...], name: str, related: tuple[str, ...] = ()) -> tuple | None:
        if not values:
            return None
        found = {
            getattr(row, field): row
            for row in model.objects.select_related(*related).filter(**{f"{field}__in": values})
        }
        for value in values:
            if value not in found:
                errors.append({"field": name, "message": f"No {name} {value!r}."})
        return tuple(found[value] for value in values if value in found)

    metrics = pick(Metric, "key", state.metrics, "metric") or ()
    scope = Scope(
        metrics=metrics,
        domains=pick(Domain, "slug", state.domains, "domain"),
        divisions=pick(Division, "slug", state.divisions, "division", ("domain",)),
        agents=pick(Agent, "handle", state.agents, "agent", ("division__domain",)),
        tags=dict(state.tags) or None,
    )
    if errors:
        raise InvalidInput("; ".join(error["message"] for error in errors), errors=errors)
    return scope


def reported_metrics(*, division_ids: list[int] | None = None, agent_ids: list[int] | None = None) -> list[Metric]:
    """The catalogue metrics that have series for these divisions (posted for them) or agents, in catalogue order."""
    series = Series.objects.all()
    if division_ids is not None:
        series = series.filter(division_id__in=division_ids)
    if agent_ids is not None:
        series = series.filter(agent_id__in=agent_ids)
    return list(Metric.objects.filter(pk__in=series.values("metric_id")).order_by("key"))


def metric_frame(
    *,
    metric_keys: tuple[str, ...] | list[str],
    start: datetime,
    end: datetime,
    group: str,
    agg: str,
    scope: Scope,
    resolution: int | None = None,
) -> pd.DataFrame:
    """series_aggregate for a view; too many series is the viewer's to fix (400 saying how), not a 500."""
    try:
        return series_aggregate(
            metric_keys=list(metric_keys),
            start=start,
            end=end,
            group_by=group,  # type: ignore[arg-type]
            agg=agg,  # type: ignore[arg-type]
            resolution=resolution,
            **scope.series_filters(),  # type: ignore[arg-type]
        )
    except TooManySeries as exc:
        raise InvalidInput(
            f"This view would draw {exc.found} lines; at most {MAX_SERIES}. Choose fewer metrics, filter by domain, "
            "division or agent, or group by division or domain.",
            errors=[{"field": "group", "message": f"{exc.found} series; at most {MAX_SERIES}."}],
        ) from exc


def last_seen(*, metric_keys: list[str], scope: Scope) -> datetime | None:
    """When the chosen series last reported anything (any time, not only in the range), or None if never.

    One row per series from the rollup primary key (series, resolution, bucket) read backwards: cheap however long
    the history.
    """
    filters = scope.series_filters()
    conditions = ["s.metric_id IN (SELECT id FROM metrics_metric WHERE key = ANY(%(keys)s))"]
    params: dict[str, object] = {"keys": metric_keys, "resolution": RollupResolution.FIVE_MINUTES.value}
    if filters["agent_ids"] is not None:
        conditions.append("s.agent_id = ANY(%(agent_ids)s)")
        params["agent_ids"] = filters["agent_ids"]
    if filters["division_ids"] is not None:
        conditions.append("s.division_id = ANY(%(division_ids)s)")
        params["division_ids"] = filters["division_ids"]
    if filters["domain_ids"] is not None:
        conditions.append("s.division_id IN (SELECT id FROM agents_division WHERE domain_id = ANY(%(domain_ids)s))")
        params["domain_ids"] = filters["domain_ids"]
    sql = f"""
        SELECT max(latest.last_ts) FROM metrics_series s
        CROSS JOIN LATERAL (
            SELECT r.last_ts FROM metrics_rollup r
            WHERE r.series_id = s.id AND r.resolution = %(resolution)s
            ORDER BY r.bucket DESC LIMIT 1
        ) latest
        WHERE {" AND ".join(conditions)}
    """
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# --- period summaries (the overview, the registry pages) ---

PERIODS = ("current", "previous")
_FIVE_MINUTES = RollupResolution.FIVE_MINUTES.value


def period_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime, datetime]:
    """(previous start, current start, current end), on 5-minute rollup boundaries, the two periods the same length.

    Complete buckets only: the one still filling at `end` is left out, or a counter's current period would be
    short-changed against a previous one made of whole buckets."""
    low, high = bucket_floor(start, _FIVE_MINUTES), bucket_floor(end, _FIVE_MINUTES)
    if high <= low:
        high = low + timedelta(seconds=_FIVE_MINUTES)
    return low - (high - low), low, high


def period_pieces(low: datetime, high: datetime) -> list[tuple[int, datetime, datetime]]:
    """[low, high) (5-minute aligned) as (resolution, from, to) pieces: whole days in the middle, whole hours at
    the edges, 5-minute buckets at the very edges; a long range is a few dozen rollup rows per series, not thousands."""
    return _pieces(low, high, [r for r in reversed(RollupResolution.values)])


def _pieces(low: datetime, high: datetime, widths: list[int]) -> list[tuple[int, datetime, datetime]]:
    if low >= high:
        return []
    width, finer = widths[0], widths[1:]
    if not finer:
        return [(width, low, high)]
    first = bucket_floor(low - timedelta(microseconds=1), width) + timedelta(seconds=width)  # ceiling
    last = bucket_floor(high, width)
    if first >= last:
        return _pieces(low, high, finer)
    return [*_pieces(low, first, finer), (width, first, last), *_pieces(last, high, finer)]


def period_summary(
    *,
    metric_keys: list[str] | tuple[str, ...],
    start: datetime,
    end: datetime,
    group_by: str = "agent",
    agent_ids: list[int] | None = None,
    division_ids: list[int] | None = None,
    domain_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Each group's sum and count of points over the current period [start, end) and the previous one of the same
    length (see period_bounds), from the rollups only, in ONE statement: the periods' pieces (period_pieces) are a
    VALUES list joined to metrics_rollup by its primary key (series_id, resolution, bucket), grouped in the database.

    Columns: `metric`, `kind`, the label columns of GROUP_COLUMNS[group_by], `period` ("current" / "previous"),
    `sum`, `count`, `value` (counters: the sum; gauges: the average weighted by points, sum(sum) / sum(count)).
    A group with no point in a period has no row for it; period_bounds(start, end) gives the periods. (No
    frame.attrs: pandas deep-copies them on every operation, which cost the overview more than its query.)
    Sums and counts regroup exactly (analytics.summary_regroup): one agent-level read serves divisions and domains.
    """
    if group_by not in ("agent", "division", "domain"):
        raise ValueError("group_by must be one of agent, division, domain")
    bounds = period_bounds(start, end)
    pieces = [
        (period, width, lo, hi)
        for period, (lo_period, hi_period) in zip(
            PERIODS, [(bounds[1], bounds[2]), (bounds[0], bounds[1])], strict=True
        )
        for width, lo, hi in period_pieces(lo_period, hi_period)
    ]
    params: dict[str, object] = {"keys": list(metric_keys)}
    filters = _series_filters(params, agent_ids=agent_ids, division_ids=division_ids, domain_ids=domain_ids)
    labels = GROUP_COLUMNS[group_by]
    sql = _summary_sql(_picked_sql(_group_sql(group_by, params), filters), pieces, params, label_count=len(labels))
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = ["metric", "kind", *labels, "period", "sum", "count"]
    frame = pd.DataFrame(rows, columns=columns).astype({"sum": "float64", "count": "int64"})
    frame["value"] = summary_value(frame)
    return frame


def _summary_sql(picked: str, pieces: list[tuple], params: dict[str, object], *, label_count: int) -> str:
    """The period summary's one statement; the pieces' values are added to params."""
    label_columns = ", ".join(f"p.l{n}" for n in range(1, label_count + 1))
    values = ", ".join(
        f"(%(pp{n})s, %(pw{n})s, %(pl{n})s::timestamptz, %(ph{n})s::timestamptz)" for n in range(len(pieces))
    )
    for n, (period, width, lo, hi) in enumerate(pieces):
        params.update({f"pp{n}": period, f"pw{n}": width, f"pl{n}": lo, f"ph{n}": hi})
    return f"""
        {picked}
        , pieces (period, resolution, lo, hi) AS (VALUES {values})
        SELECT p.key, (SELECT m.kind FROM metrics_metric m WHERE m.key = p.key), {label_columns}, pc.period,
               sum(x.sum), sum(x.count)::bigint
        FROM picked p
        CROSS JOIN pieces pc
        -- LATERAL: one primary-key range scan per (series, piece); a plain join lets the planner hash the pieces
        -- against a sequential scan of every rollup row.
        CROSS JOIN LATERAL (
            SELECT sum(r.sum) AS sum, sum(r.count) AS count FROM metrics_rollup r
            WHERE r.series_id = p.id AND r.resolution = pc.resolution AND r.bucket >= pc.lo AND r.bucket < pc.hi
        ) x
        WHERE x.count > 0
        GROUP BY p.key, {label_columns}, pc.period
        ORDER BY p.key, {label_columns}, pc.period
    """


def summary_value(frame: pd.DataFrame) -> pd.Series:
    """A summary row's value: counters add up over the period, gauges average over every point in it."""
    average = frame["sum"] / frame["count"].where(frame["count"] > 0)
    return frame["sum"].where(frame["kind"] == "counter", average).astype("float64")


def lifecycle_counts() -> pd.DataFrame:
    """Agents by lifecycle state per division, with the division's domain (one query): columns `domain`,
    `division`, `state`, `agents`. Domains' counts are this frame summed by domain."""
    rows = (
        Agent.objects.values_list("division__domain__slug", "division__slug", "lifecycle_state")
        .annotate(agents=Count("id"))
        .order_by("division__domain__slug", "division__slug", "lifecycle_state")
    )
    return pd.DataFrame(list(rows), columns=["domain", "division", "state", "agents"])


def reporting_cadence(*, division_ids: list[int] | None = None) -> pd.DataFrame:
    """Per agent that has reported: when it last did and how often it usually does (one query).

    The latest 5-minute rollup of each series comes from the rollup primary key read backwards; the usual interval
    is the time its last day of hourly rollups spans over the points in them, the agent's most frequent series
    setting it. Columns: `agent`, `callsign`, `division`, `state`, `last_seen`, `interval_seconds`."""
    params: dict[str, object] = {"five": _FIVE_MINUTES, "hour": RollupResolution.HOUR.value}
    where = "s.agent_id IS NOT NULL"
    if division_ids is not None:
        where += " AND a.division_id = ANY(%(division_ids)s)"
        params["division_ids"] = division_ids
    sql = f"""
        SELECT a.handle, a.callsign, d.slug, a.lifecycle_state, max(latest.last_ts),
               min(extract(epoch FROM latest.last_ts - day.first_bucket) / greatest(day.points - 1, 1))
        FROM metrics_series s
        JOIN agents_agent a ON a.id = s.agent_id
        JOIN agents_division d ON d.id = a.division_id
        CROSS JOIN LATERAL (
            SELECT r.last_ts FROM metrics_rollup r
            WHERE r.series_id = s.id AND r.resolution = %(five)s ORDER BY r.bucket DESC LIMIT 1
        ) latest
        CROSS JOIN LATERAL (
            SELECT min(r.bucket) AS first_bucket, sum(r.count) AS points FROM metrics_rollup r
            WHERE r.series_id = s.id AND r.resolution = %(hour)s
              AND r.bucket > latest.last_ts - interval '1 day' AND r.bucket <= latest.last_ts
        ) day
        WHERE {where}
        GROUP BY a.handle, a.callsign, d.slug, a.lifecycle_state
        ORDER BY d.slug COLLATE "C", a.handle COLLATE "C"
    """
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["agent", "callsign", "division", "state", "last_seen", "interval_seconds"])
    frame["last_seen"] = pd.to_datetime(frame["last_seen"], utc=True)
    frame["interval_seconds"] = frame["interval_seconds"].astype("float64")
    return frame


def saved_view_list() -> list[SavedView]:
    """Every saved view, by name (they are shared: everyone sees every lead's)."""
    return list(SavedView.objects.only("name", "page", "query").order_by(Lower("name")))


def division_buckets(*, metric_keys: list[str] | tuple[str, ...], start: datetime, end: datetime, width: int):
    """Each division's sum and count of points per bucket of `width` seconds over [start, end), every metric, in
    one statement grouped in the database (the overview's sparklines: a domain's line is its divisions' sums and
    counts added, exactly, rather than a second read). Columns: `metric`, `division`, `bucket`, `sum`, `count`."""
    source = width if width in RollupResolution.values else RollupResolution.DAY.value
    params: dict[str, object] = {
        "keys": list(metric_keys),
        "width": width,
        "source": source,
        "origin": ROLLUP_ORIGIN,
        "low": bucket_floor(start, width),
        "end": end,
    }
    filters = _series_filters(params, agent_ids=None, division_ids=None, domain_ids=None)
    sql = f"""
        {_picked_sql(_group_sql("division", params), filters)}
        SELECT p.key, p.l1, extract(epoch FROM x.b)::bigint, sum(x.sum), sum(x.count)::bigint
        FROM picked p
        CROSS JOIN LATERAL (
            SELECT date_bin(%(width)s * interval '1 second', r.bucket, %(origin)s) AS b, r.sum, r.count
            FROM metrics_rollup r
            WHERE r.series_id = p.id AND r.resolution = %(source)s AND r.bucket >= %(low)s AND r.bucket < %(end)s
            OFFSET 0
        ) x
        GROUP BY p.key, p.l1, x.b
        ORDER BY p.key, p.l1, x.b
    """
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["metric", "division", "bucket", "sum", "count"])
    frame["bucket"] = pd.to_datetime(frame["bucket"].astype("int64"), unit="s", utc=True)
    return frame.astype({"sum": "float64", "count": "int64"})
