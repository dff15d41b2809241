"""Temporal connections: manage them and their mappings, and poll them into NovaOps metrics.

The poll counts fixed one-minute intervals aligned to the minute, from the connection's `last_polled_until` up to
the last interval that has settled (visibility lags the history a little), at most MAX_INTERVALS_PER_RUN at a time,
so an outage is caught up over the next runs without a gap. Each interval's values are points at the interval's
start, and points are upserted on (series, ts): counting an interval again overwrites it, it never adds. A cluster
that cannot be read records its error on its connection, keeps its `last_polled_until` (the same intervals are
tried next time) and does not stop the others.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Division
from metrics.models import TemporalConnection, TemporalMapping
from metrics.services.batches import batch_accept
from metrics.sources.temporal import (
    BACKLOG_KEY,
    Scope,
    Target,
    TemporalSourceError,
    interval_counts,
    temporal_read,
)
from novaops.errors import Conflict, InvalidInput

logger = logging.getLogger(__name__)

INTERVAL = timedelta(minutes=1)
SETTLE = timedelta(seconds=10)
MAX_INTERVALS_PER_RUN = 60
FIRST_LOOKBACK = timedelta(hours=1)  # what a new connection counts back on its first poll
READ_TIMEOUT = timedelta(seconds=45)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PollResult:
    connection: str
    intervals: int = 0
    points: int = 0
    error: str = ""


def interval_floor(moment: datetime) -> datetime:
    return moment - (moment - _EPOCH) % INTERVAL


def poll_window(*, connection: TemporalConnection, now: datetime) -> tuple[datetime, datetime] | None:
    """[start, end) of the intervals this poll counts, or None when none has settled since the last poll."""
    limit = interval_floor(now - SETTLE)
    start = interval_floor(connection.last_polled_until or limit - FIRST_LOOKBACK)
    # Points older than the retention are refused at ingest: an outage longer than that is not caught up.
    start = max(start, interval_floor(now - timedelta(days=settings.METRICS_RETENTION_DAYS) + timedelta(hours=1)))
    if start >= limit:
        return None
    return start, min(limit, start + MAX_INTERVALS_PER_RUN * INTERVAL)


def temporal_poll(*, now: datetime | None = None) -> list[PollResult]:
    """Poll every enabled connection once; never raises for one connection's failure."""
    now = now or timezone.now()
    results = []
    for connection in TemporalConnection.objects.filter(enabled=True).order_by("pk"):
        try:
            results.append(temporal_connection_poll(connection=connection, now=now))
        except Exception as exc:  # one cluster's failure, whatever it is, must not stop the others
            message = _redacted(
                connection, f"{type(exc).__name__}: {exc}" if not isinstance(exc, TemporalSourceError) else str(exc)
            )
            logger.warning("Temporal connection %s not polled: %s", connection.name, message)
            TemporalConnection.objects.filter(pk=connection.pk).update(
                last_error=message[:2000], last_error_at=timezone.now()
            )
            results.append(PollResult(connection=connection.name, error=message))
    return results


def temporal_connection_poll(*, connection: TemporalConnection, now: datetime) -> PollResult:
    """Count the connection's settled intervals and land them as points; raises on any failure (the caller
    records it)."""
    window = poll_window(connection=connection, now=now)
    mappings = list(connection.mappings.select_related("division", "agent"))
    if window is None or not mappings:
        return PollResult(connection=connection.name)
    start, end = window
    scopes = {
        mapping.pk: Scope(task_queue=mapping.task_queue, workflow_type=mapping.workflow_type) for mapping in mappings
    }
    readings = temporal_read(_target(connection), set(scopes.values()), start=start, end=end, timeout=READ_TIMEOUT)
    points_by_division: dict[int, list[dict]] = defaultdict(list)
    divisions: dict[int, Division] = {}
    for mapping in mappings:
        divisions[mapping.division_id] = mapping.division
        reading = readings[scopes[mapping.pk]]
        points_by_division[mapping.division_id] += _mapping_points(mapping, reading, start=start, end=end)
    with transaction.atomic():
        for division_id, points in points_by_division.items():
            if points:
                body = json.dumps({"points": points}).encode()
                batch_accept(division=divisions[division_id], token=None, body=body)
        # Two runs at once count the same window and write the same points; neither moves the mark back.
        TemporalConnection.objects.filter(pk=connection.pk).filter(
            Q(last_polled_until__isnull=True) | Q(last_polled_until__lt=end)
        ).update(last_polled_until=end, last_error="")
    return PollResult(
        connection=connection.name,
        intervals=(end - start) // INTERVAL,
        points=sum(len(points) for points in points_by_division.values()),
    )


