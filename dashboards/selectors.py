"""Reads of the dashboards: what a view's filters name, and its data as pandas DataFrames from the rollups.

Every series read goes through metrics.selectors.series_aggregate (the rollups, never raw points), so a panel's
cost follows the range and the number of series, not the number of points stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from django.db import connection

from agents.models import Agent, Division, Domain
from dashboards.state import ViewState
from metrics.models import Metric, RollupResolution, Series
from metrics.selectors import MAX_SERIES, TooManySeries, series_aggregate
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
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
