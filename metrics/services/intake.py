"""Points from the protocol front doors (OTLP, Prometheus remote write, Pushgateway) into the durable batch.

A source (metrics.sources.*) decodes a body into Samples; samples_accept applies what the native path applies —
agents of the token's division only, the catalogue, the quotas, the division's caps — plus what the protocols need:
metric names not in the catalogue are registered as discovered metrics, a counter's running total becomes its
increment, and a body sent again is stored once (these clients send no Idempotency-Key: the body's digest is one).
The batch then goes through the same outbox, worker and rollups as a native one (metrics.services.batches).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents.models import Division, DivisionToken
from metrics.models import IngestBatch, Metric
from metrics.services.batches import (
    EPOCH,
    _quota_check,
    agents_lookup,
    batch_store,
    catalogue_ids,
)
from metrics.services.series import series_resolve
from metrics.sources.common import Reason, Rejection, Samples
from novaops.errors import Forbidden, InvalidInput, Unprocessable

# Advisory-lock namespace of the lock that makes "is this body already stored? store it" one step per digest.
REPLAY_LOCK_NAMESPACE = 7_201_019
NAMES_SHOWN = 10


@dataclass(frozen=True)
class Intake:
    batch: IngestBatch | None  # None when no point was left to store
    replayed: bool  # the same body was stored within the replay window: this is that batch
    rejections: list[Rejection]

    @property
    def rejected(self) -> int:
        return sum(rejection.count for rejection in self.rejections)


def samples_accept(
    *, division: Division, token: DivisionToken | None, samples: Samples, source: str, digest: str, partial: bool
) -> Intake:
    """Store what can be stored of decoded samples as one queued batch.

    partial=True (OTLP, remote write) stores the acceptable points and returns the rest as rejections;
    partial=False (Pushgateway, a push is all or nothing) refuses the whole body at the first problem: InvalidInput
    (400) for invalid points and unknown agents, Forbidden (403, naming them) for agents of another division,
    Unprocessable (422) for points past a cap. Both raise TooManyRequests (429) over a quota.
    """
    since = timezone.now() - timedelta(seconds=settings.METRICS_REPLAY_WINDOW_SECONDS)
    earlier = _stored_copy(division=division, source=source, digest=digest, since=since)
    if earlier is not None:
        return Intake(batch=earlier, replayed=True, rejections=[])
    rejections = list(samples.rejections)
    keep = list(range(len(samples)))

    agent_ids, keep = _agents_check(samples, keep, division=division, rejections=rejections)
    if not partial:
        _refuse_any(rejections)
    metric_ids = catalogue_ids()
    unknown = [key for key in dict.fromkeys(samples.keys[i] for i in keep) if key not in metric_ids]
    if unknown:  # this process may have read the catalogue before another registered them
        metric_ids = catalogue_ids(fresh=True)
        unknown = [key for key in unknown if key not in metric_ids]
    if unknown:
        metric_ids = metric_ids | _metrics_discover(unknown, samples=samples, division=division, source=source)
        keep = _drop(keep, samples, rejections, lambda i: samples.keys[i] not in metric_ids, Reason.CAP, _cap_names)

    rows, point_rows = _series_rows(samples, keep, division=division, metric_ids=metric_ids, agent_ids=agent_ids)
    resolved = series_resolve(rows, division=division)
    if resolved.refused:
        keep, point_rows = _series_capped(keep, point_rows, rows, resolved, rejections)
    if not partial:
        _refuse_any(rejections)
    if not keep:
        return Intake(batch=None, replayed=False, rejections=rejections)
    _quota_check(division=division, points=len(keep))
    # Refused rows get no id; no kept point refers to them.
    row_ids = np.array([resolved.ids.get(row[4], 0) for row in rows], dtype=np.int64)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [REPLAY_LOCK_NAMESPACE, digest])
        earlier = _stored_copy(division=division, source=source, digest=digest, since=since)
        if earlier is not None:  # the same body, sent twice at once, committed first
            return Intake(batch=earlier, replayed=True, rejections=[])
        batch = _store(samples, keep, row_ids[np.array(point_rows, dtype=np.intp)], division, token, source, digest)
    return Intake(batch=batch, replayed=False, rejections=rejections)


def _series_capped(keep, point_rows, rows, resolved, rejections) -> tuple[list[int], list[int]]:
    """Drop the points of the series refused by a cap, into `rejections`."""
    refused_rows = {idx for idx, row in enumerate(rows) if row[4] in resolved.refused}
    row_of = dict(zip(keep, point_rows, strict=True))
    kept = [i for i in keep if row_of[i] not in refused_rows]
    rejections.append(Rejection(Reason.CAP, len(keep) - len(kept), f"{resolved.message} Points of new series refused."))
    return kept, [row_of[i] for i in kept]


def _store(samples, keep, series_ids, division, token, source, digest) -> IngestBatch | None:
    """The kept points as a batch, running totals turned into increments first (in the caller's transaction, which
    holds their cursors); None when every point was a running total already counted."""
    ts_us = [samples.ts_us[i] for i in keep]
    values = [samples.values[i] for i in keep]
    cumulative = np.array([samples.cumulative[i] for i in keep], dtype=bool)
    if cumulative.any():
        series_ids, ts_us, values = _increments(
            series_ids, ts_us, values, cumulative, [samples.start_us[i] for i in keep]
        )
    if not ts_us:
        return None
    return batch_store(
        division=division,
        token=token,
        series_ids=series_ids,
        ts_us=ts_us,
        values=values,
        body_sha256=digest,
        source=source,
    )


def _stored_copy(*, division: Division, source: str, digest: str, since) -> IngestBatch | None:
    return (
        IngestBatch.objects.filter(division=division, source=source, body_sha256=digest, created_at__gte=since)
        .defer("payload")
        .first()
    )


def _agents_check(
    samples: Samples, keep: list[int], *, division: Division, rejections: list[Rejection]
) -> tuple[dict[str, int], list[int]]:
    """The agent id of each handle of the token's division; points of unknown and foreign agents are dropped into
    `rejections`, the agents named."""
    agents = agents_lookup({samples.handles[i] for i in keep} - {None})
    unknown = Counter(h for i in keep if (h := samples.handles[i]) is not None and h not in agents)
    foreign = Counter(h for i in keep if (h := samples.handles[i]) in agents and agents[h][1] != division.pk)
    if unknown:
        rejections.append(
            Rejection(Reason.UNKNOWN_AGENT, sum(unknown.values()), f"Unknown agent(s): {_names(unknown)}.")
        )
    if foreign:
        rejections.append(
            Rejection(
                Reason.FOREIGN_AGENT,
                sum(foreign.values()),
                f"This token acts for {division.name}; these agents belong to other divisions: {_names(foreign)}.",
            )
        )
    if unknown or foreign:
        keep = [i for i in keep if samples.handles[i] not in unknown and samples.handles[i] not in foreign]
    own = {handle: pk for handle, (pk, division_id) in agents.items() if division_id == division.pk}
    return own, keep


def _metrics_discover(unknown: list[str], *, samples: Samples, division: Division, source: str) -> dict[str, int]:
    """Register metric keys the catalogue lacks, as the protocol describes them, for leads to name and describe.

    At most as many as the division has room for under its cap on metric names (a division over it must not fill
    the catalogue either); another division may have registered some a moment ago, which the insert ignores."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT metric_id) FROM metrics_series WHERE division_id = %s", [division.pk])
        room = settings.METRICS_DIVISION_MAX_METRICS - cursor.fetchone()[0]
    taken = unknown[: max(room, 0)]
    if taken:
        Metric.objects.bulk_create(
            [
                Metric(
                    key=key,
                    name=(info := samples.metrics[key]).name[:120],
                    unit=info.unit[:30],
                    kind=info.kind,
                    description=info.description,
                    discovered_from=source,
                    needs_review=True,
                )
                for key in taken
            ],
            ignore_conflicts=True,
        )
    return dict(Metric.objects.filter(key__in=taken).values_list("key", "id"))


