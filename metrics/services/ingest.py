"""The ingest pipeline's writes: accept a batch (web), move it into points and rollups (worker), sweep.

Accept: decode, validate fully, upsert the batch's series, store the batch with its points as a binary COPY stream,
commit, then enqueue on commit. Nothing is in the points table yet, but nothing accepted can be lost either.
Process: COPY the payload (sorted, one row per key) into a temporary table and merge it into metrics_point with one
INSERT … ON CONFLICT, then bring exactly the rollup buckets the batch touched up to date — in one transaction that
also marks the batch done, so a batch's effects land once, whole, or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

import novaops.celery
from agents.models import Agent, Division, DivisionToken
from metrics.models import ROLLUP_ORIGIN_SQL, IngestBatch, Metric, RollupResolution
from metrics.services.partitions import partitions_ensure
from metrics.sources.native import PayloadError, parse_native
from novaops.errors import (
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Accepted:
    batch: IngestBatch
    replayed: bool  # True when an Idempotency-Key returned an earlier batch


def body_decode(*, raw: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding without ever holding more than `limit` bytes of output (gzip bombs stop early).

    Raises PayloadTooLarge (413), UnsupportedMediaType (415) for an encoding other than gzip, PayloadError (400)
    for broken gzip."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > limit:
            raise PayloadTooLarge(f"Body is over {limit} bytes.")
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {content_encoding!r} is not supported; use gzip or none.")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise PayloadError(f"Body is not valid gzip: {exc}.") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"Body decompresses to more than {limit} bytes.")
    if not inflater.eof:
        raise PayloadError("Body is truncated gzip.")
    return body


def _quota_check(*, division: Division, points: int) -> None:
    """Quotas on accepted data, counted from the durable batch table (no state shared between web processes)."""
    now = timezone.now()
    window = IngestBatch.objects.filter(division=division, created_at__gte=now - timedelta(hours=1))
    stats = window.aggregate(
        points_hour=Sum("point_count"),
        batches_minute=Sum(1, filter=Q(created_at__gte=now - timedelta(minutes=1))),
    )
    if (stats["batches_minute"] or 0) >= settings.METRICS_QUOTA_BATCHES_PER_MINUTE:
        raise TooManyRequests(
            f"{division.name} is over its quota of {settings.METRICS_QUOTA_BATCHES_PER_MINUTE} batches a minute.",
            retry_after=60,
        )
    if (stats["points_hour"] or 0) + points > settings.METRICS_QUOTA_POINTS_PER_HOUR:
        raise TooManyRequests(
            f"{division.name} is over its quota of {settings.METRICS_QUOTA_POINTS_PER_HOUR} points an hour.",
            retry_after=300,
        )


def _idempotent_replay(*, division: Division, key: str, body_sha256: str) -> IngestBatch | None:
    earlier = IngestBatch.objects.filter(division=division, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.body_sha256 != body_sha256:
        raise Unprocessable(f"Idempotency-Key {key!r} was already used with a different body (batch {earlier.pk}).")
    return earlier


def batch_accept(
    *,
    division: Division,
    token: DivisionToken | None,
    body: bytes,
    idempotency_key: str | None = None,
    enqueue: bool = True,
) -> Accepted:
    """Validate a decoded native-JSON body completely and store it as a queued batch.

    Raises InvalidInput (400: PayloadError for the body, else one error per bad point), Forbidden (403: agents of
    another division, named in `agents`), Unprocessable (422) and TooManyRequests (429). Idempotent on Idempotency-Key:
    the unique (division, key) constraint settles a race between two identical requests. Callers that process
    the batch themselves (the demo backfill) pass enqueue=False.
    """
    body_sha256 = hashlib.sha256(body).hexdigest()
    if idempotency_key:
        earlier = _idempotent_replay(division=division, key=idempotency_key, body_sha256=body_sha256)
        if earlier is not None:
            return Accepted(batch=earlier, replayed=True)

    now = timezone.now()
    now_us = (now - EPOCH) // timedelta(microseconds=1)
    retention = timedelta(days=settings.METRICS_RETENTION_DAYS)
    metric_ids = dict(Metric.objects.values_list("key", "id"))
    parsed = parse_native(
        body,
        known_metrics=set(metric_ids),
        now_us=now_us,
        min_us=now_us - retention // timedelta(microseconds=1),
        max_us=now_us + FUTURE_TOLERANCE // timedelta(microseconds=1),
    )
    errors = parsed.errors

    handles = {h for h in parsed.handles if h is not None}
    agents = {
        handle: (pk, division_id)
        for handle, pk, division_id in Agent.objects.filter(handle__in=handles).values_list("handle", "id", "division")
    }
    foreign: set[str] = set()
    if len(agents) < len(handles) or any(d != division.pk for _, d in agents.values()):
        for position, handle in zip(parsed.positions, parsed.handles, strict=True):
            if handle is None:
                continue
            if handle not in agents:
                errors.append({"index": position, "field": "agent", "message": f"Unknown agent {handle!r}."})
            elif agents[handle][1] != division.pk:
                foreign.add(handle)
    if errors:
        errors.sort(key=lambda e: (e["index"] is not None, e["index"] or 0))
        raise InvalidInput(f"{len(errors)} invalid point(s); nothing was stored.", errors=errors)
    if foreign:
        names = sorted(foreign)
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        raise Forbidden(
            f"This token acts for {division.name}; these agents belong to other divisions: {shown}.",
            extra={"agents": names[:100]},
        )
    _quota_check(division=division, points=len(parsed))

    # Series identity: metric|agent|division|canonical tags. Built once per distinct combination.
    series_index: dict[tuple, int] = {}
    series_rows: list[tuple] = []
    row_series: list[int] = []
    append_series = row_series.append
    for metric, handle, tags in zip(parsed.metrics, parsed.handles, parsed.tags, strict=True):
        combo = (metric, handle, tags)
        idx = series_index.get(combo)
        if idx is None:
            idx = series_index[combo] = len(series_rows)
            agent_id = agents[handle][0] if handle else None
            metric_id = metric_ids[metric]
            key = f"{metric_id}|{agent_id or ''}|{division.pk}|{tags}"
            series_rows.append((metric_id, agent_id, division.pk, tags or "{}", key))
        append_series(idx)

    try:
        with transaction.atomic():
            series_ids = _series_upsert(series_rows)
            ids = np.array([series_ids[row[4]] for row in series_rows], dtype=np.int64)
            payload = payload_encode(
                series_ids=ids[np.array(row_series, dtype=np.intp)], ts_us=parsed.ts_us, values=parsed.values
            )
            batch = IngestBatch.objects.create(
                division=division,
                token=token,
                point_count=len(parsed),
                series_count=len(series_rows),
                idempotency_key=idempotency_key or None,
                body_sha256=body_sha256,
                payload=payload,
                ts_min=EPOCH + timedelta(microseconds=min(parsed.ts_us)),
                ts_max=EPOCH + timedelta(microseconds=max(parsed.ts_us)),
            )
            if enqueue:
                transaction.on_commit(lambda: batch_enqueue(batch_id=batch.pk))
    except IntegrityError:
        if not idempotency_key:
            raise
        # Two requests with one Idempotency-Key raced; the other one committed first.
        earlier = _idempotent_replay(division=division, key=idempotency_key, body_sha256=body_sha256)
        if earlier is None:
            raise
        return Accepted(batch=earlier, replayed=True)
    return Accepted(batch=batch, replayed=False)


# PostgreSQL's binary COPY: a signature, flags and header length, then per row the field count and each field
# as a 4-byte length and big-endian bytes; timestamptz is microseconds since 2000-01-01 UTC.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("series_len", ">i4"),
        ("series_id", ">i8"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
PG_EPOCH_US = 946_684_800_000_000


def payload_encode(*, series_ids: np.ndarray, ts_us: list[int], values: list[float]) -> bytes:
    """The batch's points as a binary COPY stream for (series_id, ts, value), built without a Python loop.

    The rows come out sorted by (series_id, ts) with one row per pair, the one posted last: the worker's single
    INSERT … ON CONFLICT may not meet a key twice, and rows in key order go into the primary key's index fastest.
    Doing it here, in numpy, spares the worker a sort in SQL.
    """
    series_ids = np.asarray(series_ids, dtype=np.int64)
    ts = np.asarray(ts_us, dtype=np.int64)
    # lexsort: the last key is the primary one; the position breaks ties, so the last posted ends each run.
    order = np.lexsort((np.arange(len(ts)), ts, series_ids))
    series_ids, ts, value_column = series_ids[order], ts[order], np.asarray(values, dtype=np.float64)[order]
    last = np.ones(len(ts), dtype=bool)
    last[:-1] = (series_ids[1:] != series_ids[:-1]) | (ts[1:] != ts[:-1])
    rows = np.empty(int(last.sum()), dtype=COPY_ROW)
    rows["fields"] = 3
    rows["series_len"] = rows["ts_len"] = rows["value_len"] = 8
    rows["series_id"] = series_ids[last]
    rows["ts"] = ts[last] - PG_EPOCH_US
    rows["value"] = value_column[last]
    return COPY_HEADER + rows.tobytes() + COPY_TRAILER


def _series_upsert(rows: list[tuple]) -> dict[str, int]:
    """Insert-ignore the batch's series, then read their ids: two statements, whatever the number of series."""
    metric_ids, agent_ids, division_ids, tags, keys = (list(column) for column in zip(*rows, strict=True))
    with connection.cursor() as cursor:
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


