"""The raw answers of the dashboards benchmark: each figure URL → the same aggregation over `metrics_point`.

One place maps a figure URL (path + query) to a `RawQuery` — metrics, grouping, aggregate, filters and time range —
and a `RawQuery` to SQL over the raw points (joined to series, metric, agent, division, domain), bucketed with
`date_bin` to the width `metrics.selectors.resolution_for(start, end)` gives, grouped by the same labels and
aggregated the same way as `metrics.selectors.series_aggregate` does over the rollups. A URL whose parameters this
module does not know maps to None: the benchmark prints "n/a" for it rather than invent a number.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import psycopg

from dashboards.state import range_length

LIST_PARAMETERS = ("metric", "agent", "division", "domain", "tag")
# Parameters that change the picture but not the data read: ignored by the mapping (chart=share and view=share draw
# each group's share of the total, computed from the same aggregated series; tz only moves the axis labels).
COSMETIC_PARAMETERS = ("refresh", "format", "chart", "view", "tz")
GROUP_PARAMETERS = ("group", "group_by")
DEFAULTS = {"group": "agent", "agg": "avg"}

# Raw-point aggregate per dashboard aggregate: the same answer as the rollup formula in metrics.selectors._AGG_SQL.
AGG_SQL = {
    "avg": "avg(p.value)",
    "sum": "sum(p.value)",
    "min": "min(p.value)",
    "max": "max(p.value)",
    "count": "count(*)",
    "last": "(array_agg(p.value ORDER BY p.ts DESC, p.series_id DESC))[1]",
}
GROUP_LABELS = {
    "agent": 'a.handle COLLATE "C", a.callsign, d.slug COLLATE "C"',
    "division": 'd.slug COLLATE "C", d.name',
    "domain": 'o.slug COLLATE "C", o.name',
}


@dataclass(frozen=True)
class RawQuery:
    metrics: tuple[str, ...]
    range: timedelta
    group: str = "agent"
    agg: str = "avg"
    agents: tuple[str, ...] = ()
    divisions: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def signature(self) -> tuple:
        """What makes two figure URLs the same raw query (their answer is then timed once)."""
        return (self.metrics, self.range, self.group, self.agg, self.agents, self.divisions, self.domains, self.tags)


def range_parse(text: str) -> timedelta | None:
    """A figure URL's `range=` as the app reads it (dashboards.state), so the raw answer covers the same span."""
    return range_length(text)


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def raw_query_for(url: str, *, page_range: str) -> RawQuery | None:
    """The raw query answering the figure at `url`, or None when its parameters are not understood.

    The page's path scopes the figure (`/dashboards/agents/<handle>/…`: that agent; `/dashboards/divisions/<slug>/…`:
    that division) unless the query names agents or divisions itself; `range` defaults to the page's.
    """
    parts = urlsplit(url)
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    known = {*LIST_PARAMETERS, *COSMETIC_PARAMETERS, *GROUP_PARAMETERS, "agg", "range", "start", "end"}
    if set(params) - known or not params.get("metric"):
        return None
    lists = {name: _split(params.get(name, [])) for name in LIST_PARAMETERS}
    scope = re.search(r"/(agents|divisions)/([^/]+)/", parts.path)
    if scope and not (lists["agent"] or lists["division"]):
        lists["agent" if scope.group(1) == "agents" else "division"] = (scope.group(2),)
    span = range_parse((params.get("range") or [page_range])[-1])
    if params.get("start") and params.get("end"):  # the series API's epoch seconds: the same length of time
        bounds = (params["start"][-1], params["end"][-1])
        span = timedelta(seconds=int(bounds[1]) - int(bounds[0])) if all(b.isdigit() for b in bounds) else None
    group = next((params[name][-1] for name in GROUP_PARAMETERS if name in params), DEFAULTS["group"])
    agg = (params.get("agg") or [DEFAULTS["agg"]])[-1]
    tags = tuple(tuple(tag.split(":", 1)) for tag in lists["tag"])
    if span is None or group not in GROUP_LABELS or agg not in AGG_SQL or any(len(tag) != 2 for tag in tags):
        return None
    return RawQuery(
        metrics=lists["metric"],
        range=span,
        group=group,
        agg=agg,
        agents=lists["agent"],
        divisions=lists["division"],
        domains=lists["domain"],
        tags=tags,  # type: ignore[arg-type]
    )