def _mapping_points(mapping: TemporalMapping, reading, *, start: datetime, end: datetime) -> list[dict]:
    """The mapping's points: per interval and workflow type every count, durations where something closed, and
    the task queue's backlog at the window's last interval (the server only knows it now)."""
    agent = {"agent": mapping.agent.handle} if mapping.agent_id else {}
    counts = interval_counts(
        reading.executions,
        start=start,
        end=end,
        step=INTERVAL,
        types=[mapping.workflow_type] if mapping.workflow_type else [],
    )
    points = [
        {"metric": key, "ts": bucket.isoformat(), "value": value, "tags": {"workflow_type": workflow_type}, **agent}
        for (bucket, workflow_type), values in counts.items()
        for key, value in values.items()
    ]
    if reading.backlog is not None:
        last = (end - INTERVAL).isoformat()
        points.append(
            {
                "metric": BACKLOG_KEY,
                "ts": last,
                "value": reading.backlog,
                "tags": {"task_queue": mapping.task_queue},
                **agent,
            }
        )
    return points


def _target(connection: TemporalConnection) -> Target:
    return Target(
        address=connection.address,
        namespace=connection.namespace,
        tls_client_cert=connection.tls_client_cert,
        tls_client_key=connection.tls_client_key,
        api_key=connection.api_key,
    )


def _redacted(connection: TemporalConnection, message: str) -> str:
    """The message with any secret of the connection blotted out, should a library ever echo one."""
    for secret in (connection.api_key, connection.tls_client_key):
        if secret:
            message = message.replace(secret, "[redacted]")
    return message


# --- managing connections and mappings -----------------------------------------------------------------------


def temporal_connection_save(*, connection: TemporalConnection | None = None, **fields) -> TemporalConnection:
    """Create a connection, or change one. A secret field left empty keeps the stored secret (the forms never show
    it back, so an empty field means "unchanged"); `clear_secrets=True` removes them all."""
    clear = fields.pop("clear_secrets", False)
    connection = connection or TemporalConnection()
    for name, value in fields.items():
        if name in TemporalConnection.SECRET_FIELDS and not value:
            continue
        setattr(connection, name, value)
    if clear:
        for name in TemporalConnection.SECRET_FIELDS:
            setattr(connection, name, "")
    if bool(connection.tls_client_cert) != bool(connection.tls_client_key):
        raise InvalidInput("A TLS client certificate needs its private key, and the key its certificate.")
    connection.full_clean()
    connection.save()
    return connection


def temporal_mapping_add(
    *, connection: TemporalConnection, division: Division, task_queue: str = "", workflow_type: str = "", agent=None
) -> TemporalMapping:
    if not task_queue and not workflow_type:
        raise InvalidInput("Name a task queue, a workflow type or both.")
    if agent is not None and agent.division_id != division.pk:
        raise InvalidInput(f"{agent.handle} is not an agent of {division.name}.")
    if TemporalMapping.objects.filter(
        connection=connection, task_queue=task_queue, workflow_type=workflow_type
    ).exists():
        raise Conflict("This task queue and workflow type are already mapped on this connection.")
    return TemporalMapping.objects.create(
        connection=connection, division=division, task_queue=task_queue, workflow_type=workflow_type, agent=agent
    )


def temporal_mapping_remove(*, mapping: TemporalMapping) -> None:
    mapping.delete()