def batch_enqueue(*, batch_id: int) -> bool:
    """Hand the batch to Celery; a broker outage is logged, not raised: the sweeper enqueues it later.

    enqueued_at is written before the message is published: written after, its UPDATE could hold the batch row
    at the very moment a fast worker takes it with SKIP LOCKED, and that worker would leave the batch to the
    sweeper. When publishing fails, the mark is taken back so the sweeper sees a batch the broker never got.
    """
    _enqueued_mark(batch_id, timezone.now())
    try:
        # No publish retries: they would hold the request for another socket timeout, and the sweeper retries.
        novaops.celery.enqueue("metrics.batch_ingest", batch_id, retry=False)
    except Exception as exc:
        logger.warning("Could not enqueue batch %s (%s); the sweeper will retry.", batch_id, exc)
        _enqueued_mark(batch_id, None)
        return False
    return True


def _enqueued_mark(batch_id: int, moment: datetime | None) -> None:
    """Best effort: the batch is committed already, so a lost mark must not fail the request that accepted it.
    A wrong mark only changes when the sweeper publishes the batch (again), and a second message is harmless."""
    try:
        IngestBatch.objects.filter(pk=batch_id).update(enqueued_at=moment)
    except DatabaseError as exc:
        logger.warning("Could not mark batch %s enqueued (%s).", batch_id, exc)


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
    return (len(payload) - len(COPY_HEADER) - len(COPY_TRAILER)) // COPY_ROW.itemsize


