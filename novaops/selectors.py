"""Reads of the shared core: how recently the background processes proved they are alive, how far behind the
primary the replica is."""

from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from novaops.db_router import REPLICA
from novaops.models import Heartbeat

# The components the heartbeat task records: a worker ran the task (when it ran it), beat sent it (when it sent it).
WORKER_COMPONENT = "celery-worker"
BEAT_COMPONENT = "celery-beat"


def heartbeat_late_after() -> timedelta:
    """Three missed beats: the heartbeat task is scheduled every `schedule` seconds (settings.CELERY_BEAT_SCHEDULE)."""
    return timedelta(seconds=3 * settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]["schedule"])


def background_status() -> dict[str, dict[str, object]]:
    """Per heartbeat component: "ok", "late" when none arrived for three periods, or "never seen" (one query).

    `celery-worker` is when a worker last ran the heartbeat task, `celery-beat` when beat last sent the heartbeat a
    worker then ran (only a worker records either). Worker ok and beat late: the worker runs heartbeats sent long ago
    (the queue is behind, its detail says by how much) or beat stopped; both late: beat is down, or every worker is.
    """
    now = timezone.now()
    late_after = heartbeat_late_after()
    report: dict[str, dict[str, object]] = {
        WORKER_COMPONENT: {"status": "never seen"},
        BEAT_COMPONENT: {"status": "never seen"},
    }
    for heartbeat in Heartbeat.objects.order_by("component"):
        age = (now - heartbeat.seen_at).total_seconds()
        report[heartbeat.component] = {
            "status": "ok" if age <= late_after.total_seconds() else "late",
            "seen_at": heartbeat.seen_at.isoformat(),
            "age_seconds": round(age),
            "detail": heartbeat.detail,
        }
    return report


# Everything received is replayed: the replica is as fresh as the primary's last commit it has seen, whatever its
# age (a primary with nothing to write sends nothing). Otherwise the lag is how old the last replayed commit is.
# NULL on a server that is not a replica.
_REPLICA_LAG_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END
"""


def replica_lag_seconds() -> float | None:
    """How many seconds the replica's data is behind the primary's (None: it is not replaying, or has replayed
    nothing yet). One query on the replica; raises the driver's OperationalError when the replica is down."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(_REPLICA_LAG_SQL)
        (lag,) = cursor.fetchone()
    return None if lag is None else max(float(lag), 0.0)