def _cap_names(samples: Samples, dropped: list[int]) -> str:
    names = Counter(samples.keys[i] for i in dropped)
    return (
        f"The division is at its cap of {settings.METRICS_DIVISION_MAX_METRICS} metric names; "
        f"points of new metrics refused: {_names(names)}."
    )


def _drop(keep, samples, rejections, refuse, reason, describe) -> list[int]:
    dropped = [i for i in keep if refuse(i)]
    if not dropped:
        return keep
    rejections.append(Rejection(reason, len(dropped), describe(samples, dropped)))
    return [i for i in keep if not refuse(i)]


def _series_rows(
    samples: Samples, keep: list[int], *, division: Division, metric_ids: dict[str, int], agent_ids: dict[str, int]
) -> tuple[list[tuple], list[int]]:
    """The distinct series of the kept points as (metric_id, agent_id, division_id, tags, key), and each kept
    point's row among them (series identity as in the native path: metric|agent|division|canonical tags)."""
    index: dict[tuple, int] = {}
    rows: list[tuple] = []
    point_rows: list[int] = []
    for i in keep:
        combo = (samples.keys[i], samples.handles[i], samples.tags[i])
        idx = index.get(combo)
        if idx is None:
            idx = index[combo] = len(rows)
            handle, tags = combo[1], combo[2]
            agent_id = agent_ids[handle] if handle else None
            metric_id = metric_ids[combo[0]]
            key = f"{metric_id}|{agent_id or ''}|{division.pk}|{tags}"
            rows.append((metric_id, agent_id, division.pk, tags or "{}", key))
        point_rows.append(idx)
    return rows, point_rows


