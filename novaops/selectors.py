"""Reads of the shared core: how recently the background processes proved they are alive."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from novaops.models import Heartbeat

# The component the heartbeat task records by default: a worker ran the task that beat sent.
WORKER_COMPONENT = "celery-worker"


def heartbeat_late_after() -> timedelta:
    """Three missed beats: the heartbeat task is scheduled every `schedule` seconds (settings.CELERY_BEAT_SCHEDULE)."""
    return timedelta(seconds=3 * settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]["schedule"])


def background_status() -> dict[str, dict[str, object]]:
    """Per heartbeat component: "ok", or "late" when no heartbeat arrived for three periods (beat or every worker is
    down: beat sends the task, a worker records it), or "never seen" (one query)."""
    now = timezone.now()
    late_after = heartbeat_late_after()
    report: dict[str, dict[str, object]] = {WORKER_COMPONENT: {"status": "never seen"}}
    for heartbeat in Heartbeat.objects.order_by("component"):
        age = (now - heartbeat.seen_at).total_seconds()
        report[heartbeat.component] = {
            "status": "ok" if age <= late_after.total_seconds() else "late",
            "seen_at": heartbeat.seen_at.isoformat(),
            "age_seconds": round(age),
            "detail": heartbeat.detail,
        }
    return report
