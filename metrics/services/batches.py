"""Batches on the web side of the ingest pipeline: accept one (decode, validate fully, store), enqueue it, sweep.

Accept: decode, validate fully, upsert the batch's series, store the batch with its points as a binary COPY stream,
commit, then enqueue on commit. Nothing is in the points table yet, but nothing accepted can be lost either: the
worker lands it (metrics.services.landing), and the sweeper enqueues again whatever no worker is moving.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

import novaops.celery
from agents.models import Division, DivisionToken
from metrics.models import IngestBatch
from metrics.services.payload import payload_encode
from metrics.services.quotas import quota_give_back, quota_take
from metrics.services.series import series_resolve
from metrics.sources.native import ParsedPoints, PayloadError, parse_native
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
_MICROSECOND = timedelta(microseconds=1)


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
    another division, named in `agents`), Unprocessable (422: an Idempotency-Key reused with another body, or new
    series past the division's caps) and TooManyRequests (429). Idempotent on
    Idempotency-Key: the unique (division, key) constraint settles a race between two identical requests. Callers
    that process the batch themselves (the demo backfill) pass enqueue=False.
    """
    body_sha256 = hashlib.sha256(body).hexdigest()
    if idempotency_key:
        earlier = _idempotent_replay(division=division, key=idempotency_key, body_sha256=body_sha256)
        if earlier is not None:
            return Accepted(batch=earlier, replayed=True)

    metric_ids = catalogue_ids()
    parsed = _points_parse(body, known_metrics=metric_ids.keys())
    if parsed.errors:  # perhaps a metric created since this process read the catalogue
        metric_ids = catalogue_ids(fresh=True)
        parsed = _points_parse(body, known_metrics=metric_ids.keys())
    agent_ids = _agents_resolve(parsed, division=division)
    _quota_check(division=division, points=len(parsed))
    series_rows, row_series = _series_build(parsed, division=division, metric_ids=metric_ids, agent_ids=agent_ids)
    resolved = series_resolve(series_rows, division=division)
    if resolved.refused:
        refused = sum(1 for idx in row_series if series_rows[idx][4] in resolved.refused)
        raise Unprocessable(f"{resolved.message} {refused} point(s) refused; nothing was stored.")
    series_ids = np.array([resolved.ids[row[4]] for row in series_rows], dtype=np.int64)
    try:
        batch = batch_store(
            division=division,
            token=token,
            series_ids=series_ids[np.array(row_series, dtype=np.intp)],
            ts_us=parsed.ts_us,
            values=parsed.values,
            body_sha256=body_sha256,
            idempotency_key=idempotency_key,
            enqueue=enqueue,
        )
    except IntegrityError:
        if not idempotency_key:
            raise
        # Two requests with one Idempotency-Key raced; the other one committed first.
        earlier = _idempotent_replay(division=division, key=idempotency_key, body_sha256=body_sha256)
        if earlier is None:
            raise
        return Accepted(batch=earlier, replayed=True)
    return Accepted(batch=batch, replayed=False)


# Every catalogue key with its metric id, as this process last read it, and when. A key is a metric's identity and
# never changes, so the only staleness is a metric created since: callers that meet an unknown key read again.
_catalogue: tuple[float, dict[str, int]] = (float("-inf"), {})
CATALOGUE_FRESH_SECONDS = 30.0


def catalogue_forget() -> None:
    """Drop what this process read, for when rows it read were taken back: a test's rollback or flush."""
    global _catalogue
    _catalogue = (float("-inf"), {})


def catalogue_ids(*, fresh: bool = False) -> dict[str, int]:
    """Every catalogue key with its metric id, read at most every CATALOGUE_FRESH_SECONDS unless `fresh`."""
    global _catalogue
    read_at, ids = _catalogue
    now = time.monotonic()
    if fresh or now - read_at > CATALOGUE_FRESH_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT key, id FROM metrics_metric")
            ids = dict(cursor.fetchall())
        _catalogue = (now, ids)
    return ids