def _increments(
    series_ids: np.ndarray, ts_us: list[int], values: list[float], cumulative: np.ndarray, start_us: list[int]
) -> tuple[np.ndarray, list[int], list[float]]:
    """Replace each running total by its increment since the series' previous total (its CumulativeCursor, locked
    until the batch commits, so two batches of one counter take turns). A total at or before the cursor's time was
    counted already (a resent body) and is dropped; one below the previous total, or with a later start time, is a
    restart and counts from zero, as is a counter's first total."""
    order = sorted(range(len(ts_us)), key=lambda i: (series_ids[i], ts_us[i]))
    counters = sorted({int(series_ids[i]) for i in order if cumulative[i]})
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metrics_cumulativecursor (series_id, ts, value, start)
            SELECT unnest(%s::bigint[]), NULL, 0, NULL ON CONFLICT DO NOTHING
            """,
            [counters],
        )
        cursor.execute(
            "SELECT series_id, ts, value, start FROM metrics_cumulativecursor WHERE series_id = ANY(%s)"
            " ORDER BY series_id FOR UPDATE",
            [counters],
        )
        cursors = {sid: [_us(ts), value, _us(start)] for sid, ts, value, start in cursor.fetchall()}
        kept, moved = [], set()
        for i in order:
            if not cumulative[i]:
                kept.append((series_ids[i], ts_us[i], values[i]))
                continue
            state = cursors[int(series_ids[i])]
            last_ts, last_value, last_start = state
            if ts_us[i] <= last_ts:  # last_ts is 0 for a counter's first total
                continue
            restarted = values[i] < last_value or start_us[i] > last_start > 0
            kept.append((series_ids[i], ts_us[i], values[i] if restarted else values[i] - last_value))
            state[:] = [ts_us[i], values[i], start_us[i] or last_start]
            moved.add(int(series_ids[i]))
        if moved:
            sids, tss, vals, starts = zip(*((sid, *cursors[sid]) for sid in sorted(moved)), strict=True)
            cursor.execute(
                """
                UPDATE metrics_cumulativecursor c SET ts = u.ts, value = u.value, start = u.start
                FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::timestamptz[]) AS u(s, ts, value, start)
                WHERE c.series_id = u.s
                """,
                [list(sids), [_moment(t) for t in tss], list(vals), [_moment(s) if s else None for s in starts]],
            )
    if not kept:
        return np.array([], dtype=np.int64), [], []
    sids, tss, vals = zip(*kept, strict=True)
    return np.array(sids, dtype=np.int64), list(tss), list(vals)


def _us(moment: datetime | None) -> int:
    """Microseconds since the epoch; 0 for a cursor that never moved or a start nobody sent (before every point
    NovaOps keeps)."""
    return 0 if moment is None else (moment - EPOCH) // timedelta(microseconds=1)


def _moment(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _refuse_any(rejections: list[Rejection]) -> None:
    """All or nothing: raise for the first kind of problem, as the native path orders them (400 before 403)."""
    if not rejections:
        return
    by_reason: dict[str, list[str]] = {}
    for rejection in rejections:
        by_reason.setdefault(rejection.reason, []).append(rejection.message)
    invalid = by_reason.get(Reason.INVALID, []) + by_reason.get(Reason.UNKNOWN_AGENT, [])
    if invalid:
        raise InvalidInput(f"{' '.join(invalid)} Nothing was stored.")
    if Reason.FOREIGN_AGENT in by_reason:
        raise Forbidden(f"{' '.join(by_reason[Reason.FOREIGN_AGENT])} Nothing was stored.")
    raise Unprocessable(f"{' '.join(by_reason[Reason.CAP])} Nothing was stored.")


def _names(counts: Counter) -> str:
    names = sorted(counts)
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")
