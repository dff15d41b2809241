"""Landing a batch (the worker's half of the ingest pipeline): its points into metrics_point, its rollups up to date.

COPY the payload (sorted, one row per key) into a temporary table and merge it into metrics_point with one
INSERT … ON CONFLICT, then bring exactly the rollup buckets the batch touched up to date — in one transaction that
also marks the batch done, so a batch's effects land once, whole, or not at all.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from metrics.models import ROLLUP_ORIGIN_SQL, IngestBatch, RollupResolution
from metrics.services.partitions import partitions_ensure
from metrics.services.payload import payload_rows


def batch_process(*, batch_id: int) -> str:
    """Move a batch's points into metric_point and bring its rollups up to date. Safe to run twice or at once.

    1. compare-and-swap queued → processing (a no-op when a dead worker left it processing);
    2. lock the row with SKIP LOCKED: a second copy of the task running at the same moment finds it locked and
       leaves; a redelivered copy after a crash finds it unlocked (the dead transaction rolled back) and redoes it;
    3. points go in with ON CONFLICT DO UPDATE, and only points that changed move the rollups (an identical
       replay changes nothing; a corrected point rebuilds its buckets from the points).
    """
    IngestBatch.objects.filter(pk=batch_id, status=IngestBatch.Status.QUEUED).update(
        status=IngestBatch.Status.PROCESSING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    pending = IngestBatch.objects.filter(pk=batch_id, status=IngestBatch.Status.PROCESSING)
    bounds = pending.values_list("ts_min", "ts_max").first()
    if bounds is None:
        return "not pending"
    # Partitions are created in their own short transactions, never while holding the batch lock.
    partitions_ensure(start=bounds[0], end=bounds[1])

    with transaction.atomic():
        batch = pending.select_for_update(skip_locked=True).first()
        if batch is None:
            return "locked elsewhere"
        if batch.payload is None:
            # Only a finished batch loses its payload; someone reset its status by hand.
            IngestBatch.objects.filter(pk=batch.pk).update(status=IngestBatch.Status.DONE)
            return "already landed"
        written = _points_merge(bytes(batch.payload))
        _rollups_refresh()
        _agents_seen()
        with connection.cursor() as cursor:
            # ON COMMIT DROP covers normal runs; dropping now also frees the names inside an outer transaction.
            cursor.execute("DROP TABLE ingest_points, ingest_changes")
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=IngestBatch.Status.DONE, finished_at=timezone.now(), points_written=written, payload=None, error=""
        )
    return "done"


def batch_fail(*, batch_id: int, reason: str) -> None:
    """Record a permanent failure (the payload is kept for a retry by hand)."""
    IngestBatch.objects.filter(pk=batch_id).exclude(status=IngestBatch.Status.DONE).update(
        status=IngestBatch.Status.FAILED, finished_at=timezone.now(), error=reason[:2000]
    )


# Advisory-lock namespace of the rollup locks, and how many lock slots the series hash into. Batches that touch a
# common series slot run their merge one after the other; 256 slots keep a batch's locks well inside the lock table.
ROLLUP_LOCK_NAMESPACE = 7_201_017
ROLLUP_LOCK_SLOTS = 256
# RETURNING old.* (PostgreSQL 18) tells fresh points from corrections; older servers recompute every bucket.
INCREMENTAL_MIN_SERVER = 180000


def _points_merge(payload: bytes) -> int:
    """COPY the payload into ingest_points, upsert it into metrics_point, record what changed in ingest_changes."""
    with connection.cursor() as cursor:
        # payload_encode left one row per (series, ts), in key order: no DISTINCT ON or sort is needed here.
        cursor.execute(
            """
            CREATE TEMP TABLE ingest_points (
                series_id bigint NOT NULL,
                ts timestamptz NOT NULL,
                value double precision NOT NULL
            ) ON COMMIT DROP
            """
        )
        with cursor.copy("COPY ingest_points (series_id, ts, value) FROM STDIN (FORMAT binary)") as copy:
            view = memoryview(payload)
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])
        # Two batches touching the same series would each rebuild a rollup bucket without the other's uncommitted
        # points, and the later upsert would drop the earlier one's share. Locking the batch's series slots (in one
        # sorted order, so two batches cannot deadlock) before writing makes such batches take turns; batches of
        # other series still run side by side.
        cursor.execute(
            f"""
            SELECT count(pg_advisory_xact_lock({ROLLUP_LOCK_NAMESPACE}, slot))
            FROM (SELECT DISTINCT (series_id % {ROLLUP_LOCK_SLOTS})::int AS slot FROM ingest_points ORDER BY 1) s
            """
        )
        cursor.execute(
            "CREATE TEMP TABLE ingest_changes (series_id bigint, ts timestamptz, value float8, fresh bool)"
            " ON COMMIT DROP"
        )
        # Identical replays update nothing and return nothing: their buckets are already right.
        returning = (
            "RETURNING new.series_id, new.ts, new.value, old.value IS NULL"
            if connection.pg_version >= INCREMENTAL_MIN_SERVER
            else "RETURNING p.series_id, p.ts, p.value, false"
        )
        cursor.execute(
            f"""
            WITH upserted AS (
                INSERT INTO metrics_point AS p (series_id, ts, value)
                SELECT series_id, ts, value FROM ingest_points
                ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value
                WHERE p.value IS DISTINCT FROM EXCLUDED.value
                {returning}
            )
            INSERT INTO ingest_changes SELECT * FROM upserted
            """
        )
    return payload_rows(payload)


# Posting metrics for an agent counts as its heartbeat (agents.services.heartbeats): after the merge, one statement
# per batch moves each of the batch's agents' last_seen_at to its newest point (never past now, never backwards).
# Only rows that move are written, and they are locked in id order first, so two batches with common agents cannot
# deadlock; the locks last until the batch commits, just after.
_AGENTS_SEEN_SQL = """
    WITH seen AS (
        SELECT s.agent_id, LEAST(max(p.ts), %s) AS ts
        FROM ingest_points p JOIN metrics_series s ON s.id = p.series_id
        WHERE s.agent_id IS NOT NULL GROUP BY s.agent_id
    ), moving AS (
        SELECT a.id, seen.ts FROM agents_agent a JOIN seen ON seen.agent_id = a.id
        WHERE a.last_seen_at IS NULL OR a.last_seen_at < seen.ts
        ORDER BY a.id FOR UPDATE OF a
    )
    UPDATE agents_agent a SET last_seen_at = moving.ts FROM moving WHERE a.id = moving.id
