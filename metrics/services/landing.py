"""Landing batches (the worker's half of the ingest pipeline): their points into metrics_point, their rollups up to
date.

A task lands its own batch and, with it, other queued batches up to METRICS_LANDING_MAX_POINTS points: a sender that
posts a few points every second must not cost a transaction, five temporary tables and a rollup pass per batch.
COPY the payloads (each sorted, one row per key) into a temporary table and merge them into metrics_point with one
INSERT … ON CONFLICT, then bring exactly the rollup buckets they touched up to date — in one transaction that also
marks the batches done, so each batch's effects land once, whole, or not at all.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from metrics.models import ROLLUP_ORIGIN_SQL, IngestBatch, RollupResolution
from metrics.services.partitions import partitions_ensure
from metrics.services.payload import payload_rows

logger = logging.getLogger(__name__)

# Claims the task's own batch (queued, or processing and left by a dead worker) and, when it is free, the oldest
# queued batches after it while their points fit in the budget. Only batches marked enqueued are taken: the web
# inserts a batch with that mark, and takes it back (never waiting for a worker's row lock for long) when publishing
# fails, which leaves the batch to the sweeper.
# Claiming commits on its own, before the landing transaction, so `attempts` counts every run, also one that died.
_CLAIM_SQL = """
    WITH own AS (
        SELECT id, point_count FROM metrics_ingestbatch
        WHERE id = %(own)s AND status IN ('queued', 'processing')
        FOR UPDATE SKIP LOCKED
    ), candidates AS (
        SELECT id, point_count, created_at FROM metrics_ingestbatch
        WHERE status = 'queued' AND enqueued_at IS NOT NULL AND id <> %(own)s AND EXISTS (SELECT FROM own)
        ORDER BY created_at, id LIMIT %(max_batches)s
        FOR UPDATE SKIP LOCKED
    ), others AS (
        SELECT id FROM (SELECT id, sum(point_count) OVER (ORDER BY created_at, id) AS running FROM candidates) c
        WHERE running + (SELECT point_count FROM own) <= %(max_points)s
    )
    UPDATE metrics_ingestbatch b SET status = 'processing', started_at = %(now)s, attempts = b.attempts + 1
    WHERE b.id IN (SELECT id FROM own UNION ALL SELECT id FROM others)
    RETURNING b.id, b.ts_min, b.ts_max