def _idempotent_replay(*, division: Division, key: str, body_sha256: str) -> IngestBatch | None:
    earlier = IngestBatch.objects.filter(division=division, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.body_sha256 != body_sha256:
        raise Unprocessable(f"Idempotency-Key {key!r} was already used with a different body (batch {earlier.pk}).")
    return earlier


def _points_parse(body: bytes, *, known_metrics: set[str]) -> ParsedPoints:
    """The body's points, each checked against the catalogue and against points_window."""
    now_us, min_us, max_us = points_window()
    return parse_native(body, known_metrics=known_metrics, now_us=now_us, min_us=min_us, max_us=max_us)


def points_window() -> tuple[int, int, int]:
    """(now, earliest, latest) in microseconds since the epoch: the times a point may carry, from the retention
    period ago to a few minutes ahead (clocks drift). Every source checks its points against it."""
    now_us = (timezone.now() - EPOCH) // _MICROSECOND
    retention = timedelta(days=settings.METRICS_RETENTION_DAYS)
    return now_us, now_us - retention // _MICROSECOND, now_us + FUTURE_TOLERANCE // _MICROSECOND


def _agents_resolve(parsed: ParsedPoints, *, division: Division) -> dict[str, int]:
    """The agent id of each handle in the batch, once the batch is known to be valid as a whole.

    Unknown handles join the parser's errors, and any error refuses the batch (InvalidInput, every error listed in
    request order). Agents of another division refuse it too (Forbidden, naming them): a token acts for its own.
    """
    errors = parsed.errors
    handles = {h for h in parsed.handles if h is not None}
    agents = agents_lookup(handles)
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
    return {handle: pk for handle, (pk, _) in agents.items()}


def agents_lookup(handles: set[str]) -> dict[str, tuple[int, int]]:
    """(agent id, division id) of each of these handles that exists."""
    if not handles:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT handle, id, division_id FROM agents_agent WHERE handle = ANY(%s)", [list(handles)])
        return {handle: (pk, division_id) for handle, pk, division_id in cursor.fetchall()}


def _quota_check(*, division: Division, points: int) -> None:
    """Quotas on accepted data, counted per division and minute in Redis by every web process
    (metrics.services.quotas); from the durable batch table while Redis does not answer."""
    now = timezone.now()
    usage, counted = quota_take(division_id=division.pk, points=points, now=now)
    try:
        if usage.batches_minute >= settings.METRICS_QUOTA_BATCHES_PER_MINUTE:
            raise TooManyRequests(
                f"{division.name} is over its quota of {settings.METRICS_QUOTA_BATCHES_PER_MINUTE} batches a minute.",
                retry_after=60,
            )
        if usage.points_hour + points > settings.METRICS_QUOTA_POINTS_PER_HOUR:
            raise TooManyRequests(
                f"{division.name} is over its quota of {settings.METRICS_QUOTA_POINTS_PER_HOUR} points an hour.",
                retry_after=300,
            )
    except TooManyRequests:
        if counted:
            quota_give_back(division_id=division.pk, points=points, now=now)
        raise


def _series_build(
    parsed: ParsedPoints, *, division: Division, metric_ids: dict[str, int], agent_ids: dict[str, int]
) -> tuple[list[tuple], list[int]]:
    """The batch's distinct series as rows (metric_id, agent_id, division_id, tags, key), and for each point the
    position of its series among them.

    Series identity is metric|agent|division|canonical tags, built once per distinct combination.
    """
    series_index: dict[tuple, int] = {}
    series_rows: list[tuple] = []
    row_series: list[int] = []
    append_series = row_series.append
    for metric, handle, tags in zip(parsed.metrics, parsed.handles, parsed.tags, strict=True):
        combo = (metric, handle, tags)
        idx = series_index.get(combo)
        if idx is None:
            idx = series_index[combo] = len(series_rows)
            agent_id = agent_ids[handle] if handle else None
            metric_id = metric_ids[metric]
            key = f"{metric_id}|{agent_id or ''}|{division.pk}|{tags}"
            series_rows.append((metric_id, agent_id, division.pk, tags or "{}", key))
        append_series(idx)
    return series_rows, row_series


def batch_store(
    *,
    division: Division,
    token: DivisionToken | None,
    series_ids: np.ndarray,
    ts_us: list[int],
    values: list[float],
    body_sha256: str,
    idempotency_key: str | None = None,
    enqueue: bool = True,
    source: str = "json",
) -> IngestBatch:
    """Store a batch with its payload, one point per (series_ids[i], ts_us[i], values[i]); enqueue once it commits.
    Raises IntegrityError when a batch with the same Idempotency-Key committed first. Call it inside an outer
    transaction to store the batch together with other writes (metrics.services.intake does)."""
    payload = payload_encode(series_ids=series_ids, ts_us=ts_us, values=values)
    # One INSERT, committed on its own outside an outer transaction (a round trip and a WAL flush fewer than a
    # transaction around it). The batch is marked enqueued in it, before its message is published: see
    # batch_enqueue for why the mark must come first.
    batch = IngestBatch.objects.create(
        division=division,
        token=token,
        source=source,
        point_count=len(ts_us),
        series_count=len(np.unique(series_ids)),
        idempotency_key=idempotency_key or None,
        body_sha256=body_sha256,
        payload=payload,
        ts_min=EPOCH + timedelta(microseconds=min(ts_us)),
        ts_max=EPOCH + timedelta(microseconds=max(ts_us)),
        enqueued_at=timezone.now() if enqueue else None,
    )
    if enqueue:
        transaction.on_commit(lambda: _publish(batch.pk))
    return batch


def batch_enqueue(*, batch_id: int) -> bool:
    """Hand the batch to Celery; a broker outage is logged, not raised: the sweeper enqueues it later.

    enqueued_at is written before the message is published: written after, its UPDATE could hold the batch row
    at the very moment a fast worker takes it with SKIP LOCKED, and that worker would leave the batch to the
    sweeper. When publishing fails, the mark is taken back so the sweeper sees a batch the broker never got.
    """
    _enqueued_mark(batch_id, timezone.now())
    return _publish(batch_id)


def _publish(batch_id: int) -> bool:
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