"""


def _agents_seen() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_AGENTS_SEEN_SQL, [timezone.now()])


def _rollups_refresh() -> None:
    """Bring the 5-minute, hour and day buckets touched by ingest_changes up to date.

    A bucket that only gained fresh points is merged incrementally: count and sum add up, min and max widen, and
    last moves to the newest point (the cost depends on the batch, not on what the bucket already holds). A bucket
    with a corrected point is rebuilt: 5-minute from the raw points, hour from 5-minute, day from hour, each in a
    LATERAL subquery (one index range scan per bucket, however stale the planner's statistics of metrics_rollup).
    Both are upserts on (series, resolution, bucket); the series locks taken in _points_merge keep concurrent
    batches from overwriting each other's rebuilds.
    """
    with connection.cursor() as cursor:
        below = None
        for level in RollupResolution:
            cursor.execute(_touched_sql(level, below))
            cursor.execute(_fresh_merge_sql(level))
            cursor.execute(_rebuild_sql(level, below))
            below = level
        cursor.execute(f"DROP TABLE {', '.join(f'touched_{level.value}' for level in RollupResolution)}")


_ROLLUP_INSERT = "INSERT INTO metrics_rollup AS r (series_id, resolution, bucket, count, sum, min, max, last, last_ts)"


def _touched_sql(level: RollupResolution, below: RollupResolution | None) -> str:
    """touched_<level>: what the batch changed, per bucket of this level, and whether the bucket only gained fresh
    points. The 5-minute buckets come from the changed points, each coarser level from the level below it
    (buckets nest, on one origin), so only the first pass reads every point."""
    source_rows = (
        "SELECT series_id, ts AS at, fresh, 1 AS count, value AS sum, value AS min, value AS max,"
        " value AS last, ts AS last_ts FROM ingest_changes"
        if below is None
        else f"SELECT series_id, bucket AS at, fresh, count, sum, min, max, last, last_ts FROM touched_{below.value}"
    )
    return f"""
        CREATE TEMP TABLE touched_{level.value} ON COMMIT DROP AS
        SELECT series_id, date_bin('{level.sql_interval}', at, {ROLLUP_ORIGIN_SQL}) AS bucket, bool_and(fresh) AS fresh,
               sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
               (array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts
        FROM ({source_rows}) c GROUP BY 1, 2
    """


def _fresh_merge_sql(level: RollupResolution) -> str:
    """Buckets that only gained fresh points: add them up with what the bucket holds."""
    return f"""
        {_ROLLUP_INSERT}
        SELECT series_id, {level.value}, bucket, count, sum, min, max, last, last_ts
        FROM touched_{level.value} WHERE fresh
        ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
            count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
            min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max),
            last = CASE WHEN EXCLUDED.last_ts > r.last_ts THEN EXCLUDED.last ELSE r.last END,
            last_ts = GREATEST(r.last_ts, EXCLUDED.last_ts)
    """


def _rebuild_sql(level: RollupResolution, below: RollupResolution | None) -> str:
    """Buckets with a corrected point: recount them whole, from the points (5 minutes) or the level below."""
    width = level.sql_interval
    source = (
        "SELECT count(*) AS count, sum(s.value) AS sum, min(s.value) AS min, max(s.value) AS max,"
        " (array_agg(s.value ORDER BY s.ts DESC))[1] AS last, max(s.ts) AS last_ts"
        " FROM metrics_point s WHERE s.series_id = t.series_id"
        f" AND s.ts >= t.bucket AND s.ts < t.bucket + interval '{width}'"
        if below is None
        else "SELECT sum(s.count) AS count, sum(s.sum) AS sum, min(s.min) AS min, max(s.max) AS max,"
        " (array_agg(s.last ORDER BY s.last_ts DESC))[1] AS last, max(s.last_ts) AS last_ts"
        f" FROM metrics_rollup s WHERE s.series_id = t.series_id AND s.resolution = {below.value}"
        f" AND s.bucket >= t.bucket AND s.bucket < t.bucket + interval '{width}'"
    )
    return f"""
        {_ROLLUP_INSERT}
        SELECT t.series_id, {level.value}, t.bucket, a.count, a.sum, a.min, a.max, a.last, a.last_ts
        FROM touched_{level.value} t CROSS JOIN LATERAL ({source} HAVING count(*) > 0) a
        WHERE NOT t.fresh
        ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
            count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
            last = EXCLUDED.last, last_ts = EXCLUDED.last_ts
    """
