"""Celery tasks of the escalations app: thin wrappers over escalations.services."""

from celery import shared_task

from escalations.services.fleet import silent_divisions_escalate
from escalations.services.notifications import notifications_send
from escalations.services.sla import sla_sweep


@shared_task(name="escalations.sla_sweep")
def sla_sweep_task() -> int:
    """Escalate tickets past their deadlines. Safe twice, late or at once: each breach is claimed by a
    compare-and-swap on its own column (escalations.services.sla)."""
    return len(sla_sweep())


@shared_task(name="escalations.notifications_send")
def notifications_send_task(escalation_id: int) -> int:
    """Mail a ticket's unsent notifications. Safe twice: each row is claimed before its mail is sent."""
    return notifications_send(escalation_id=escalation_id)


@shared_task(name="escalations.silent_divisions")
def silent_divisions_task() -> list[int]:
    """Raise a friction escalation for each division with too many silent agents (beat, every minute). Safe twice,
    late or at once: a division's ticket is raised under its advisory lock, and only while it has no active one."""
    return silent_divisions_escalate()