def _rollups_refresh() -> None:
    """Bring the 5-minute, hour and day buckets touched by ingest_changes up to date.

    A bucket that only gained fresh points is merged incrementally: count and sum add up, min and max widen, and
    last moves to the newest point (the cost depends on the batch, not on what the bucket already holds). A bucket
    with a corrected point is rebuilt: 5-minute from the raw points, hour from 5-minute, day from hour, each in a
    LATERAL subquery (one index range scan per bucket, however stale the planner's statistics of metrics_rollup).
    Both are upserts on (series, resolution, bucket); the series locks taken in _points_merge keep concurrent
    batches from overwriting each other's rebuilds.
    """
    merge = """
        ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
            count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
            min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max),
            last = CASE WHEN EXCLUDED.last_ts > r.last_ts THEN EXCLUDED.last ELSE r.last END,
            last_ts = GREATEST(r.last_ts, EXCLUDED.last_ts)
    """
    replace = """
        ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
            count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
            last = EXCLUDED.last, last_ts = EXCLUDED.last_ts
    """
    columns = "INSERT INTO metrics_rollup AS r (series_id, resolution, bucket, count, sum, min, max, last, last_ts)"
    with connection.cursor() as cursor:
        below = None
        for level in RollupResolution:
            resolution, width = level.value, level.sql_interval
            # What the batch changed, per bucket: the 5-minute buckets from the changed points, each coarser level
            # from the level below it (buckets nest, on one origin), so only the first pass reads every point.
            source_rows = (
                "SELECT series_id, ts AS at, fresh, 1 AS count, value AS sum, value AS min, value AS max,"
                " value AS last, ts AS last_ts FROM ingest_changes"
                if below is None
                else f"SELECT series_id, bucket AS at, fresh, count, sum, min, max, last, last_ts FROM touched_{below}"
            )
            cursor.execute(
                f"""
                CREATE TEMP TABLE touched_{resolution} ON COMMIT DROP AS
                SELECT series_id, date_bin('{width}', at, {ROLLUP_ORIGIN_SQL}) AS bucket, bool_and(fresh) AS fresh,
                       sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
                       (array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts
                FROM ({source_rows}) c GROUP BY 1, 2
                """
            )
            cursor.execute(
                f"""
                {columns}
                SELECT series_id, {resolution}, bucket, count, sum, min, max, last, last_ts
                FROM touched_{resolution} WHERE fresh
                {merge}
                """
            )
            source = (
                "SELECT count(*) AS count, sum(s.value) AS sum, min(s.value) AS min, max(s.value) AS max,"
                " (array_agg(s.value ORDER BY s.ts DESC))[1] AS last, max(s.ts) AS last_ts"
                " FROM metrics_point s WHERE s.series_id = t.series_id"
                f" AND s.ts >= t.bucket AND s.ts < t.bucket + interval '{width}'"
                if below is None
                else "SELECT sum(s.count) AS count, sum(s.sum) AS sum, min(s.min) AS min, max(s.max) AS max,"
                " (array_agg(s.last ORDER BY s.last_ts DESC))[1] AS last, max(s.last_ts) AS last_ts"
                f" FROM metrics_rollup s WHERE s.series_id = t.series_id AND s.resolution = {below}"
                f" AND s.bucket >= t.bucket AND s.bucket < t.bucket + interval '{width}'"
            )
            cursor.execute(
                f"""
                {columns}
                SELECT t.series_id, {resolution}, t.bucket, a.count, a.sum, a.min, a.max, a.last, a.last_ts
                FROM touched_{resolution} t CROSS JOIN LATERAL ({source} HAVING count(*) > 0) a
                WHERE NOT t.fresh
                {replace}
                """
            )
            below = resolution
        cursor.execute(f"DROP TABLE {', '.join(f'touched_{level.value}' for level in RollupResolution)}")


