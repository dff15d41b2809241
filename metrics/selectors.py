"""Reads of the metrics app: the catalogue, and aggregated series from the rollups.

`series_aggregate` is the one query behind the series API and the dashboards. It reads `metrics_rollup` only,
never `metrics_point`: its cost is (number of series) × (buckets in the range), and `resolution_for` keeps the
buckets at about 1,000 whatever the range, so a year of data costs what a day does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from metrics.models import ROLLUP_ORIGIN, Metric, RollupResolution, Series
from novaops.db_router import read_connection

GroupBy = Literal["agent", "division", "domain"]
Agg = Literal["avg", "sum", "min", "max", "count", "last"]

GROUP_BY_CHOICES: tuple[str, ...] = ("agent", "division", "domain")
AGG_CHOICES: tuple[str, ...] = ("avg", "sum", "min", "max", "count", "last")
# The label columns of each grouping, in the order the frame (and the CSV) carries them.
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "agent": ("agent", "callsign", "division"),
    "division": ("division", "name"),
    "domain": ("domain", "name"),
    # group_by="tag:<key>": one group per value of that tag (the label is the value; "(none)" without the tag).
    "tag": ("tag", "name"),
}
TAG_GROUP_PREFIX = "tag:"
# What a series without the grouping tag is labelled; one group of its own.
NO_TAG_LABEL = "(none)"

MAX_POINTS = 1000
# Series (metric × group) one aggregation may return: about 500,000 points, ~10 MB of JSON, at the most.
MAX_SERIES = 500
DAY_SECONDS = RollupResolution.DAY.value
_MICROSECOND = timedelta(microseconds=1)


class TooManySeries(ValueError):
    """The query matches more than `limit` (metric, group) series; `found` says how many."""

    def __init__(self, *, found: int, limit: int) -> None:
        super().__init__(f"{found} series match; at most {limit} per query.")
        self.found, self.limit = found, limit


# --- catalogue ---


def metric_list() -> QuerySet[Metric]:
    return Metric.objects.order_by("key")


def metric_get(*, key: str) -> Metric:
    """Raises Metric.DoesNotExist."""
    return Metric.objects.get(key=key)


def metric_catalogue(*, search: str = "", needs_review: bool = False, division_id: int | None = None) -> QuerySet:
    """Discovered metrics awaiting review first, then by key, each with its `series_count` (every division's): a
    subquery, not a join and GROUP BY, so PostgreSQL counts for the rows past the LIMIT (the page shown) only."""
    per_metric = Series.objects.filter(metric=OuterRef("pk")).order_by().values("metric").annotate(n=Count("*"))
    metrics = Metric.objects.annotate(series_count=Coalesce(Subquery(per_metric.values("n")), 0))
    if search:
        metrics = metrics.filter(
            Q(key__icontains=search) | Q(name__icontains=search) | Q(description__icontains=search)
        )
    if needs_review:
        metrics = metrics.filter(needs_review=True)
    if division_id is not None:
        metrics = metrics.filter(Exists(Series.objects.filter(metric=OuterRef("pk"), division_id=division_id)))
    return metrics.order_by("-needs_review", "key")


class DivisionCapUse(NamedTuple):
    metrics: int
    max_metrics: int
    series: int
    max_series: int
    needs_review: int  # discovered metrics the division reports that no lead has reviewed yet


def division_cap_use(*, division_id: int) -> DivisionCapUse:
    """The division's metric names and series against its caps, counted as ingest counts them, in one statement."""
    used = Series.objects.filter(division_id=division_id).aggregate(
        metrics=Count("metric", distinct=True),
        series=Count("pk"),
        review=Count("metric", distinct=True, filter=Q(metric__needs_review=True)),
    )
    caps = settings.METRICS_DIVISION_MAX_METRICS, settings.METRICS_DIVISION_MAX_SERIES
    return DivisionCapUse(used["metrics"], caps[0], used["series"], caps[1], used["review"])


# --- resolution ---


def bucket_floor(moment: datetime, width_seconds: int) -> datetime:
    """The start of the origin-aligned bucket of `width_seconds` holding `moment` (date_bin in Python)."""
    width = width_seconds * 1_000_000
    offset = (moment - ROLLUP_ORIGIN) // _MICROSECOND
    return ROLLUP_ORIGIN + (offset // width) * width * _MICROSECOND


def bucket_count(start: datetime, end: datetime, width_seconds: int) -> int:
    """How many origin-aligned buckets of `width_seconds` overlap [start, end): the points a series can have."""
    width = width_seconds * 1_000_000
    first = ((start - ROLLUP_ORIGIN) // _MICROSECOND) // width
    last = -(-((end - ROLLUP_ORIGIN) // _MICROSECOND) // width)  # ceiling division
    return max(last - first, 0)


def resolution_for(start: datetime, end: datetime) -> int:
    """Bucket width in seconds for [start, end) so that a series has at most MAX_POINTS points.

    The finest rollup that fits (5 minutes, hour, day); past about 1,000 days, a whole number of days, so the
    daily rollups are re-bucketed (series_aggregate does it with date_bin) rather than anything finer being read.
    """
    for resolution in RollupResolution.values:
        if bucket_count(start, end, resolution) <= MAX_POINTS:
            return resolution
    days = max(2, -(-bucket_count(start, end, DAY_SECONDS) // MAX_POINTS))
    # The estimate can be one bucket short when the range straddles the alignment; step until it fits.
    while bucket_count(start, end, days * DAY_SECONDS) > MAX_POINTS:
        days += 1
    return days * DAY_SECONDS


# --- aggregated series ---

# The rollup columns each aggregate needs, read per series as packed big-endian arrays (see _rollups_sql).
# avg weighs every raw point equally (sum of sums over sum of counts), not every series or bucket; last is the
# latest raw value in the bucket, series id breaking ties.
_ROLLUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "avg": ("sum", "count"),
    "sum": ("sum",),
    "min": ("min",),
    "max": ("max",),
    "count": ("count",),
    "last": ("last", "last_ts"),
}
# How each column is packed in SQL and read back in numpy (timestamps as epoch microseconds).
_PACK: dict[str, tuple[str, str]] = {
    "bucket": ("int8send((extract(epoch FROM x.bucket) * 1000000)::bigint)", ">i8"),
    "sum": ("float8send(x.sum)", ">f8"),
    "min": ("float8send(x.min)", ">f8"),
    "max": ("float8send(x.max)", ">f8"),
    "last": ("float8send(x.last)", ">f8"),
    "count": ("int8send(x.count)", ">i8"),
    "last_ts": ("int8send((extract(epoch FROM x.last_ts) * 1000000)::bigint)", ">i8"),
}
# Per grouping: the joins that label a series `s`, and its label columns. The labels identify the group (handles
# and slugs are unique) and are compared in byte order, so groups come out in the same order whatever the
# database's collation. Series sent without an agent are division-level: under group_by=agent they form one group
# per division, with agent and callsign null.
_GROUP_SQL: dict[str, tuple[str, str]] = {
    "agent": (
        """
        LEFT JOIN agents_agent a ON a.id = s.agent_id
        JOIN agents_division d ON d.id = COALESCE(a.division_id, s.division_id)
        """,
        'a.handle COLLATE "C" AS l1, a.callsign AS l2, d.slug COLLATE "C" AS l3',
    ),
    "division": ("JOIN agents_division d ON d.id = s.division_id", 'd.slug COLLATE "C" AS l1, d.name AS l2'),
    "domain": (
        "JOIN agents_division d ON d.id = s.division_id JOIN agents_domain o ON o.id = d.domain_id",
        'o.slug COLLATE "C" AS l1, o.name AS l2',
    ),
}


def group_columns(group_by: str) -> tuple[str, ...]:
    """The label columns of a grouping (GROUP_COLUMNS["tag"] for every "tag:<key>")."""
    return GROUP_COLUMNS["tag" if group_by.startswith(TAG_GROUP_PREFIX) else group_by]


def _group_sql(group_by: str, params: dict[str, object]) -> tuple[str, str]:
    """The joins and label columns of a grouping; a tag grouping reads the tag from the series row itself."""
    if group_by.startswith(TAG_GROUP_PREFIX) and len(group_by) > len(TAG_GROUP_PREFIX):
        params["tag_key"] = group_by[len(TAG_GROUP_PREFIX) :]
        params["no_tag"] = NO_TAG_LABEL
        value = "COALESCE(s.tags ->> %(tag_key)s, %(no_tag)s)"
        return "", f'{value} COLLATE "C" AS l1, {value} AS l2'
    if group_by not in _GROUP_SQL:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_CHOICES)} or tag:<key>")
    return _GROUP_SQL[group_by]


def series_aggregate(
    *,
    metric_keys: Sequence[str],
    start: datetime,
    end: datetime,
    group_by: GroupBy | str = "agent",
    agg: Agg = "avg",
    agent_ids: Sequence[int] | None = None,
    division_ids: Sequence[int] | None = None,
    domain_ids: Sequence[int] | None = None,
    tags: dict[str, str] | None = None,
    resolution: int | None = None,
    max_series: int | None = MAX_SERIES,
) -> pd.DataFrame:
    """Aggregate the rollups of the chosen series over [start, end), one row per (metric, group, bucket).

    Columns: `metric`, the label columns of GROUP_COLUMNS[group_by], `bucket` (UTC start of the bucket) and
    `value`; rows ordered by metric, group and bucket. `frame.attrs["resolution_seconds"]` holds the bucket
    width (`resolution`, or resolution_for(start, end) when not given). Buckets overlapping the range are
    included whole, so the first may begin before `start`.

    Filters combine (AND); `division_ids` and `domain_ids` apply to the division a series was posted for; `tags`
    keeps the series carrying all those tag values. `group_by="tag:<key>"` groups by that tag's value (columns
    `tag` and `name`, both the value); series without the tag form one "(none)" group.
    Two SQL statements whatever the number of series: the series are chosen and labelled first (by metric, agent,
    division: every point query filters by series first, see docs/architecture.md), then their rollup rows are
    read by primary key (series_id, resolution, bucket), packed per series, and combined per group in pandas.
    Past `max_series` pairs it raises TooManySeries before reading any rollup.
    """
    if agg not in _ROLLUP_COLUMNS:
        raise ValueError(f"agg must be one of {', '.join(AGG_CHOICES)}")
    width = resolution or resolution_for(start, end)
    if width not in RollupResolution.values and width % DAY_SECONDS:
        raise ValueError(f"resolution must be one of {RollupResolution.values} or a multiple of a day")

    params: dict[str, object] = {
        "keys": list(metric_keys),
        "width": width,
        # Widths past a day are built from the daily rollups.
        "source": width if width in RollupResolution.values else DAY_SECONDS,
        "origin": ROLLUP_ORIGIN,
        "low": bucket_floor(start, width),
        "end": end,
    }
    filters = _series_filters(params, agent_ids=agent_ids, division_ids=division_ids, domain_ids=domain_ids, tags=tags)
    grouping = _group_sql(group_by, params)
    label_count = len(group_columns(group_by))
    with read_connection().cursor() as cursor:
        # The series table is small next to the rollups: labelling and counting the groups first is cheap.
        cursor.execute(_groups_sql(_picked_sql(grouping, filters), label_count), params)
        series = cursor.fetchall()
        found = series[-1][1] if series else 0
        if max_series is not None and found > max_series:
            raise TooManySeries(found=found, limit=max_series)
        columns = _ROLLUP_COLUMNS[agg]
        cursor.execute(_rollups_sql(columns), {**params, "ids": [row[0] for row in series]})
        packed = cursor.fetchall()
    return _frame(series, packed, columns=columns, group_by=group_by, agg=agg, width=width)


def _series_filters(
    params: dict[str, object],
    *,
    agent_ids: Sequence[int] | None,
    division_ids: Sequence[int] | None,
    domain_ids: Sequence[int] | None,
    tags: dict[str, str] | None = None,
) -> list[str]:
    """The conditions that choose the series `s` (by metric, then each filter given), adding their values to params."""
    filters = ["s.metric_id = ANY(ARRAY(SELECT id FROM metrics_metric WHERE key = ANY(%(keys)s)))"]
    if agent_ids is not None:
        filters.append("s.agent_id = ANY(%(agent_ids)s)")
        params["agent_ids"] = list(agent_ids)
    if division_ids is not None:
        filters.append("s.division_id = ANY(%(division_ids)s)")
        params["division_ids"] = list(division_ids)
    if domain_ids is not None:
        filters.append(
            "s.division_id = ANY(ARRAY(SELECT id FROM agents_division WHERE domain_id = ANY(%(domain_ids)s)))"
        )
        params["domain_ids"] = list(domain_ids)
    if tags:
        filters.append("s.tags @> %(tags)s::jsonb")
        params["tags"] = json.dumps(tags)
    return filters


def _picked_sql(grouping: tuple[str, str], filters: list[str]) -> str:
    """The `picked` CTE: the chosen series, labelled for the grouping. A few rows, materialised so that they drive
    the rollup reads by primary key."""
    joins, labels = grouping  # _group_sql's joins and label columns
    return f"""
        WITH picked AS MATERIALIZED (
            SELECT s.id, m.key COLLATE "C" AS key, {labels}
            FROM metrics_series s
            JOIN metrics_metric m ON m.id = s.metric_id
            {joins}
            WHERE {" AND ".join(filters)}
        )
    """


def _groups_sql(picked: str, label_count: int) -> str:
    """Each picked series with its group number: groups numbered 1, 2, … in output order (metric, then labels in
    byte order), so that the rollups can be read and combined by number rather than by repeated text labels."""
    labels = ", ".join(f"p.l{n}" for n in range(1, label_count + 1))
    return f"""
        {picked}
        SELECT p.id, dense_rank() OVER (ORDER BY p.key, {labels})::int AS g, p.key, {labels}
        FROM picked p ORDER BY g, p.id
    """


def _rollups_sql(columns: tuple[str, ...]) -> str:
    """One row per series: its rollup rows in the range, read by primary key (series_id, resolution, bucket) in
    bucket order, packed into one bytea per column (fixed-width big-endian values, numpy reads them as they are).

    Measured on a 164-series, 14-day panel: rows out of a GROUP BY over the labels took 1.3 s (a sort spilled to
    disk, 55,000 rows of repeated text into Python); this takes about 35 ms. The OFFSET 0 keeps the lateral
    subquery a per-series index scan: flattened, the planner may choose a scan of the whole rollup table.
    """
    packed = ", ".join(f"string_agg({_PACK[name][0]}, ''::bytea) AS {name}" for name in ("bucket", *columns))
    return f"""
        SELECT r.*
        FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS u(id, n)
        CROSS JOIN LATERAL (
            SELECT {packed}
            FROM (
                SELECT * FROM metrics_rollup r
                WHERE r.series_id = u.id AND r.resolution = %(source)s AND r.bucket >= %(low)s AND r.bucket < %(end)s
                ORDER BY r.bucket OFFSET 0
            ) x
        ) r
        ORDER BY u.n
    """


def _unpack(packed: list[tuple], position: int, name: str) -> np.ndarray:
    return np.frombuffer(b"".join(row[position] or b"" for row in packed), dtype=_PACK[name][1]).astype(
        _PACK[name][1][1:]
    )


def _frame(
    series: list[tuple], packed: list[tuple], *, columns: tuple[str, ...], group_by: str, agg: str, width: int
) -> pd.DataFrame:
    """The output frame from the labelled series and their packed rollups: combined per (group, bucket) in numpy
    and pandas (several series per group: tags, or a division's agents; wider buckets: re-binned daily rollups)."""
    labels = group_columns(group_by)
    lengths = np.array([len(row[0] or b"") // 8 for row in packed], dtype=np.int64)
    rows = pd.DataFrame({"g": np.repeat(np.array([row[1] for row in series], dtype=np.int64), lengths)})
    origin = int(ROLLUP_ORIGIN.timestamp()) * 1_000_000
    step = width * 1_000_000
    rows["b"] = origin + (_unpack(packed, 0, "bucket") - origin) // step * step
    for position, name in enumerate(columns, start=1):
        rows[name] = _unpack(packed, position, name)
    single = len({row[1] for row in series}) == len(series) and width in RollupResolution.values
    values = _combine(rows, agg=agg, single=single, series_ids=np.repeat([row[0] for row in series], lengths))
    # Labels per group number (dense ranks 1…n), then taken for every row in one numpy step.
    first = {row[1]: row for row in series}
    positions = values["g"].to_numpy() - 1
    data: dict[str, pd.Series] = {}
    for position, name in enumerate(("metric", *labels), start=2):
        per_group = np.array([first[g][position] for g in sorted(first)], dtype=object)
        # object, not pandas' string dtype, so a division-level series keeps agent=None rather than NaN.
        data[name] = pd.Series(per_group[positions] if len(per_group) else [], dtype=object)
    data["bucket"] = pd.Series(pd.to_datetime(values["b"].to_numpy(), unit="us", utc=True)).astype(
        "datetime64[us, UTC]"
    )
    data["value"] = pd.Series(values["value"].to_numpy(), dtype="int64" if agg == "count" else "float64")
    frame = pd.DataFrame(data)
    frame.attrs["resolution_seconds"] = width
    return frame


def _combine(rows: pd.DataFrame, *, agg: str, single: bool, series_ids: np.ndarray) -> pd.DataFrame:
    """One value per (group, bucket), ordered by group then bucket."""
    if single:  # one series per group and no re-binning: each row is already one (group, bucket)
        rows = rows.sort_values(["g", "b"], kind="stable")
        if agg == "avg":
            return rows.assign(value=rows["sum"] / rows["count"])[["g", "b", "value"]]
        return rows.rename(columns={_ROLLUP_COLUMNS[agg][0]: "value"})[["g", "b", "value"]]
    grouped = rows.groupby(["g", "b"], sort=True)
    if agg == "avg":
        totals = grouped[["sum", "count"]].sum()
        out = (totals["sum"] / totals["count"]).rename("value")
    elif agg == "last":
        latest = rows.assign(series=series_ids).sort_values(["g", "b", "last_ts", "series"], kind="stable")
        out = latest.groupby(["g", "b"], sort=True)["last"].last().rename("value")
    else:
        column = _ROLLUP_COLUMNS[agg][0]
        out = getattr(grouped[column], "sum" if agg == "count" else agg)().rename("value")
    return out.reset_index()


def series_tag_keys(*, limit: int = 50) -> list[str]:
    """The tag keys series carry (what group_by="tag:<key>" can group by), sorted; at most `limit`."""
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT k FROM metrics_series s, jsonb_object_keys(s.tags) AS k"
            " WHERE jsonb_typeof(s.tags) = 'object' ORDER BY k LIMIT %s",
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]
