"""Celery tasks of the agents app: thin wrappers over agents.services."""

from celery import shared_task

from agents.services.heartbeats import liveness_check


@shared_task(name="agents.liveness_check")
def liveness_check_task() -> dict[str, list[str]]:
    """Degrade agents whose heartbeat is overdue, recover those that reported again (beat, every 30 s). Safe twice,
    late or at once: each agent is re-checked under its row lock and the lifecycle service refuses a transition its
    state no longer allows."""
    return liveness_check()
