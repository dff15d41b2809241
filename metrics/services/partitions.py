"""Daily partitions of metrics_point: created ahead (and on demand), dropped whole past the retention."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)
PARENT = "metrics_point"


def _name(day: date) -> str:
    return f"{PARENT}_{day:%Y%m%d}"


def partitions_existing() -> dict[str, date]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = %s
            """,
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    return {name: datetime.strptime(name.rsplit("_", 1)[1], "%Y%m%d").date() for name in names}


def partitions_ensure(*, start: datetime, end: datetime) -> list[str]:
    """Create the daily partitions covering [start, end] that do not exist yet; returns the ones created.

    Each CREATE runs in its own transaction so no ingest holds the parent's lock for long. Two workers creating
    the same partition at once: one wins, the other's error is ignored because the partition then exists.
    """
    existing = partitions_existing()
    created = []
    day = start.astimezone(UTC).date()
    last = end.astimezone(UTC).date()
    while day <= last:
        name = _name(day)
        if name not in existing:
            lower = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            upper = lower + timedelta(days=1)
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} FOR VALUES FROM (%s) TO (%s)",
                        [lower, upper],
                    )
                created.append(name)
            except DatabaseError as exc:
                if name not in partitions_existing():
                    raise
                logger.info("Partition %s was created concurrently (%s)", name, exc)
        day += timedelta(days=1)
    return created


def partitions_maintain(*, today: date | None = None) -> dict[str, list[str]]:
    """Beat job: partitions for the next few days exist, and those wholly past the retention are dropped."""
    today = today or timezone.now().date()
    ahead = settings.METRICS_PARTITIONS_AHEAD_DAYS
    start = datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    created = partitions_ensure(start=start, end=start + timedelta(days=ahead + 1))
    cutoff = today - timedelta(days=settings.METRICS_RETENTION_DAYS)
    dropped = []
    for name, day in sorted(partitions_existing().items(), key=lambda item: item[1]):
        # A partition holds [day, day+1); it is past retention once its end is at or before the cutoff day.
        if day + timedelta(days=1) <= cutoff:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
            dropped.append(name)
    return {"created": created, "dropped": dropped}
