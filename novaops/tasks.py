from celery import shared_task
from django.utils import timezone

from novaops.models import Heartbeat
from novaops.selectors import WORKER_COMPONENT


@shared_task(name="novaops.tasks.worker_heartbeat")
def worker_heartbeat(component: str = WORKER_COMPONENT) -> str:
    """Record that a worker is consuming the queue (beat enqueues it every 30 s; /readyz reports it).

    Idempotent: an upsert on the component's unique key; running it twice only moves `seen_at` forward.
    """
    from celery import current_task

    hostname = (current_task.request.hostname or "") if current_task else ""
    Heartbeat.objects.update_or_create(
        component=component, defaults={"seen_at": timezone.now(), "detail": hostname[:200]}
    )
    return component
