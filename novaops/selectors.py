"""Reads of the shared core: how recently the background processes proved they are alive."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

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