def raw_sql(query: RawQuery, *, start: datetime, end: datetime, width: int, origin: datetime) -> tuple[str, dict]:
    """SQL over metrics_point giving, for [start, end), one row per (metric, group labels, bucket) with the value
    of query.agg; buckets of `width` seconds aligned on `origin`, from the one holding `start`, as the rollup
    reader does."""
    filters = ["m.key = ANY(%(metrics)s)", "p.ts >= %(low)s", "p.ts < %(end)s"]
    params: dict[str, object] = {"metrics": list(query.metrics), "width": width, "origin": origin, "end": end}
    offset = (start - origin) // timedelta(seconds=width)
    params["low"] = origin + offset * timedelta(seconds=width)
    for column, name, values in (
        ("a.handle", "agents", query.agents),
        ("d.slug", "divisions", query.divisions),
        ("o.slug", "domains", query.domains),
    ):
        if values:
            filters.append(f"{column} = ANY(%({name})s)")
            params[name] = list(values)
    if query.tags:
        filters.append("s.tags @> %(tags)s::jsonb")
        params["tags"] = json.dumps(dict(query.tags))
    labels = GROUP_LABELS[query.group]
    width_count = len(labels.split(","))
    grouping = ", ".join(str(n) for n in range(1, width_count + 3))
    sql = f"""
        SELECT m.key COLLATE "C", {labels},
               extract(epoch FROM date_bin(%(width)s * interval '1 second', p.ts, %(origin)s))::bigint AS b,
               {AGG_SQL[query.agg]} AS value
        FROM metrics_point p
        JOIN metrics_series s ON s.id = p.series_id
        JOIN metrics_metric m ON m.id = s.metric_id
        LEFT JOIN agents_agent a ON a.id = s.agent_id
        JOIN agents_division d ON d.id = s.division_id
        JOIN agents_domain o ON o.id = d.domain_id
        WHERE {" AND ".join(filters)}
        GROUP BY {grouping}
        ORDER BY {grouping}
    """
    return sql, params


def raw_time(
    dsn: str, timed: dict, *, repeat: int, repeat_long: int, log
) -> tuple[dict[str, float | None], dict[str, int], dict]:
    """The raw answer of every figure URL in `timed` ({page: {range: {"timings": Timings}}}): each distinct raw
    query once untimed (warming the cache, and checked against series_aggregate), then `repeat` times (ranges over a
    day: `repeat_long`), timed with psycopg (execute + fetch). Returns the p50 seconds per URL (None: no mapping),
    the repeats per range and the check's outcome."""
    by_url: dict[str, float | None] = {}
    by_query: dict[tuple, float] = {}
    repeats: dict[str, int] = {}
    verified = {"same": 0, "different": []}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for page, by_range in timed.items():
            for r, entry in by_range.items():
                for url in entry["timings"].by_url:
                    page_html = entry["timings"].kind_of_url[url] == "page HTML"
                    query = None if page_html else raw_query_for(url, page_range=r)
                    if query is None:
                        by_url[url] = None
                        continue
                    if query.signature not in by_query:
                        n = repeat_long if query.range > timedelta(days=1) else repeat
                        by_query[query.signature] = _raw_query_time(conn, query, n, verified)
                        repeats[r] = n
                        log(
                            f"  raw {page} {r}: {','.join(query.metrics)} by {query.group}: "
                            f"{by_query[query.signature]:.3f} s"
                        )
                    by_url[url] = by_query[query.signature]
    return by_url, repeats, verified


def _raw_query_time(conn: psycopg.Connection, query: RawQuery, n: int, verified: dict) -> float:
    from metrics.models import ROLLUP_ORIGIN
    from metrics.selectors import resolution_for

    samples = []
    for attempt in range(n + 1):
        end = datetime.now(UTC)
        start = end - query.range
        width = resolution_for(start, end)
        sql, params = raw_sql(query, start=start, end=end, width=width, origin=ROLLUP_ORIGIN)
        began = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        if attempt:  # the first run warms the cache, untimed
            samples.append(time.perf_counter() - began)
        else:
            difference = raw_check(query, rows, start=start, end=end, width=width)
            if difference:
                verified["different"].append(f"{query.signature}: {difference}")
            else:
                verified["same"] += 1
    return statistics.median(samples)


def raw_check(query: RawQuery, rows: list[tuple], *, start: datetime, end: datetime, width: int) -> str | None:
    """None when the raw rows are the answer metrics.selectors.series_aggregate gives from the rollups for the same
    range, grouping and aggregate (same groups, buckets and values to 1e-9); else what differs."""
    from agents.models import Agent, Division, Domain
    from metrics.selectors import series_aggregate

    filters = {}
    for name, model, field, values in (
        ("agent_ids", Agent, "handle", query.agents),
        ("division_ids", Division, "slug", query.divisions),
        ("domain_ids", Domain, "slug", query.domains),
    ):
        if values:
            filters[name] = list(model.objects.filter(**{f"{field}__in": values}).values_list("pk", flat=True))
    if query.tags:
        filters["tags"] = dict(query.tags)
    frame = series_aggregate(
        metric_keys=list(query.metrics),
        start=start,
        end=end,
        group_by=query.group,
        agg=query.agg,
        resolution=width,
        max_series=None,
        **filters,
    )
    ours = [
        (*row[:-1], float(row[-1]))
        for row in frame.assign(bucket=frame["bucket"].map(lambda t: int(t.timestamp()))).itertuples(
            index=False, name=None
        )
    ]
    raw = [(*row[:-1], float(row[-1])) for row in rows]
    if len(ours) != len(raw):
        return f"{len(raw)} raw rows, {len(ours)} from the rollups"
    for a, b in zip(raw, ours, strict=True):
        if a[:-1] != b[:-1] or not math.isclose(a[-1], b[-1], rel_tol=1e-9, abs_tol=1e-9):
            return f"raw {a} vs rollups {b}"
    return None
