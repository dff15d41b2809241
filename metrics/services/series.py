"""A batch's series: their ids, and the new ones created within the division's caps (both ingest paths use it)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from agents.models import Division


@dataclass(frozen=True)
class SeriesResolution:
    ids: dict[str, int]  # series key → id, for every series the batch may write
    refused: set[str]  # keys of new series past the division's caps
    message: str  # which cap, when some were refused


# Advisory-lock namespace of the per-division lock that makes "count the division's series, then add new ones" one
# step, so two batches cannot both take the last room under a cap.
SERIES_CAP_LOCK_NAMESPACE = 7_201_018


def series_resolve(rows: list[tuple], *, division: Division) -> SeriesResolution:
    """The ids of a batch's series (rows of (metric_id, agent_id, division_id, tags, key)), creating the new ones
    within the division's caps on distinct metric names and on series (settings METRICS_DIVISION_MAX_*).

    One statement when every series exists, the common case. New series are counted against the caps and inserted
    under a per-division lock; those past a cap are left out, in `refused`, with `message` naming the cap.
    """
    keys = [row[4] for row in rows]
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, id FROM metrics_series WHERE key = ANY(%s)", [keys])
        ids = dict(cursor.fetchall())
    missing = [row for row in rows if row[4] not in ids]
    if not missing:
        return SeriesResolution(ids=ids, refused=set(), message="")
    max_metrics, max_series = settings.METRICS_DIVISION_MAX_METRICS, settings.METRICS_DIVISION_MAX_SERIES
    refused: set[str] = set()
    caps_hit: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SERIES_CAP_LOCK_NAMESPACE, division.pk])
        cursor.execute(
            "SELECT metric_id, count(*) FROM metrics_series WHERE division_id = %s GROUP BY metric_id", [division.pk]
        )
        per_metric = dict(cursor.fetchall())
        used_metrics, series_count = set(per_metric), sum(per_metric.values())
        adding = []
        for row in missing:
            if row[0] not in used_metrics and len(used_metrics) >= max_metrics:
                refused.add(row[4])
                _note(caps_hit, f"{division.name} is at its cap of {max_metrics} metric names.")
            elif series_count >= max_series:
                refused.add(row[4])
                _note(caps_hit, f"{division.name} is at its cap of {max_series} series.")
            else:
                used_metrics.add(row[0])
                series_count += 1
                adding.append(row)
        if adding:
            ids.update(_series_insert(cursor, adding))
    return SeriesResolution(ids=ids, refused=refused, message=" ".join(caps_hit))


def _note(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _series_insert(cursor, rows: list[tuple]) -> dict[str, int]:
    """Insert-ignore these series (another batch may have just added some), then read their ids."""
    metric_ids, agent_ids, division_ids, tags, keys = (list(column) for column in zip(*rows, strict=True))
    cursor.execute(
        """
        INSERT INTO metrics_series (metric_id, agent_id, division_id, tags, key, created_at)
        SELECT m, a, d, t::jsonb, k, now()
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS u(m, a, d, t, k)
        ON CONFLICT (key) DO NOTHING
        """,
        [metric_ids, agent_ids, division_ids, tags, keys],
    )
    cursor.execute("SELECT key, id FROM metrics_series WHERE key = ANY(%s)", [keys])
    return dict(cursor.fetchall())