def batch_sweep(
    *,
    queued_grace: timedelta = timedelta(seconds=10),
    requeue_after: timedelta = timedelta(minutes=5),
    stalled_after: timedelta = timedelta(seconds=30),
) -> list[int]:
    """Re-enqueue batches that no worker is moving: never enqueued (broker was down), enqueued long ago and
    still queued (message lost), or `processing` with nobody holding the row lock (the worker died).

    Idempotent: enqueuing a batch twice only makes the second task find it done or locked.
    """
    now = timezone.now()
    queued = IngestBatch.objects.filter(status=IngestBatch.Status.QUEUED).filter(
        Q(enqueued_at__isnull=True, created_at__lt=now - queued_grace) | Q(enqueued_at__lt=now - requeue_after)
    )
    ids = list(queued.order_by("created_at").values_list("id", flat=True)[:1000])
    with transaction.atomic():
        # SKIP LOCKED leaves out the batches a live worker is processing right now.
        stalled = (
            IngestBatch.objects.select_for_update(skip_locked=True)
            .filter(status=IngestBatch.Status.PROCESSING, started_at__lt=now - stalled_after)
            .values_list("id", flat=True)[:1000]
        )
        ids += list(stalled)
    for batch_id in ids:
        if not batch_enqueue(batch_id=batch_id):
            break  # broker still down: try again on the next sweep
    return ids