"""


def batch_process(*, batch_id: int) -> str:
    """Land a batch (and other queued ones with it) and bring its rollups up to date; the outcome for `batch_id`.
    Safe to run twice or at once.

    1. claim: compare-and-swap to processing with `attempts` + 1, committed at once (a no-op for a batch that is
       done, or locked by a live worker);
    2. lock the claimed rows (the claim skipped locked ones: a second copy of the task running at the same moment
       finds its batch locked and leaves; a redelivered copy after a crash finds it unlocked, the dead transaction
       having rolled back, and redoes it);
    3. points go in with ON CONFLICT DO UPDATE, and only points that changed move the rollups (an identical
       replay changes nothing; a corrected point rebuilds its buckets from the points).

    A database error other than a lost connection in a group lands its batches one by one, so one bad batch fails
    alone rather than taking the batches it was grouped with down with it.
    """
    claimed = _batches_claim(batch_id)
    if not claimed:
        status = IngestBatch.objects.filter(pk=batch_id).values_list("status", flat=True).first()
        pending = (IngestBatch.Status.QUEUED, IngestBatch.Status.PROCESSING)
        return "locked elsewhere" if status in pending else "not pending"
    bounds = [moment for _, ts_min, ts_max in claimed for moment in (ts_min, ts_max) if moment is not None]
    if bounds:
        # Partitions are created in their own short transactions, never while holding the batch locks.
        partitions_ensure(start=min(bounds), end=max(bounds))
    ids = [row[0] for row in claimed]
    try:
        return _batches_land(ids, own=batch_id)
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError as exc:
        if len(ids) == 1 or session_ended(exc):
            raise
        logger.exception("A group of %s batches failed; landing them one by one", len(ids))
    outcome = "failed"
    for other in ids:
        try:
            result = _batches_land([other], own=other)
        except (OperationalError, InterfaceError):
            raise
        except DatabaseError as exc:
            if session_ended(exc):
                raise
            logger.exception("Batch %s failed", other)
            batch_fail(batch_id=other, reason=f"{type(exc).__name__}: {exc}")
            result = "failed"
        if other == batch_id:
            outcome = result
    return outcome


def _batches_claim(batch_id: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "own": batch_id,
                "max_batches": settings.METRICS_LANDING_MAX_BATCHES,
                "max_points": settings.METRICS_LANDING_MAX_POINTS,
                "now": timezone.now(),
            },
        )
        return cursor.fetchall()


def _batches_land(ids: list[int], *, own: int) -> str:
    """Land the claimed batches still processing, in one merge and one rollup pass; the outcome for `own`."""
    with transaction.atomic():
        # Waits rather than skips: these rows were free when claimed a moment ago, and what can hold one now is
        # another claim's statement (for an instant) or a task that claimed the same batch as its own at the same
        # moment (until it lands it, and the batch is then no longer processing). Skipping would leave the batch
        # processing with nobody at it until the sweeper. Rows are locked in id order, as every landing does.
        locked = list(
            IngestBatch.objects.select_for_update()
            .filter(pk__in=ids, status=IngestBatch.Status.PROCESSING)
            .order_by("pk")
            .values_list("pk", "payload")
        )
        if not locked:
            return "not pending"  # another task landed them all
        # Only a finished batch loses its payload: someone reset its status by hand.
        landed = {pk: bytes(payload) for pk, payload in locked if payload is not None}
        emptied = [pk for pk, payload in locked if payload is None]
        if emptied:
            IngestBatch.objects.filter(pk__in=emptied).update(status=IngestBatch.Status.DONE)
        if landed:
            _points_merge(list(landed.values()))
            _rollups_refresh()
            _agents_seen()
            with connection.cursor() as cursor:
                # ON COMMIT DROP covers normal runs; dropping now also frees the names inside an outer transaction.
                cursor.execute("DROP TABLE ingest_points, ingest_changes")
                cursor.execute(
                    """
                    UPDATE metrics_ingestbatch b SET status = 'done', finished_at = %s, points_written = w.rows,
                        payload = NULL, error = ''
                    FROM unnest(%s::bigint[], %s::int[]) AS w(id, rows) WHERE b.id = w.id
                    """,
                    [timezone.now(), list(landed), [payload_rows(payload) for payload in landed.values()]],
                )
    if own in landed:
        return "done"
    if own in emptied:
        return "already landed"
    return "not pending"


def session_ended(exc: DatabaseError) -> bool:
    """Whether the server ended the session (idle_in_transaction_session_timeout, an administrator): a lost
    connection, to retry, and nothing wrong with the batch. psycopg reports the idle timeout (25P03) as an
    InternalError; only its FATAL severity tells it apart."""
    diagnostic = getattr(exc.__cause__, "diag", None)
    return diagnostic is not None and diagnostic.severity_nonlocalized == "FATAL"


def batch_fail(*, batch_id: int, reason: str) -> None:
    """Record a permanent failure (the payload is kept for a retry by hand)."""
    IngestBatch.objects.filter(pk=batch_id).exclude(status=IngestBatch.Status.DONE).update(
        status=IngestBatch.Status.FAILED, finished_at=timezone.now(), error=reason[:2000]
    )


# Advisory-lock namespace of the rollup locks, and how many lock slots the series hash into. A batch that rebuilds
# buckets runs alone on its series slots; 256 slots keep a batch's locks well inside the lock table.
ROLLUP_LOCK_NAMESPACE = 7_201_017
ROLLUP_LOCK_SLOTS = 256
# RETURNING old.* (PostgreSQL 18) tells fresh points from corrections; older servers recompute every bucket.
INCREMENTAL_MIN_SERVER = 180000


def _points_merge(payloads: list[bytes]) -> None:
    """COPY the payloads into ingest_points, upsert it into metrics_point, record what changed in ingest_changes."""
    with connection.cursor() as cursor:
        if len(payloads) == 1:
            # payload_encode left one row per (series, ts), in key order: no DISTINCT ON or sort is needed here.
            cursor.execute(f"CREATE TEMP TABLE ingest_points ({_POINT_COLUMNS}) ON COMMIT DROP")
            _copy(cursor, "ingest_points", payloads[0])
        else:
            # Batches of one group may hold the same key: the one posted last wins, as inside one batch.
            cursor.execute(
                f"CREATE TEMP TABLE ingest_posted ({_POINT_COLUMNS}, seq bigint GENERATED ALWAYS AS IDENTITY)"
                " ON COMMIT DROP"
            )
            for payload in payloads:
                _copy(cursor, "ingest_posted", payload)
            cursor.execute(
                "CREATE TEMP TABLE ingest_points ON COMMIT DROP AS SELECT DISTINCT ON (series_id, ts) series_id, ts,"
                " value FROM ingest_posted ORDER BY series_id, ts, seq DESC"
            )
            cursor.execute("DROP TABLE ingest_posted")
        # A batch that rebuilds a rollup bucket recounts it without another batch's uncommitted points, and its
        # upsert would then drop that batch's share. So the batch's series slots are locked (in one sorted order)
        # before writing: shared, which lets batches that only add fresh points run side by side (their increments
        # add up under the rollup rows' own locks), and exclusive once this one turns out to rebuild.
        cursor.execute(_SLOT_LOCKS_SQL.format(lock="pg_advisory_xact_lock_shared"))
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
        cursor.execute("SELECT EXISTS (SELECT FROM ingest_changes WHERE NOT fresh)")
        if cursor.fetchone()[0]:
            cursor.execute(_SLOT_LOCKS_SQL.format(lock="pg_advisory_xact_lock"))


_SLOT_LOCKS_SQL = f"""
    SELECT count({{lock}}({ROLLUP_LOCK_NAMESPACE}, slot))
    FROM (SELECT DISTINCT (series_id % {ROLLUP_LOCK_SLOTS})::int AS slot FROM ingest_points ORDER BY 1) s
"""


_POINT_COLUMNS = "series_id bigint NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL"


def _copy(cursor, table: str, payload: bytes) -> None:
    # psycopg's COPY bypasses Django's cursor wrapper: a broken stream must still raise Django's DatabaseError.
    with (
        connection.wrap_database_errors,
        cursor.copy(f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT binary)") as copy,
    ):
        view = memoryview(payload)
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


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
    batches from overwriting each other's rebuilds. Rows are written level by level in (series, bucket) order, so
    batches adding to the same buckets at once wait for each other and never deadlock.
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
        FROM touched_{level.value} WHERE fresh ORDER BY series_id, bucket
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
        WHERE NOT t.fresh ORDER BY t.series_id, t.bucket
        ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
            count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
            last = EXCLUDED.last, last_ts = EXCLUDED.last_ts
    """
