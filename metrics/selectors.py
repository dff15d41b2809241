"""Reads of the metrics app: the catalogue, and aggregated series from the rollups.

`series_aggregate` is the one query behind the series API and the dashboards. It reads `metrics_rollup` only,
never `metrics_point`: its cost is (number of series) × (buckets in the range), and `resolution_for` keeps the
buckets at about 1,000 whatever the range, so a year of data costs what a day does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import pandas as pd
from django.db import connection
from django.db.models import QuerySet

from metrics.models import ROLLUP_ORIGIN, Metric, RollupResolution

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

# Each aggregate over the rollup rows of a bucket. avg weighs every raw point equally (sum of sums over sum of
# counts), not every series or bucket; last is the latest raw value in the bucket, series id breaking ties.
_AGG_SQL: dict[str, str] = {
    "avg": "sum(r.sum) / sum(r.count)::double precision",
    "sum": "sum(r.sum)",
    "min": "min(r.min)",
    "max": "max(r.max)",
    "count": "sum(r.count)::bigint",
    "last": "(array_agg(r.last ORDER BY r.last_ts DESC, r.series_id DESC))[1]",
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
    Two SQL statements whatever the number of series, a count of the (metric, group) pairs and the aggregate:
    the series are chosen first (by metric, agent, division: every point query filters by series first, see
    docs/architecture.md), their rollup rows are read by primary key (series_id, resolution, bucket) and grouped in
    the database.
    Past `max_series` pairs it raises TooManySeries before reading any rollup.
    """
    if agg not in _AGG_SQL:
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
    picked = _picked_sql(_group_sql(group_by, params), filters)
    label_columns = ", ".join(f"p.l{n}" for n in range(1, len(group_columns(group_by)) + 1))
    with connection.cursor() as cursor:
        if max_series is not None:
            # The series table is small next to the rollups: counting the pairs first is cheap.
            cursor.execute(f"{picked} SELECT count(DISTINCT (p.key, {label_columns})) FROM picked p", params)
            found = cursor.fetchone()[0]
            if found > max_series:
                raise TooManySeries(found=found, limit=max_series)
        cursor.execute(_aggregate_sql(picked, label_columns=label_columns, agg=agg), params)
        rows = cursor.fetchall()
    return _frame(rows, group_by=group_by, agg=agg, width=width)


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
    """The `picked` CTE: the chosen series, labelled for the grouping (its joins and labels). A few rows,
    materialised so that they drive the rollup reads by primary key."""
    joins, labels = grouping
    return f"""
        WITH picked AS MATERIALIZED (
            SELECT s.id, m.key COLLATE "C" AS key, {labels}
            FROM metrics_series s
            JOIN metrics_metric m ON m.id = s.metric_id
            {joins}
            WHERE {" AND ".join(filters)}
        )
    """


def _aggregate_sql(picked: str, *, label_columns: str, agg: str) -> str:
    """The picked series' rollup rows grouped by metric, labels and bucket; the sort that groups them also gives the
    output order, and nothing is joined per rollup row but the rollup itself."""
    return f"""
        {picked}
        SELECT p.key, {label_columns},
               extract(epoch FROM date_bin(%(width)s * interval '1 second', r.bucket, %(origin)s))::bigint AS b,
               {_AGG_SQL[agg]} AS value
        FROM picked p
        JOIN metrics_rollup r
          ON r.series_id = p.id AND r.resolution = %(source)s AND r.bucket >= %(low)s AND r.bucket < %(end)s
        GROUP BY p.key, {label_columns}, b
        ORDER BY p.key, {label_columns}, b
    """


def _frame(rows: list[tuple], *, group_by: str, agg: str, width: int) -> pd.DataFrame:
    labels = group_columns(group_by)
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(labels) + 3)
    data: dict[str, pd.Series] = {"metric": pd.Series(columns[0], dtype=object)}
    # object, not pandas' string dtype, so a division-level series keeps agent=None rather than NaN.
    for position, name in enumerate(labels, start=1):
        data[name] = pd.Series(columns[position], dtype=object)
    # Epoch seconds from the database: one vectorised conversion instead of a timestamptz parse per row.
    data["bucket"] = pd.Series(pd.to_datetime(pd.Series(columns[-2], dtype="int64"), unit="s", utc=True)).astype(
        "datetime64[us, UTC]"
    )
    data["value"] = pd.Series(columns[-1], dtype="int64" if agg == "count" else "float64")
    frame = pd.DataFrame(data)
    frame.attrs["resolution_seconds"] = width
    return frame


def series_tag_keys(*, limit: int = 50) -> list[str]:
    """The tag keys series carry (what group_by="tag:<key>" can group by), sorted; at most `limit`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT k FROM metrics_series s, jsonb_object_keys(s.tags) AS k"
            " WHERE jsonb_typeof(s.tags) = 'object' ORDER BY k LIMIT %s",
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]
