from datetime import datetime
from typing import Any

from celery import shared_task
from celery.signals import before_task_publish
from django.utils import timezone

from novaops.models import Heartbeat
from novaops.selectors import BEAT_COMPONENT, WORKER_COMPONENT

HEARTBEAT_TASK = "novaops.tasks.worker_heartbeat"


@before_task_publish.connect
def _stamp_heartbeat_sent_at(sender: str | None = None, body: Any = None, **_: Any) -> None:
    """Beat's half of the heartbeat: the moment a heartbeat task is published goes into it as `sent_at` (beat's
    schedule entries carry fixed arguments only). Beat imports this module with every tasks module at start."""
    if sender == HEARTBEAT_TASK and isinstance(body, tuple) and len(body) >= 2 and isinstance(body[1], dict):
        body[1].setdefault("sent_at", timezone.now().isoformat())


@shared_task(name=HEARTBEAT_TASK)
def worker_heartbeat(component: str = WORKER_COMPONENT, sent_at: str | None = None) -> str:
    """Record that a worker is consuming the queue (beat enqueues it every 30 s; /readyz reports it), and when beat
    sent it (`sent_at`, stamped at publishing): the worker's row says a worker runs tasks, beat's that beat sends them.

    Idempotent: upserts on the component's unique key; running it twice only moves the worker's `seen_at` forward,
    and beat's row never moves back (a heartbeat delivered late, after a newer one, leaves it).
    """
    from celery import current_task

    hostname = (current_task.request.hostname or "") if current_task else ""
    ran_at = timezone.now()
    Heartbeat.objects.update_or_create(component=component, defaults={"seen_at": ran_at, "detail": hostname[:200]})
    if sent_at:
        _beat_seen(datetime.fromisoformat(sent_at), ran_at=ran_at, hostname=hostname)
    return component


def _beat_seen(sent: datetime, *, ran_at: datetime, hostname: str) -> None:
    detail = f"run by {hostname or 'a worker'} {max((ran_at - sent).total_seconds(), 0):.1f} s after it was sent"[:200]
    if not Heartbeat.objects.filter(component=BEAT_COMPONENT, seen_at__lt=sent).update(seen_at=sent, detail=detail):
        Heartbeat.objects.get_or_create(component=BEAT_COMPONENT, defaults={"seen_at": sent, "detail": detail})
